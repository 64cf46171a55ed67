import type { AdminService } from './service.js';
import type { ParkingService } from '../parking/service.js';
import { announcementSchema, emptySchema, setAvailabilityEventSchema } from '../../contract/contract.js';
import type { IoSocket } from '../../platform/socket/types.js';
import { on, type HandlerContext } from '../../platform/socket/handle.js';

/** Admin actions over the socket; the services check the role (and RLS checks it again). */
export function createAdminHandlers(deps: { admin: AdminService; parking: ParkingService }) {
  return (socket: IoSocket, ctx: HandlerContext): void => {
    on(socket, ctx, 'get_live_stats', emptySchema, 'live_stats', () => deps.admin.liveStats(socket.data.principal));

    on(socket, ctx, 'send_announcement', announcementSchema, 'announcement_sent', (input) =>
      deps.admin.announce(socket.data.principal, input),
    );

    on(socket, ctx, 'set_parking_availability', setAvailabilityEventSchema, null, ({ parking_lot_id, ...input }) =>
      deps.parking.setAvailability(socket.data.principal, parking_lot_id, input),
    );
  };
}

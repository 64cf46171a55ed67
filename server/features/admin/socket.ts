import { announcementSchema, emptySchema } from '../../contract/index.js';
import { on, type SocketFeature } from '../../platform/socket/handle.js';
import type { AdminService } from './service.js';

/** Admin actions over the socket; the service checks the role (and RLS checks it again). */
export function adminSocket(admin: AdminService): SocketFeature {
  return (socket, ctx) => {
    on(socket, ctx, 'get_live_stats', emptySchema, () => admin.liveStats(socket.data.principal));
    on(socket, ctx, 'send_announcement', announcementSchema, (input) => admin.announce(socket.data.principal, input));
  };
}

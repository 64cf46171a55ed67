import type { ParkingService } from './service.js';
import { availabilityEventSchema } from '../../contract/contract.js';
import type { IoSocket } from '../../platform/socket/types.js';
import { on, type HandlerContext } from '../../platform/socket/handle.js';

export function createParkingHandlers(deps: { parking: ParkingService }) {
  return (socket: IoSocket, ctx: HandlerContext): void => {
    on(socket, ctx, 'get_parking_availability', availabilityEventSchema, 'parking_availability', async (input) => {
      const lots = await deps.parking.availability(socket.data.principal, input.parking_lot_id);
      return { lots, timestamp: new Date().toISOString() };
    });
  };
}

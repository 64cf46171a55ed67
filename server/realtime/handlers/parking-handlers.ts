import type { ParkingService } from '../../parking/parking-service.js';
import { availabilityQuerySchema, emptySchema } from '../contract.js';
import type { IoSocket } from '../types.js';
import { on, type HandlerContext } from '../validate.js';

export function createParkingHandlers(deps: { parking: ParkingService }) {
  return (socket: IoSocket, ctx: HandlerContext): void => {
    on(socket, ctx, 'get_parking_availability', availabilityQuerySchema.or(emptySchema), 'parking_availability', async (input) => {
      const lotId = 'parking_lot_id' in input ? input.parking_lot_id : undefined;
      const lots = await deps.parking.availability(socket.data.principal, lotId);
      return { lots, timestamp: new Date().toISOString() };
    });
  };
}

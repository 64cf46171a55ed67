import { availabilityEventSchema, setAvailabilityEventSchema } from '../../contract/index.js';
import { handler, type SocketFeature } from '../../platform/socket/handle.js';
import type { ParkingService } from './service.js';

/** Availability over the socket: anyone reads it; admins change it (the SQL function checks the role too). */
export function parkingSocket(parking: ParkingService): SocketFeature {
  return {
    events: [
      handler('get_parking_availability', availabilityEventSchema, (socket, input) => parking.availability(socket.data.principal, input.parking_lot_id)),
      handler('set_parking_availability', setAvailabilityEventSchema, (socket, { parking_lot_id, ...input }) =>
        parking.setAvailability(socket.data.principal, parking_lot_id, input),
      ),
    ],
  };
}

import { bookingRefSchema, cancelBookingSchema, createBookingSchema } from '../../contract/index.js';
import { handler, type SocketFeature } from '../../platform/socket/handle.js';
import type { BookingService } from './service.js';

/** Booking events: the same service as the REST routes, so both behave identically. */
export function bookingSocket(bookings: BookingService): SocketFeature {
  return {
    events: [
      handler('create_booking', createBookingSchema, (socket, input) => bookings.create(socket.data.principal, input)),
      handler('cancel_booking', cancelBookingSchema, async (socket, { booking_id, reason }) => ({
        booking: await bookings.cancel(socket.data.principal, booking_id, reason),
      })),
      handler('get_booking_status', bookingRefSchema, async (socket, { booking_id }) => ({ booking: await bookings.get(socket.data.principal, booking_id) })),
    ],
  };
}

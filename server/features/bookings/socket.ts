import { bookingRefSchema, cancelBookingSchema, createBookingSchema } from '../../contract/index.js';
import { on, type SocketFeature } from '../../platform/socket/handle.js';
import type { BookingService } from './service.js';

/** Booking events: the same service as the REST routes, so both behave identically. */
export function bookingSocket(bookings: BookingService): SocketFeature {
  return (socket, ctx) => {
    const caller = () => socket.data.principal;
    on(socket, ctx, 'create_booking', createBookingSchema, (input) => bookings.create(caller(), input));
    on(socket, ctx, 'cancel_booking', cancelBookingSchema, async ({ booking_id, reason }) => ({
      booking: await bookings.cancel(caller(), booking_id, reason),
    }));
    on(socket, ctx, 'get_booking_status', bookingRefSchema, async ({ booking_id }) => ({ booking: await bookings.get(caller(), booking_id) }));
  };
}

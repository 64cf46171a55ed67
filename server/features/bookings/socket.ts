import type { BookingService } from './service.js';
import type { RateLimits } from '../../platform/limits/rate-limits.js';
import { toCreateCommand } from './input.js';
import { bookingRefSchema, cancelBookingSchema, createBookingSchema } from '../../contract/contract.js';
import type { IoSocket } from '../../platform/socket/types.js';
import { on, type HandlerContext } from '../../platform/socket/handle.js';

/** Booking events; the same service as the REST routes, so both behave identically. */
export function createBookingHandlers(deps: { bookings: BookingService; limits: RateLimits }) {
  return (socket: IoSocket, ctx: HandlerContext): void => {
    on(socket, ctx, 'create_booking', createBookingSchema, 'booking_created', async (input) => {
      await deps.limits.consume('booking', socket.data.principal.userId);
      return deps.bookings.create(socket.data.principal, toCreateCommand(input));
    });

    on(socket, ctx, 'cancel_booking', cancelBookingSchema, 'booking_cancelled', async ({ booking_id, reason }) => ({
      booking: await deps.bookings.cancel(socket.data.principal, booking_id, reason),
    }));

    on(socket, ctx, 'get_booking_status', bookingRefSchema, 'booking_status', async ({ booking_id }) => ({
      booking: await deps.bookings.get(socket.data.principal, booking_id),
    }));
  };
}

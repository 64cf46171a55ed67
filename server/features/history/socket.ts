import { bookingRefSchema } from '../../contract/index.js';
import { on, type SocketFeature } from '../../platform/socket/handle.js';
import type { HistoryService } from './service.js';

/** `get_booking_history`: the same service as `GET /bookings/:id/history`. */
export function historySocket(history: HistoryService): SocketFeature {
  return (socket, ctx) => {
    on(socket, ctx, 'get_booking_history', bookingRefSchema, ({ booking_id }) => history.bookingHistory(socket.data.principal, booking_id));
  };
}

import { bookingRefSchema } from '../../contract/index.js';
import { handler, type SocketFeature } from '../../platform/socket/handle.js';
import type { HistoryService } from './service.js';

/** `get_booking_history`: the same service as `GET /bookings/:id/history`. */
export function historySocket(history: HistoryService): SocketFeature {
  return {
    events: [handler('get_booking_history', bookingRefSchema, (socket, { booking_id }) => history.bookingHistory(socket.data.principal, booking_id))],
  };
}

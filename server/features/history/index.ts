import type { EventDispatcher } from '../../outbox/dispatcher.js';
import type { UserCalls } from '../../platform/data/calls.js';
import { bookingHistoryRoutes, historyAdminRoutes } from './routes.js';
import { createHistoryService } from './service.js';
import { historySocket } from './socket.js';

/** History and rebuild: a booking's permanent history, past availability, and the admin rebuild. */
export function createHistoryFeature(deps: { calls: UserCalls; dispatcher: EventDispatcher }) {
  const service = createHistoryService(deps);
  return {
    service,
    socket: historySocket(service),
    bookingRoutes: bookingHistoryRoutes(service),
    adminRoutes: historyAdminRoutes(service),
  };
}

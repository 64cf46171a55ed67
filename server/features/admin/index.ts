import type { Broadcaster } from '../../outbox/broadcaster.js';
import type { UserCalls } from '../../platform/data/calls.js';
import type { Logger } from '../../platform/logger.js';
import type { IoServer } from '../../platform/socket/types.js';
import { adminRoutes } from './routes.js';
import { createAdminService } from './service.js';
import { adminSocket } from './socket.js';

/** The operations console's server side: live stats, connections, booking activity, announcements. */
export function createAdminFeature(deps: { calls: UserCalls; io: IoServer; broadcaster: Broadcaster; logger: Logger }) {
  const service = createAdminService(deps);
  return { service, socket: adminSocket(service), routes: adminRoutes(service) };
}

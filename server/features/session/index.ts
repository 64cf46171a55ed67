import type { TokenVerifier } from '../../platform/auth/jwt.js';
import type { Logger } from '../../platform/logger.js';
import type { Metrics } from '../../platform/observability/metrics.js';
import type { IoServer } from '../../platform/socket/types.js';
import { sessionRoutes } from './routes.js';
import { createSessionService } from './service.js';
import { sessionSocket } from './socket.js';

/** A connection's session: greeting and own rooms, token lifetime and refresh, "am I online?". */
export function createSessionFeature(deps: { io: IoServer; verifier: TokenVerifier; nodeId: string; logger: Logger; metrics: Metrics }) {
  const service = createSessionService(deps);
  return { service, socket: sessionSocket(deps), routes: sessionRoutes(service) };
}

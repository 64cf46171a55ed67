import proxyaddr from 'proxy-addr';
import type { Logger } from '../logger.js';
import type { Metrics } from '../observability/metrics.js';
import { admittedAs, type Trust } from './handshake-guard.js';
import type { IoSocket } from './types.js';

type Next = (err?: Error) => void;

/** A `connect_error` that is not about the token: its own message, the reason in `data`. */
class ConnectRefusal extends Error {
  constructor(
    message: string,
    readonly data: { code: string; message: string; [key: string]: unknown },
  ) {
    super(message);
  }
}

/**
 * The first Socket.IO middleware: records the client's address, and refuses (readably) a
 * connection whose handshake was over its address's `connect` budget (see handshakeGuard).
 */
export function connectionRefusal(trust: Trust, metrics: Metrics) {
  return (socket: IoSocket, next: Next): void => {
    const seen = admittedAs(socket.request);
    socket.data.ip = seen?.ip ?? proxyaddr(socket.request, trust);
    const refused = seen?.refusal;
    if (!refused) return next();
    metrics.connectionsRefused.inc({ reason: 'RATE_LIMITED' });
    next(new ConnectRefusal('Rate limited', { code: 'RATE_LIMITED', message: refused.message, retry_after_ms: refused.retryAfterMs }));
  };
}

/**
 * Sockets one user may hold on this node, checked after authentication: past the cap the
 * connection is refused with `connect_error` `TOO_MANY_CONNECTIONS`.
 *
 * Counted per node, not across the cluster: what a socket costs (memory, a share of every
 * broadcast) is the node's, and sticky load balancing spreads one user's sockets, so a user holds
 * at most the cap on each node. An exact cluster-wide count would need a Redis counter that a
 * crashed node leaves wrong, or a fetchSockets across the cluster per connection.
 */
export function userSocketCap(opts: { maxPerUser: number; metrics: Metrics; logger: Logger }) {
  const counts = new Map<string, number>();
  const release = (userId: string) => {
    const left = (counts.get(userId) ?? 1) - 1;
    if (left > 0) counts.set(userId, left);
    else counts.delete(userId);
  };
  /**
   * Between this middleware and the `connection` event a socket's transport may close, and such a
   * socket never gets a disconnect: its transport's close releases it. From `connection` on, its
   * disconnect does (`disconnected`, shared by every socket), and the close listener is removed.
   */
  const beforeConnection = new WeakMap<IoSocket, () => void>();
  function middleware(socket: IoSocket, next: Next): void {
    const userId = socket.data.principal.userId;
    const held = counts.get(userId) ?? 0;
    if (held >= opts.maxPerUser) {
      opts.metrics.connectionsRefused.inc({ reason: 'TOO_MANY_CONNECTIONS' });
      opts.logger.info({ userId, held }, 'connection refused: too many sockets for this user');
      next(
        new ConnectRefusal('Too many connections', {
          code: 'TOO_MANY_CONNECTIONS',
          message: `This user already has ${held} connections to this node (at most ${opts.maxPerUser}); close one first`,
          limit: opts.maxPerUser,
        }),
      );
      return;
    }
    counts.set(userId, held + 1);
    const onClose = () => {
      beforeConnection.delete(socket);
      release(userId);
    };
    beforeConnection.set(socket, onClose);
    socket.conn.once('close', onClose);
    next();
  }
  return {
    middleware,
    /** At `connection`: from now on the socket's disconnect releases its place. */
    connected(socket: IoSocket): void {
      const onClose = beforeConnection.get(socket);
      if (!onClose) return;
      beforeConnection.delete(socket);
      socket.conn.off('close', onClose);
    },
    disconnected(socket: IoSocket): void {
      release(socket.data.principal.userId);
    },
  };
}

import type { Server as HttpServer } from 'node:http';
import proxyaddr from 'proxy-addr';
import { Server } from 'socket.io';
import type { ActivityLog } from '../observability/activity-log.js';
import { installSocketAuth } from './auth.js';
import type { TokenVerifier } from '../auth/jwt.js';
import type { RateLimits } from '../limits/rate-limits.js';
import { RateLimitedError } from '../limits/rate-limits.js';
import type { Logger } from '../logger.js';
import type { Metrics } from '../observability/metrics.js';
import type { IoServer, IoSocket } from './types.js';
import { answerUnknownEvents, type HandlerContext, type SocketFeature } from './handle.js';
import { batchWebSocketWrites } from './ws-write-batching.js';

export interface IoOptions {
  verifier: TokenVerifier;
  logger: Logger;
  activity: ActivityLog;
  nodeId: string;
  corsOrigins: string[] | '*';
  trustProxy: string;
  limits: RateLimits;
  metrics: Metrics;
  maxPayloadBytes?: number;
}

/**
 * The client's address as Express sees it: behind the configured proxies, from X-Forwarded-For.
 * Without this every client behind a load balancer would share the balancer's address.
 */
function clientAddress(socket: IoSocket, trust: (addr: string, i: number) => boolean): string {
  return proxyaddr(socket.request, trust);
}

/** Connection attempts per IP, before any token work: a reconnect storm from one place is slowed. */
function connectionLimit(limits: RateLimits, trust: (addr: string, i: number) => boolean) {
  return (socket: IoSocket, next: (err?: Error) => void): void => {
    const ip = clientAddress(socket, trust);
    socket.data.ip = ip;
    limits.consume('connect', ip).then(
      () => next(),
      (err: unknown) => {
        const e = new Error(err instanceof RateLimitedError ? 'Rate limited' : 'Connection refused') as Error & { data?: unknown };
        e.data = err instanceof RateLimitedError ? { code: 'RATE_LIMITED', message: err.message, retry_after_ms: err.retryAfterMs } : { code: 'INTERNAL_ERROR' };
        next(e);
      },
    );
  };
}

export function createIo(httpServer: HttpServer, opts: IoOptions): IoServer {
  const io: IoServer = new Server(httpServer, {
    cors: { origin: opts.corsOrigins === '*' ? true : opts.corsOrigins },
    maxHttpBufferSize: opts.maxPayloadBytes ?? 64 * 1024,
    pingInterval: 25_000,
    pingTimeout: 20_000,
  });
  io.use(connectionLimit(opts.limits, proxyaddr.compile(opts.trustProxy.split(',').map((s) => s.trim()))));
  installSocketAuth(io, { verifier: opts.verifier, nodeId: opts.nodeId, logger: opts.logger });
  batchWebSocketWrites(io);
  return io;
}

/** On every authenticated connection: each feature's handlers, then the answer to unknown events. */
export function handleConnections(io: IoServer, opts: Pick<IoOptions, 'logger' | 'activity' | 'limits' | 'metrics'>, features: SocketFeature[]): void {
  io.on('connection', (socket) => {
    const logger = opts.logger.child({ socketId: socket.id, userId: socket.data.principal.userId });
    const ctx: HandlerContext = { logger, activity: opts.activity, limits: opts.limits, metrics: opts.metrics };
    for (const feature of features) feature(socket, ctx);
    answerUnknownEvents(socket, ctx);
    opts.activity.connected(socket);
    logger.debug({ role: socket.data.principal.role, transport: socket.conn.transport.name }, 'socket connected');
    socket.on('disconnect', (reason) => {
      opts.activity.disconnected(socket, reason);
      logger.debug({ reason }, 'socket disconnected');
    });
  });
}

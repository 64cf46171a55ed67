import type { Server as HttpServer } from 'node:http';
import proxyaddr from 'proxy-addr';
import { Server } from 'socket.io';
import type { ActivityLog } from '../observability/activity-log.js';
import { installSocketAuth } from '../auth/socket-auth.js';
import type { TokenVerifier } from '../auth/jwt.js';
import type { RateLimits } from '../limits/rate-limits.js';
import { RateLimitedError } from '../limits/rate-limits.js';
import type { Logger } from '../logger.js';
import type { Metrics } from '../observability/metrics.js';
import type { ConnectedPayload } from '../../contract/contract.js';
import { rooms } from '../../contract/rooms.js';
import type { IoServer, IoSocket } from './types.js';
import { answerUnknownEvents, type HandlerContext } from './handle.js';
import { batchWebSocketWrites } from './ws-write-batching.js';
import { CLIENT_EVENTS } from '../../contract/contract.js';

export type SocketFeature = (socket: IoSocket, ctx: HandlerContext) => void;

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
export function clientAddress(socket: IoSocket, trust: (addr: string, i: number) => boolean): string {
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

/** On every authenticated connection: join the user's rooms, greet, wire each feature's handlers. */
export function handleConnections(io: IoServer, opts: IoOptions, features: SocketFeature[]): void {
  io.on('connection', (socket) => {
    const { principal } = socket.data;
    const logger = opts.logger.child({ socketId: socket.id, userId: principal.userId });
    const ctx: HandlerContext = { logger, activity: opts.activity, limits: opts.limits, metrics: opts.metrics };

    const auto = [rooms.user(principal.userId), ...(principal.role === 'admin' ? [rooms.admin] : [])];
    void socket.join(auto);
    for (const feature of features) feature(socket, ctx);
    answerUnknownEvents(socket, ctx, CLIENT_EVENTS);

    const email = typeof principal.claims.email === 'string' ? principal.claims.email : undefined;
    const greeting: ConnectedPayload = {
      message: 'Connected to spotcast',
      user: { id: principal.userId, role: principal.role, ...(email ? { email } : {}) },
      socket_id: socket.id,
      node_id: opts.nodeId,
      rooms: auto,
      token_expires_at: new Date(principal.expiresAt * 1000).toISOString(),
      timestamp: new Date().toISOString(),
    };
    socket.emit('connected', greeting);
    opts.activity.connected(socket);
    logger.debug({ role: principal.role, transport: socket.conn.transport.name }, 'socket connected');

    socket.on('disconnect', (reason) => {
      opts.activity.disconnected(socket, reason);
      logger.debug({ reason }, 'socket disconnected');
    });
  });
}

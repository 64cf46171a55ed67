import type { Server as HttpServer } from 'node:http';
import proxyaddr from 'proxy-addr';
import { Server } from 'socket.io';
import type { ActivityLog } from '../observability/activity-log.js';
import { installSocketAuth } from './auth.js';
import type { TokenVerifier } from '../auth/jwt.js';
import type { RateLimits } from '../limits/rate-limits.js';
import type { Logger } from '../logger.js';
import type { Metrics } from '../observability/metrics.js';
import type { IoServer, SocketLimits } from './types.js';
import { connectionRefusal, userSocketCap } from './connection-limits.js';
import { answerUnknownEvents, type HandlerContext, type SocketFeature } from './handle.js';
import { handshakeGuard } from './handshake-guard.js';
import { guardPendingOutput, serverCloseReason } from './pending-output.js';
import { UnauthenticatedSessions } from './unauthenticated.js';
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
  sockets: SocketLimits;
  maxPayloadBytes?: number;
}

/**
 * The Socket.IO server, with its checks in the order they cost: the address's budget before
 * Engine.IO makes a session (handshakeGuard), the node's cap on sessions waiting to authenticate
 * and their timeout (UnauthenticatedSessions); then, at the connect packet, a deferred address
 * refusal, the token, and the user's socket cap.
 */
export function createIo(httpServer: HttpServer, opts: IoOptions): IoServer {
  // The client address as Express sees it: behind the configured proxies, from X-Forwarded-For.
  const trust = proxyaddr.compile(opts.trustProxy.split(',').map((s) => s.trim()));
  const waiting = new UnauthenticatedSessions({
    max: opts.sockets.maxUnauthenticated,
    timeoutMs: opts.sockets.connectTimeoutMs,
    onEvicted: () => opts.metrics.connectionsRefused.inc({ reason: 'SERVER_BUSY' }),
  });
  const io: IoServer = new Server(httpServer, {
    cors: { origin: opts.corsOrigins === '*' ? true : opts.corsOrigins },
    maxHttpBufferSize: opts.maxPayloadBytes ?? 64 * 1024,
    pingInterval: 25_000,
    pingTimeout: 20_000,
    // A fallback only: UnauthenticatedSessions discards such sessions first (Socket.IO's orderly
    // close of a session that never polls again would leave it open for 30 s).
    connectTimeout: opts.sockets.connectTimeoutMs * 2,
    allowRequest: handshakeGuard({ limits: opts.limits, trust, metrics: opts.metrics, logger: opts.logger, makeRoom: () => waiting.makeRoom() }),
  });
  waiting.attach(io);
  io.use(connectionRefusal(trust, opts.metrics));
  installSocketAuth(io, { verifier: opts.verifier, nodeId: opts.nodeId, logger: opts.logger });
  io.use(userSocketCap({ maxPerUser: opts.sockets.maxPerUser, metrics: opts.metrics, logger: opts.logger }));
  batchWebSocketWrites(io);
  return io;
}

/** On every authenticated connection: its output bound, each feature's handlers, then the answer to unknown events. */
export function handleConnections(
  io: IoServer,
  opts: Pick<IoOptions, 'logger' | 'activity' | 'limits' | 'metrics' | 'sockets'>,
  features: SocketFeature[],
): void {
  io.on('connection', (socket) => {
    const logger = opts.logger.child({ socketId: socket.id, userId: socket.data.principal.userId });
    guardPendingOutput(socket, { maxBytes: opts.sockets.maxPendingBytes, metrics: opts.metrics, logger });
    const ctx: HandlerContext = { logger, activity: opts.activity, limits: opts.limits, metrics: opts.metrics };
    for (const feature of features) feature(socket, ctx);
    answerUnknownEvents(socket, ctx);
    opts.activity.connected(socket);
    logger.debug({ role: socket.data.principal.role, transport: socket.conn.transport.name }, 'socket connected');
    socket.on('disconnect', (reason) => {
      const why = serverCloseReason(socket) ?? reason;
      opts.activity.disconnected(socket, why);
      logger.debug({ reason: why }, 'socket disconnected');
    });
  });
}

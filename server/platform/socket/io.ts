import type { Server as HttpServer } from 'node:http';
import proxyaddr from 'proxy-addr';
import { Server } from 'socket.io';
import type { ActivityLog } from '../observability/activity-log.js';
import { installSocketAuth } from './auth.js';
import type { TokenVerifier } from '../auth/jwt.js';
import type { RateLimits } from '../limits/rate-limits.js';
import type { Logger } from '../logger.js';
import type { Metrics } from '../observability/metrics.js';
import type { IoServer, IoSocket, SocketLimits } from './types.js';
import { connectionRefusal, userSocketCap } from './connection-limits.js';
import { createDispatcher, socketFields, type HandlerContext, type SocketFeature } from './handle.js';
import { handshakeGuard } from './handshake-guard.js';
import { pendingOutputGuard, serverCloseReason } from './pending-output.js';
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
  const cap = userSocketCap({ maxPerUser: opts.sockets.maxPerUser, metrics: opts.metrics, logger: opts.logger });
  io.use(cap.middleware);
  function releaseCap(this: IoSocket): void {
    cap.disconnected(this);
  }
  io.on('connection', (socket) => {
    cap.connected(socket);
    socket.on('disconnect', releaseCap);
  });
  batchWebSocketWrites(io);
  return io;
}

type AnyListener = (this: IoSocket, event: unknown, ...args: unknown[]) => void;

/**
 * `socket.onAny(listener)`, with the listener list sized for the one listener: Socket.IO starts it
 * as `[]` and pushes, which gives every socket room for 17 (about 150 bytes). Should Socket.IO's
 * field ever differ, it is plain `onAny`.
 */
function listenToAll(socket: IoSocket, listener: AnyListener): void {
  const s = socket as unknown as { _anyListeners?: AnyListener[] };
  if (s._anyListeners === undefined) s._anyListeners = [listener];
  if (socket.listenersAny()[0] !== listener) socket.onAny(listener);
}

/**
 * On every authenticated connection: its output bound, the features' per-connection work, and one
 * dispatcher for all client events. Every listener is created once per node and called with the
 * socket as `this`: an idle socket holds references, not closures, contexts or a logger of its own.
 */
export function handleConnections(
  io: IoServer,
  opts: Pick<IoOptions, 'logger' | 'activity' | 'limits' | 'metrics' | 'sockets'>,
  features: SocketFeature[],
): void {
  const ctx: HandlerContext = { logger: opts.logger, activity: opts.activity, limits: opts.limits, metrics: opts.metrics };
  const dispatch = createDispatcher(features.flatMap((f) => f.events ?? []), ctx);
  const output = pendingOutputGuard({ maxBytes: opts.sockets.maxPendingBytes, metrics: opts.metrics, logger: opts.logger });
  function onDisconnect(this: IoSocket, reason: string): void {
    output.disconnected(this, reason);
    for (const feature of features) feature.disconnected?.(this);
    const why = serverCloseReason(this) ?? reason;
    opts.activity.disconnected(this, why);
    opts.logger.debug({ ...socketFields(this), reason: why }, 'socket disconnected');
  }
  io.on('connection', (socket) => {
    output.watch(socket);
    listenToAll(socket, dispatch);
    socket.on('disconnect', onDisconnect);
    for (const feature of features) feature.connected?.(socket, ctx);
    opts.activity.connected(socket);
    opts.logger.debug({ ...socketFields(socket), role: socket.data.principal.role, transport: socket.conn.transport.name }, 'socket connected');
  });
}

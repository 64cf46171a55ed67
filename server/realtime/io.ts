import type { Server as HttpServer } from 'node:http';
import { Server } from 'socket.io';
import type { ActivityLog } from '../activity/activity-log.js';
import { installSocketAuth } from '../auth/socket-auth.js';
import type { TokenVerifier } from '../auth/jwt.js';
import type { Logger } from '../logger.js';
import type { ConnectedPayload } from './contract.js';
import { rooms } from './rooms.js';
import type { IoServer, IoSocket } from './types.js';
import type { HandlerContext } from './validate.js';

export type SocketFeature = (socket: IoSocket, ctx: HandlerContext) => void;

export interface IoOptions {
  verifier: TokenVerifier;
  logger: Logger;
  activity: ActivityLog;
  nodeId: string;
  corsOrigins: string[] | '*';
  maxPayloadBytes?: number;
}

export function createIo(httpServer: HttpServer, opts: IoOptions): IoServer {
  const io: IoServer = new Server(httpServer, {
    cors: { origin: opts.corsOrigins === '*' ? true : opts.corsOrigins },
    maxHttpBufferSize: opts.maxPayloadBytes ?? 64 * 1024,
    pingInterval: 25_000,
    pingTimeout: 20_000,
  });
  installSocketAuth(io, { verifier: opts.verifier, nodeId: opts.nodeId, logger: opts.logger });
  return io;
}

/** On every authenticated connection: join the user's rooms, greet, wire each feature's handlers. */
export function handleConnections(io: IoServer, opts: IoOptions, features: SocketFeature[]): void {
  io.on('connection', (socket) => {
    const { principal } = socket.data;
    const logger = opts.logger.child({ socketId: socket.id, userId: principal.userId });
    const ctx: HandlerContext = { logger, activity: opts.activity };

    const auto = [rooms.user(principal.userId), ...(principal.role === 'admin' ? [rooms.admin] : [])];
    void socket.join(auto);
    for (const feature of features) feature(socket, ctx);

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

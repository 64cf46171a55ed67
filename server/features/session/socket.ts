import { adminRoomOf, refreshTokenSchema, rooms, type ConnectedPayload } from '../../contract/index.js';
import type { TokenVerifier } from '../../platform/auth/jwt.js';
import { ForbiddenError } from '../../platform/errors.js';
import type { Logger } from '../../platform/logger.js';
import type { Metrics } from '../../platform/observability/metrics.js';
import { DeadlineWheel } from '../../platform/socket/deadlines.js';
import { handler, socketFields, type SocketFeature } from '../../platform/socket/handle.js';
import type { IoSocket } from '../../platform/socket/types.js';
import { authorizeRoom, roomOrThrow } from '../subscriptions/authorize.js';

/** The rooms a socket is in from the start: its user's, and an admin's (`admin`, or `admin:<operator>`). */
function ownRooms(socket: IoSocket): string[] {
  const { principal } = socket.data;
  const adminRoom = adminRoomOf(principal);
  return [rooms.user(principal.userId), ...(adminRoom ? [adminRoom] : [])];
}

function greet(socket: IoSocket, nodeId: string, joined: string[]): void {
  const { principal } = socket.data;
  const email = typeof principal.claims.email === 'string' ? principal.claims.email : undefined;
  const greeting: ConnectedPayload = {
    message: 'Connected to spotcast',
    user: { id: principal.userId, role: principal.role, ...(email ? { email } : {}) },
    socket_id: socket.id,
    node_id: nodeId,
    rooms: joined,
    token_expires_at: new Date(principal.expiresAt * 1000).toISOString(),
    timestamp: new Date().toISOString(),
  };
  socket.emit('connected', greeting);
}

/**
 * A socket lives only as long as its token: at expiry it is told (`error` TOKEN_EXPIRED) and
 * disconnected. `refresh_token` with a fresh token of the same user moves the deadline. Every
 * socket's deadline is on one shared timer (DeadlineWheel), not a Timeout of its own.
 */
function tokenDeadlines(deps: { logger: Logger; metrics: Metrics }): DeadlineWheel<IoSocket> {
  const wheel: DeadlineWheel<IoSocket> = new DeadlineWheel((socket) => {
    if (!socket.connected) return;
    const at = socket.data.principal.expiresAt * 1000;
    if (at > Date.now()) return wheel.set(socket, at);
    deps.logger.info(socketFields(socket), 'token expired; disconnecting the socket');
    deps.metrics.tokenExpiryDisconnects.inc();
    socket.emit('error', { code: 'TOKEN_EXPIRED', message: 'Your token expired; reconnect with a fresh one (or send refresh_token before expiry)' });
    socket.disconnect(true);
  }, 250);
  return wheel;
}

/** A connection's life: its own rooms and greeting, its token's expiry, and `refresh_token`. */
export function sessionSocket(deps: { verifier: TokenVerifier; nodeId: string; logger: Logger; metrics: Metrics }): SocketFeature {
  const expiries = tokenDeadlines(deps);
  return {
    connected(socket) {
      const joined = ownRooms(socket);
      void socket.join(joined);
      greet(socket, deps.nodeId, joined);
      expiries.set(socket, socket.data.principal.expiresAt * 1000);
    },
    disconnected(socket) {
      expiries.delete(socket);
    },
    events: [
      handler('refresh_token', refreshTokenSchema, async (socket, { token }) => {
        const next = await deps.verifier.verify(token);
        const current = socket.data.principal;
        if (next.userId !== current.userId) throw new ForbiddenError('A refreshed token must be for the same user');
        socket.data.principal = next;
        const adminRoom = adminRoomOf(next);
        if (adminRoom && adminRoom !== adminRoomOf(current)) await socket.join(adminRoom);
        // A demoted (or moved) token keeps no room it may no longer join (admin rooms, other users' rooms).
        for (const name of [...socket.rooms]) {
          if (name === socket.id) continue;
          try {
            authorizeRoom(next, roomOrThrow({ room: name }));
          } catch {
            await socket.leave(name);
          }
        }
        if (socket.connected) expiries.set(socket, next.expiresAt * 1000);
        return { token_expires_at: new Date(next.expiresAt * 1000).toISOString() };
      }),
    ],
  };
}

import { adminRoomOf, refreshTokenSchema, rooms, type ConnectedPayload } from '../../contract/index.js';
import type { TokenVerifier } from '../../platform/auth/jwt.js';
import { ForbiddenError } from '../../platform/errors.js';
import { on, type HandlerContext, type SocketFeature } from '../../platform/socket/handle.js';
import type { IoSocket } from '../../platform/socket/types.js';
import { authorizeRoom, roomOrThrow } from '../subscriptions/authorize.js';

/** setTimeout's limit; a later expiry is re-checked when this fires. */
const MAX_TIMER_MS = 2 ** 31 - 1;

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
 * disconnected. `refresh_token` with a fresh token of the same user keeps it connected.
 */
function expireWithToken(socket: IoSocket, ctx: HandlerContext): () => void {
  let timer: NodeJS.Timeout | undefined;
  const arm = () => {
    clearTimeout(timer);
    const ms = socket.data.principal.expiresAt * 1000 - Date.now();
    timer = setTimeout(() => {
      if (socket.data.principal.expiresAt * 1000 > Date.now()) return arm();
      ctx.logger.info('token expired; disconnecting the socket');
      ctx.metrics.tokenExpiryDisconnects.inc();
      socket.emit('error', { code: 'TOKEN_EXPIRED', message: 'Your token expired; reconnect with a fresh one (or send refresh_token before expiry)' });
      socket.disconnect(true);
    }, Math.min(Math.max(ms, 0), MAX_TIMER_MS));
    timer.unref();
  };
  arm();
  socket.on('disconnect', () => clearTimeout(timer));
  return arm;
}

/** A connection's life: its own rooms and greeting, its token's expiry, and `refresh_token`. */
export function sessionSocket(deps: { verifier: TokenVerifier; nodeId: string }): SocketFeature {
  return (socket, ctx) => {
    const joined = ownRooms(socket);
    void socket.join(joined);
    greet(socket, deps.nodeId, joined);
    const rearm = expireWithToken(socket, ctx);

    on(socket, ctx, 'refresh_token', refreshTokenSchema, async ({ token }) => {
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
      rearm();
      return { token_expires_at: new Date(next.expiresAt * 1000).toISOString() };
    });
  };
}

import type { TokenVerifier } from '../auth/jwt.js';
import { ForbiddenError } from '../errors.js';
import { refreshTokenSchema } from './contract.js';
import { authorizeRoom } from './handlers/subscription-handlers.js';
import { parseRoom, rooms } from './rooms.js';
import type { IoSocket } from './types.js';
import { on, type HandlerContext } from './validate.js';

/** setTimeout's limit; a later expiry is re-checked when this fires. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * A socket lives only as long as its token: at expiry it is told (`error` TOKEN_EXPIRED) and
 * disconnected. `refresh_token` with a fresh token of the same user keeps it connected.
 */
export function createTokenLifetime(deps: { verifier: TokenVerifier }) {
  return (socket: IoSocket, ctx: HandlerContext): void => {
    let timer: NodeJS.Timeout | undefined;
    const arm = () => {
      clearTimeout(timer);
      const ms = socket.data.principal.expiresAt * 1000 - Date.now();
      timer = setTimeout(() => {
        if (socket.data.principal.expiresAt * 1000 > Date.now()) return arm();
        ctx.logger.info('token expired; disconnecting the socket');
        socket.emit('error', { code: 'TOKEN_EXPIRED', message: 'Your token expired; reconnect with a fresh one (or send refresh_token before expiry)' });
        socket.disconnect(true);
      }, Math.min(Math.max(ms, 0), MAX_TIMER_MS));
      timer.unref();
    };
    arm();
    socket.on('disconnect', () => clearTimeout(timer));

    on(socket, ctx, 'refresh_token', refreshTokenSchema, 'token_refreshed', async ({ token }) => {
      const next = await deps.verifier.verify(token);
      const current = socket.data.principal;
      if (next.userId !== current.userId) throw new ForbiddenError('A refreshed token must be for the same user');
      socket.data.principal = next;
      if (next.role === 'admin' && current.role !== 'admin') await socket.join(rooms.admin);
      // A demoted token keeps no room it may no longer join (admin, other users' rooms).
      for (const name of [...socket.rooms]) {
        if (name === socket.id) continue;
        try {
          authorizeRoom(next, parseRoom({ room: name }));
        } catch {
          await socket.leave(name);
        }
      }
      arm();
      return { token_expires_at: new Date(next.expiresAt * 1000).toISOString() };
    });
  };
}

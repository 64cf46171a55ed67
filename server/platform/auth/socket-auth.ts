import type { Logger } from '../logger.js';
import type { IoServer, IoSocket } from '../socket/types.js';
import { AuthError, bearerToken, type TokenVerifier } from './jwt.js';

type Next = (err?: Error) => void;

/** The error a client sees in `connect_error`: message `Authentication error`, reason in `data`. */
class ConnectAuthError extends Error {
  readonly data: { code: string; message: string };
  constructor(code: string, message: string) {
    super('Authentication error');
    this.data = { code, message };
  }
}

/**
 * Verifies the JWT of every connection before it is accepted. The token comes from
 * `auth.token` (browsers), or an `Authorization: Bearer` header (hardware and servers).
 */
export function socketAuth(deps: { verifier: TokenVerifier; nodeId: string; logger: Logger }) {
  return (socket: IoSocket, next: Next): void => {
    const auth = socket.handshake.auth as Record<string, unknown> | undefined;
    const fromAuth = typeof auth?.token === 'string' ? auth.token : undefined;
    const token = fromAuth ?? bearerToken(socket.handshake.headers.authorization);
    try {
      const principal = deps.verifier.verify(token);
      socket.data.principal = principal;
      socket.data.nodeId = deps.nodeId;
      socket.data.connectedAt = Date.now();
      next();
    } catch (err) {
      const code = err instanceof AuthError ? err.reason : 'TOKEN_INVALID';
      const message = err instanceof AuthError ? err.message : 'Token could not be verified';
      deps.logger.info({ ip: socket.handshake.address, code }, 'connection refused: authentication failed');
      next(new ConnectAuthError(code, message));
    }
  };
}

export function installSocketAuth(io: IoServer, deps: Parameters<typeof socketAuth>[0]): void {
  io.use(socketAuth(deps));
}

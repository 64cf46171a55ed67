import type { Logger } from '../logger.js';
import type { IoServer, IoSocket } from './types.js';
import { AuthError, bearerToken, KeysUnavailableError, type TokenVerifier } from '../auth/jwt.js';

type Next = (err?: Error) => void;

/** The error a client sees in `connect_error`: message `Authentication error`, reason in `data`. */
class ConnectAuthError extends Error {
  readonly data: { code: string; message: string; retry_after_ms?: number };
  constructor(code: string, message: string, retryAfterMs?: number) {
    super('Authentication error');
    this.data = { code, message, ...(retryAfterMs !== undefined ? { retry_after_ms: retryAfterMs } : {}) };
  }
}

/**
 * What a refused client is told. Keys that cannot be fetched keep the same `Authentication error`
 * message (the documented client reconnects on it, which is what recovers) with their own code.
 */
function refusal(err: unknown): ConnectAuthError {
  if (err instanceof AuthError) return new ConnectAuthError(err.reason, err.message);
  if (err instanceof KeysUnavailableError) return new ConnectAuthError(err.code, err.message, err.retryAfterMs);
  return new ConnectAuthError('TOKEN_INVALID', 'Token could not be verified');
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
    deps.verifier.verify(token).then(
      (principal) => {
        socket.data.principal = principal;
        socket.data.nodeId = deps.nodeId;
        socket.data.connectedAt = Date.now();
        next();
      },
      (err: unknown) => {
        const refused = refusal(err);
        if (!(err instanceof AuthError) && !(err instanceof KeysUnavailableError)) deps.logger.error({ err }, 'token verification failed unexpectedly');
        deps.logger.info({ ip: socket.handshake.address, code: refused.data.code }, 'connection refused: authentication failed');
        next(refused);
      },
    );
  };
}

export function installSocketAuth(io: IoServer, deps: Parameters<typeof socketAuth>[0]): void {
  io.use(socketAuth(deps));
}

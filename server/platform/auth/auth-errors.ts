import { AppError, UnauthorizedError } from '../errors.js';

/** Reason codes sent to clients in `connect_error.data.code` and HTTP 401 bodies. */
export type AuthFailure =
  | 'TOKEN_MISSING'
  | 'TOKEN_EXPIRED'
  | 'TOKEN_NOT_YET_VALID'
  | 'TOKEN_INVALID'
  | 'TOKEN_CLAIMS_INVALID';

/** The token is at fault: the client must get a new one. */
export class AuthError extends UnauthorizedError {
  constructor(
    readonly reason: AuthFailure,
    message: string,
  ) {
    super(reason, message);
  }
}

/**
 * The server is at fault: the key that would verify this token is not available (its JWKS could
 * not be fetched and none of its keys is cached). The token may be fine; the client should retry.
 */
export class KeysUnavailableError extends AppError {
  override readonly status = 503;
  constructor(
    message: string,
    readonly retryAfterMs: number,
  ) {
    super('AUTH_KEYS_UNAVAILABLE', message);
  }
}

/**
 * How a refusal reaches a client: `{ ok: false, error: { code, message } }` on an acknowledgement
 * or an HTTP body, or an `error` event. `code` is stable: clients switch on it.
 */
export const ERROR_CODES = [
  'VALIDATION_ERROR',
  'UNAUTHORIZED',
  'TOKEN_MISSING',
  'TOKEN_INVALID',
  'TOKEN_EXPIRED',
  'TOKEN_NOT_YET_VALID',
  'TOKEN_CLAIMS_INVALID',
  'FORBIDDEN',
  'NOT_FOUND',
  'LOT_FULL',
  'LOT_CLOSED',
  'INVALID_TRANSITION',
  'INVALID_AVAILABILITY',
  'SPACES_HELD',
  'IDEMPOTENCY_KEY_REUSED',
  'TOO_MANY_HOLDS',
  'TOO_MANY_CONNECTIONS',
  /** join_waitlist for a window that has space: book it instead. */
  'SPACE_AVAILABLE',
  'UNKNOWN_EVENT',
  'RATE_LIMITED',
  'SLOW_CONSUMER',
  'SERVER_BUSY',
  'PAYLOAD_TOO_LARGE',
  'INVALID_SIGNATURE',
  'STALE_WEBHOOK',
  'SERVICE_UNAVAILABLE',
  'AUTH_KEYS_UNAVAILABLE',
  'INTERNAL_ERROR',
] as const;
export type ErrorCode = (typeof ERROR_CODES)[number];

const KNOWN_CODES: ReadonlySet<string> = new Set(ERROR_CODES);
export const isErrorCode = (code: string): code is ErrorCode => KNOWN_CODES.has(code);

export interface ClientError {
  code: string;
  message: string;
  details?: unknown;
}

export type AckResponse<T> = { ok: true; data: T } | { ok: false; error: ClientError };
export type Ack<T> = (response: AckResponse<T>) => void;

/** The `error` event, sent when a client event failed and the client gave no acknowledgement. */
export interface ErrorPayload {
  message: string;
  code: string;
  event?: string;
}

/**
 * One small error class per kind, each with a stable `code` a client can switch on.
 * They are turned into client errors at one boundary: `toClientError`.
 */
import type { ClientError, ErrorCode } from '../contract/index.js';

export class AppError extends Error {
  readonly status: number = 500;
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details?: unknown,
  ) {
    super(message);
    this.name = new.target.name;
  }
}

export class ValidationError extends AppError {
  override readonly status = 400;
  constructor(message: string, details?: unknown) {
    super('VALIDATION_ERROR', message, details);
  }
}

export class UnauthorizedError extends AppError {
  override readonly status = 401;
  constructor(code: ErrorCode = 'UNAUTHORIZED', message = 'Authentication required') {
    super(code, message);
  }
}

export class ForbiddenError extends AppError {
  override readonly status = 403;
  constructor(message = 'You are not allowed to do this') {
    super('FORBIDDEN', message);
  }
}

export class NotFoundError extends AppError {
  override readonly status = 404;
  constructor(message = 'Not found') {
    super('NOT_FOUND', message);
  }
}

export class PayloadTooLargeError extends AppError {
  override readonly status = 413;
  constructor(message = 'Payload is too large') {
    super('PAYLOAD_TOO_LARGE', message);
  }
}

/** A request that is well formed but conflicts with the current state (e.g. a full lot). */
export class ConflictError extends AppError {
  override readonly status = 409;
  constructor(code: ErrorCode, message: string, details?: unknown) {
    super(code, message, details);
  }
}

/** A client event the contract does not have. */
export class UnknownEventError extends AppError {
  override readonly status = 400;
  constructor(name: string) {
    super('UNKNOWN_EVENT', `Unknown event "${name}"`);
  }
}

export class ServiceUnavailableError extends AppError {
  override readonly status = 503;
  constructor(message = 'A backing service is unavailable; try again shortly') {
    super('SERVICE_UNAVAILABLE', message);
  }
}

const internalError: ClientError = { code: 'INTERNAL_ERROR', message: 'Internal server error' };

/** The only place where a thrown value becomes something a client sees: no stack, no SQL. */
export function toClientError(err: unknown): { status: number; error: ClientError } {
  if (err instanceof AppError) {
    const error: ClientError = { code: err.code, message: err.message };
    if (err.details !== undefined) error.details = err.details;
    return { status: err.status, error };
  }
  return { status: 500, error: internalError };
}

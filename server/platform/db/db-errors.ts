import {
  AppError,
  ConflictError,
  ForbiddenError,
  NotFoundError,
  ServiceUnavailableError,
  ValidationError,
} from '../errors.js';

interface PgError {
  code?: string;
  hint?: string;
  message: string;
}

const CONNECTION_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'ENOTFOUND', 'EPIPE', '57P01', '57P02', '57P03', '53300']);

function isPgError(err: unknown): err is PgError {
  return typeof err === 'object' && err !== null && 'message' in err;
}

/**
 * SQL functions raise with a stable application code in HINT (e.g. `LOT_FULL`); that code is
 * what the client sees. Other database failures become generic errors without SQL text.
 */
export function mapDbError(err: unknown): unknown {
  if (err instanceof AppError || !isPgError(err)) return err;
  const hint = err.hint && /^[A-Z][A-Z_]+$/.test(err.hint) ? err.hint : undefined;
  switch (hint) {
    case 'NOT_FOUND':
      return new NotFoundError(err.message);
    case 'FORBIDDEN':
      return new ForbiddenError(err.message);
    case 'VALIDATION_ERROR':
      return new ValidationError(err.message);
    case undefined:
      break;
    default:
      return new ConflictError(hint, err.message);
  }
  if (err.code === '42501') return new ForbiddenError('Not allowed by row-level security');
  if (err.code === '22P02' || err.code === '23514' || err.code === '22023') return new ValidationError('Invalid value');
  // NUL characters and the like: text Postgres cannot store (also in a token's claims).
  if (err.code === '22021' || err.code === '22P05') return new ValidationError('Text contains a character that cannot be stored (e.g. NUL)');
  if (err.code && CONNECTION_CODES.has(err.code)) return new ServiceUnavailableError('Database unavailable');
  if (/timeout|terminat|Connection/i.test(err.message) && !err.code) return new ServiceUnavailableError('Database unavailable');
  return err;
}

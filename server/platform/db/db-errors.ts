import { isErrorCode } from '../../contract/index.js';
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

/**
 * SQLSTATE class 22 is "data exception": a value Postgres cannot take (a date out of its range, a
 * time zone offset past ±15:59, a number too large, text it cannot store). Every such value came
 * from a caller, so the whole class is the caller's error. The message is ours, never Postgres's:
 * that one quotes the input back, and the input may be anything.
 */
const DATA_EXCEPTIONS: Record<string, string> = {
  '22007': 'A date or time is not valid',
  '22008': 'A date or time is outside the range the database can store (years 4713 BC to 294276 AD)',
  '22009': 'A time zone offset is out of range (at most ±15:59)',
  '22003': 'A number is out of range',
  '22001': 'A text is too long',
  // NUL characters and the like: text Postgres cannot store (also in a token's claims).
  '22021': 'Text contains a character that cannot be stored (e.g. NUL)',
  '22P05': 'Text contains a character that cannot be stored (e.g. NUL)',
};

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
      // A hint the contract does not name is a bug in a migration (test/contract-sql.test.ts
      // checks them all): it is not shown to the client as if it were a stable code.
      if (isErrorCode(hint)) return new ConflictError(hint, err.message);
  }
  if (err.code === '42501') return new ForbiddenError('Not allowed by row-level security');
  if (err.code === '23514') return new ValidationError('Invalid value');
  if (err.code?.startsWith('22')) return new ValidationError(DATA_EXCEPTIONS[err.code] ?? 'Invalid value');
  if (err.code && CONNECTION_CODES.has(err.code)) return new ServiceUnavailableError('Database unavailable');
  if (/timeout|terminat|Connection/i.test(err.message) && !err.code) return new ServiceUnavailableError('Database unavailable');
  return err;
}

/**
 * Writes a statement's `$n` parameters into its text as escaped literals, so that it can travel in
 * a multi-statement simple query (which takes no parameters) together with the set-up of its
 * transaction: one round trip instead of three.
 *
 * Every value becomes a quoted literal of type `unknown`, which Postgres resolves against the
 * function's or column's type exactly as it resolves an untyped bound parameter (what pg sends).
 * Only scalars and JSON objects are written: an array's text form differs between pg and JSON, so it is refused
 * rather than guessed, and the caller keeps using bound parameters for it.
 */
import { ValidationError } from '../errors.js';

export type Escape = (text: string) => string;

export function inlineParams(text: string, values: readonly unknown[], escape: Escape): string {
  return text.replace(/\$(\d+)/g, (_match, n: string) => {
    const i = Number(n) - 1;
    if (i < 0 || i >= values.length) throw new Error(`statement has $${n} but ${values.length} values`);
    return literal(values[i], escape);
  });
}

function literal(value: unknown, escape: Escape): string {
  if (value === null || value === undefined) return 'null';
  if (value instanceof Date) return escape(value.toISOString());
  switch (typeof value) {
    case 'string':
      // A NUL would end the query text early; Postgres cannot store it in text anyway (22021).
      if (value.includes('\0')) throw new ValidationError('Text contains a character that cannot be stored (e.g. NUL)');
      return escape(value);
    case 'number':
      if (!Number.isFinite(value)) throw new Error(`cannot write ${value} as a SQL literal`);
      return escape(String(value));
    case 'boolean':
    case 'bigint':
      return escape(String(value));
    case 'object':
      if (Array.isArray(value) || Buffer.isBuffer(value)) throw new Error('arrays and buffers need bound parameters');
      return escape(JSON.stringify(value));
    default:
      throw new Error(`cannot write a ${typeof value} as a SQL literal`);
  }
}

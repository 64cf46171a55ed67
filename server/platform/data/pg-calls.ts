import type { Principal } from '../auth/principal.js';
import type { Db } from '../db/db.js';
import { SET_RETURNING, type UserCalls, type UserFunction, type UserFunctions } from './calls.js';

/** `public.fn(p_a => $1, p_b => $2)`: named arguments, so the order of keys never matters. */
function callSql<F extends UserFunction>(fn: F, args: UserFunctions[F]): { text: string; values: unknown[] } {
  const names = Object.keys(args);
  const call = `public.${fn}(${names.map((n, i) => `${n} => $${i + 1}`).join(', ')})`;
  const text = SET_RETURNING.has(fn) ? `select coalesce(jsonb_agg(to_jsonb(r)), '[]'::jsonb) as r from ${call} r` : `select ${call} as r`;
  return { text, values: names.map((n) => (args as Record<string, unknown>)[n]) };
}

/**
 * The direct path: one simple query carries the caller's role and claims, the call and its
 * implicit transaction (Db.statementAsUser), so a lock the function takes is released as soon as
 * Postgres is done.
 */
export function createPgCalls(db: Db): UserCalls {
  return {
    kind: 'postgres',
    async call<F extends UserFunction>(principal: Principal, fn: F, args: UserFunctions[F]): Promise<unknown> {
      const { text, values } = callSql(fn, args);
      const { rows } = await db.statementAsUser<{ r: unknown }>(principal, text, values);
      return rows[0]!.r;
    },
  };
}

/** The same call on the privileged path, for the server's own transitions (expiry, payments). */
export async function callAsSystem<T>(db: Db, sql: string, values: unknown[]): Promise<T> {
  const { rows } = await db.statementAsSystem<{ r: T }>(`select ${sql} as r`, values);
  return rows[0]!.r;
}

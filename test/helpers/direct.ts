/**
 * Writes that reach the database without spotcast, as they happen on Supabase: a request as
 * PostgREST runs it (supabase-js `rpc`, the Data API) — one transaction with the caller's role and
 * claims set locally and nothing else — or an edit in the dashboard's table editor or SQL editor
 * (the `postgres` role, no claims). No spotcast node is involved, so no `spotcast.node_id` is set.
 */
import pg from 'pg';
import { testEnv } from './global-setup.js';

export type Claims = Record<string, unknown>;

export const userClaims = (sub: string): Claims => ({ sub, role: 'authenticated', app_metadata: { role: 'user' } });
export const adminClaims = (sub: string): Claims => ({ sub, role: 'authenticated', app_metadata: { role: 'admin' } });
/** An operator's admin: the admin role and the operator's id in the org claim (migrations/012_operators.sql). */
export const operatorAdminClaims = (sub: string, orgId: string): Claims => ({ sub, role: 'authenticated', app_metadata: { role: 'admin', org_id: orgId } });

/**
 * One committed transaction: as the claims' role with those claims (PostgREST), or, without claims,
 * as the connecting superuser like the dashboard. `headers` become `request.headers`, as PostgREST
 * sets them. Errors roll back and are rethrown.
 */
export async function direct<T>(claims: Claims | null, fn: (c: pg.Client) => Promise<T>, opts: { headers?: Record<string, string> } = {}): Promise<T> {
  const client = new pg.Client({ connectionString: testEnv().databaseUrl, application_name: 'direct write (test)' });
  await client.connect();
  try {
    await client.query('begin');
    if (claims) {
      await client.query(`select set_config('role', $1, true), set_config('request.jwt.claims', $2, true)`, [String(claims.role), JSON.stringify(claims)]);
    }
    if (opts.headers) await client.query(`select set_config('request.headers', $1, true)`, [JSON.stringify(opts.headers)]);
    const result = await fn(client);
    await client.query('commit');
    return result;
  } catch (err) {
    await client.query('rollback').catch(() => undefined);
    throw err;
  } finally {
    await client.end();
  }
}

/** create_booking called as supabase-js calls it (`rpc`), by the user of the claims. */
export async function bookDirectly(userId: string, lotId: string, minutes = 60): Promise<{ booking: { id: string; hold_expires_at: string } }> {
  return direct(userClaims(userId), async (c) => (await c.query('select public.create_booking($1, null, null, $2) as r', [lotId, minutes])).rows[0].r);
}

/** A stream's events as the log holds them, in order. */
export async function streamEvents(stream: string): Promise<{ seq: number; event: string; action: string | undefined; origin: string | null; dispatched: boolean; payload: any }[]> {
  return direct(null, async (c) => {
    const { rows } = await c.query(
      `select seq::float8 as seq, event, payload->>'action' as action, origin, dispatched_at is not null as dispatched, payload
         from public.event_log where stream = $1 order by seq`,
      [stream],
    );
    return rows;
  });
}

import pg from 'pg';
import type { Principal } from '../auth/principal.js';
import type { Logger } from '../logger.js';
import { mapDbError } from './db-errors.js';

export type Tx = pg.PoolClient;

export interface DbOptions {
  url: string;
  poolMax: number;
  /** A query with no answer by then fails (Postgres frozen, a network partition) instead of hanging. */
  queryTimeoutMs?: number;
  /** Path of the application role claim, passed to `public.is_admin()` in every transaction. */
  roleClaimPath: string[];
  logger: Logger;
  applicationName?: string;
}

const SYSTEM_CLAIMS = JSON.stringify({ role: 'service_role' });

/**
 * The one way the server talks to Postgres. Work for a user runs in a transaction with that
 * user's claims and the `authenticated` role set locally, exactly as Supabase's REST layer does,
 * so Row-Level Security applies to the server's own queries. Work for the server itself goes
 * through `asSystem`, the clearly named privileged path (`service_role`, which bypasses RLS).
 */
export class Db {
  readonly pool: pg.Pool;
  private readonly claimPath: string;
  private closed = false;

  constructor(private readonly opts: DbOptions) {
    this.pool = new pg.Pool({
      connectionString: opts.url,
      max: opts.poolMax,
      application_name: opts.applicationName ?? 'spotcast',
      connectionTimeoutMillis: 5000,
      idleTimeoutMillis: 30_000,
      query_timeout: opts.queryTimeoutMs ?? 10_000,
      keepAlive: true,
    });
    this.claimPath = opts.roleClaimPath.join('.');
    // An idle client losing its connection (Postgres restart) must not crash the process.
    this.pool.on('error', (err) => opts.logger.warn({ err }, 'idle Postgres connection failed'));
  }

  asUser<T>(principal: Principal, work: (tx: Tx) => Promise<T>): Promise<T> {
    return this.transaction('authenticated', JSON.stringify(principal.claims), work, this.userStatementTimeoutMs);
  }

  /** Privileged: bypasses RLS. For the server's own bookkeeping (logs, sweeps), never on behalf of a caller. */
  asSystem<T>(work: (tx: Tx) => Promise<T>): Promise<T> {
    return this.transaction('service_role', SYSTEM_CLAIMS, work, 0);
  }

  async ping(): Promise<void> {
    await this.query('select 1');
  }

  /** A single statement outside any role context; for health checks and migrations only. */
  async query<R extends pg.QueryResultRow = pg.QueryResultRow>(text: string, values?: unknown[]) {
    try {
      return await this.pool.query<R>(text, values);
    } catch (err) {
      throw mapDbError(err);
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.pool.end();
  }

  /** Server-side, just under the client's query timeout: a request's locks never outlive it. */
  private get userStatementTimeoutMs(): number {
    return Math.max((this.opts.queryTimeoutMs ?? 10_000) - 500, 100);
  }

  private async transaction<T>(
    role: 'authenticated' | 'service_role',
    claims: string,
    work: (tx: Tx) => Promise<T>,
    statementTimeoutMs: number,
  ): Promise<T> {
    let client: pg.PoolClient;
    try {
      client = await this.pool.connect();
    } catch (err) {
      throw mapDbError(err);
    }
    // The pool stops listening for errors on a client it has lent out; without our own listener a
    // connection lost mid-transaction (Postgres restart, failover) is an uncaught exception.
    let broken = false;
    const onError = (err: Error) => {
      broken = true;
      this.opts.logger.warn({ err: err.message }, 'Postgres connection lost during a transaction');
    };
    client.on('error', onError);
    try {
      // One round trip: open the transaction and set role and claims locally (what PostgREST
      // does). The values are escaped by pg's own escapeLiteral; the role is one of two literals.
      await client.query(
        `begin; select set_config('role', '${role}', true), ` +
          `set_config('request.jwt.claims', ${client.escapeLiteral(claims)}, true), ` +
          `set_config('spotcast.role_claim_path', ${client.escapeLiteral(this.claimPath)}, true), ` +
          `set_config('statement_timeout', '${Math.trunc(statementTimeoutMs)}', true)`,
      );
      const result = await work(client);
      await client.query('commit');
      return result;
    } catch (err) {
      // After a timeout the connection is stuck behind its query: a rollback would wait too.
      if (broken || isQueryTimeout(err)) broken = true;
      else {
        await client.query('rollback').catch(() => {
          broken = true;
        });
      }
      throw mapDbError(err);
    } finally {
      client.off('error', onError);
      client.release(broken);
    }
  }
}

function isQueryTimeout(err: unknown): boolean {
  return err instanceof Error && /query read timeout|timeout exceeded/i.test(err.message);
}

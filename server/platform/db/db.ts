import pg from 'pg';
import type { Principal } from '../auth/principal.js';
import type { Logger } from '../logger.js';
import { mapDbError } from './db-errors.js';
import { inlineParams } from './inline-params.js';

export type Tx = pg.PoolClient;

export interface DbOptions {
  url: string;
  poolMax: number;
  /** A query with no answer by then fails (Postgres frozen, a network partition) instead of hanging. */
  queryTimeoutMs?: number;
  /** Path of the application role claim, passed to `public.is_admin()` in every transaction. */
  roleClaimPath: string[];
  /** Path of the operator (org) claim, for `public.org_claim()`; default `app_metadata.org_id`. */
  orgClaimPath?: string[] | undefined;
  logger: Logger;
  applicationName?: string;
  /** Connect and query timeout of the health checks' own connection (see `probe`). */
  probeTimeoutMs?: number;
  /**
   * This node's id, recorded as the origin of the events its transactions write: the node emits
   * them itself after commit. Null for a Db that is not a spotcast node's (fixtures, tools): the
   * events it writes are announced like any write made outside spotcast.
   */
  nodeId: string | null;
}

interface TxContext {
  role: 'authenticated' | 'service_role';
  claims: string;
  /** 0: none (the server's own work). */
  statementTimeoutMs: number;
}

const SYSTEM_CONTEXT: TxContext = { role: 'service_role', claims: JSON.stringify({ role: 'service_role' }), statementTimeoutMs: 0 };

/**
 * The one way the server talks to Postgres. Work for a user runs in a transaction with that
 * user's claims and the `authenticated` role set locally, exactly as Supabase's REST layer does,
 * so Row-Level Security applies to the server's own queries. Work for the server itself goes
 * through `asSystem`, the clearly named privileged path (`service_role`, which bypasses RLS).
 */
export class Db {
  readonly pool: pg.Pool;
  /** Health checks' own connection, opened at the first check. */
  private probePool: pg.Pool | undefined;
  private readonly claimPath: string;
  private readonly orgClaimPath: string;
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
    this.orgClaimPath = (opts.orgClaimPath ?? ['app_metadata', 'org_id']).join('.');
    // An idle client losing its connection (Postgres restart) must not crash the process.
    this.pool.on('error', (err) => opts.logger.warn({ err }, 'idle Postgres connection failed'));
  }

  asUser<T>(principal: Principal, work: (tx: Tx) => Promise<T>): Promise<T> {
    return this.transaction(this.userContext(principal), work);
  }

  /** Privileged: bypasses RLS. For the server's own bookkeeping (logs, sweeps), never on behalf of a caller. */
  asSystem<T>(work: (tx: Tx) => Promise<T>): Promise<T> {
    return this.transaction(SYSTEM_CONTEXT, work);
  }

  /**
   * One statement as the user, its transaction and the user's role and claims sent with it in one
   * round trip (see `statement`). For the hot paths: bookings, cancellations, availability edits.
   */
  statementAsUser<R extends pg.QueryResultRow = pg.QueryResultRow>(principal: Principal, text: string, values: readonly unknown[] = []) {
    return this.statement<R>(this.userContext(principal), text, values);
  }

  /** `statementAsUser` on the privileged path (`asSystem`). */
  statementAsSystem<R extends pg.QueryResultRow = pg.QueryResultRow>(text: string, values: readonly unknown[] = []) {
    return this.statement<R>(SYSTEM_CONTEXT, text, values);
  }

  /**
   * A connection of its own, outside the pool, not yet connected: for a session that must last
   * (LISTEN). Its owner connects, watches and ends it.
   */
  dedicatedClient(purpose: string): pg.Client {
    return new pg.Client({
      connectionString: this.opts.url,
      application_name: `${this.opts.applicationName ?? 'spotcast'} ${purpose}`.slice(0, 63),
      connectionTimeoutMillis: 5000,
      query_timeout: this.opts.queryTimeoutMs ?? 10_000,
      keepAlive: true,
    });
  }

  /** A single statement outside any role context, on the request pool (tests, maintenance). */
  async query<R extends pg.QueryResultRow = pg.QueryResultRow>(text: string, values?: unknown[]) {
    try {
      return await this.pool.query<R>(text, values);
    } catch (err) {
      throw mapDbError(err);
    }
  }

  /**
   * A statement on a connection of the health checks' own (a pool of one), never the request
   * pool: a flood of readiness probes cannot take the connections requests need, and a probe does
   * not queue behind requests on a busy node. Bounded by `probeTimeoutMs` when Postgres hangs.
   */
  async probe<R extends pg.QueryResultRow = pg.QueryResultRow>(text: string): Promise<pg.QueryResult<R>> {
    if (this.closed) throw new Error('the database client is closed');
    const timeout = this.opts.probeTimeoutMs ?? 2000;
    this.probePool ??= new pg.Pool({
      connectionString: this.opts.url,
      max: 1,
      application_name: `${this.opts.applicationName ?? 'spotcast'}-health`,
      connectionTimeoutMillis: timeout,
      query_timeout: timeout,
      idleTimeoutMillis: 60_000,
      keepAlive: true,
    }).on('error', (err) => this.opts.logger.warn({ err }, 'idle health-check connection failed'));
    return this.probePool.query<R>(text);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.all([this.pool.end(), this.probePool?.end()]);
  }

  /** Server-side, just under the client's query timeout: a request's locks never outlive it. */
  private get userStatementTimeoutMs(): number {
    return Math.max((this.opts.queryTimeoutMs ?? 10_000) - 500, 100);
  }

  private userContext(principal: Principal): TxContext {
    return { role: 'authenticated', claims: JSON.stringify(principal.claims), statementTimeoutMs: this.userStatementTimeoutMs };
  }

  /**
   * What PostgREST sets at the start of each transaction: role and claims, locally; and which node
   * writes (the origin of the events logged, see migrations/002_event_log.sql).
   */
  private contextSql(client: pg.PoolClient, ctx: TxContext): string {
    // The values are escaped by pg's own escapeLiteral; the role is one of two literals.
    return (
      `select set_config('role', '${ctx.role}', true), ` +
      `set_config('request.jwt.claims', ${client.escapeLiteral(ctx.claims)}, true), ` +
      `set_config('spotcast.role_claim_path', ${client.escapeLiteral(this.claimPath)}, true), ` +
      `set_config('spotcast.org_claim_path', ${client.escapeLiteral(this.orgClaimPath)}, true), ` +
      `set_config('spotcast.node_id', ${client.escapeLiteral(this.opts.nodeId ?? '')}, true), ` +
      `set_config('statement_timeout', '${Math.trunc(ctx.statementTimeoutMs)}', true)`
    );
  }

  private async transaction<T>(ctx: TxContext, work: (tx: Tx) => Promise<T>): Promise<T> {
    return this.withClient(async (client, discard) => {
      try {
        // One round trip opens the transaction and sets role and claims.
        await client.query(`begin; ${this.contextSql(client, ctx)}`);
        const result = await work(client);
        await client.query('commit');
        return result;
      } catch (err) {
        // After a timeout the connection is stuck behind its query: a rollback would wait too.
        if (isQueryTimeout(err)) discard();
        else await client.query('rollback').catch(discard);
        throw err;
      }
    });
  }

  /**
   * Set-up and statement as one simple query, which Postgres runs as one implicit transaction:
   * committed when the statement succeeds, rolled back when anything fails. Compared with
   * begin/statement/commit, a lock the statement takes (a lot row, for a booking) is released as
   * soon as Postgres is done, instead of being held while the reply waits for Node's event loop
   * (busy emitting to thousands of sockets) to send `commit`.
   */
  private async statement<R extends pg.QueryResultRow>(ctx: TxContext, text: string, values: readonly unknown[]): Promise<pg.QueryResult<R>> {
    return this.withClient(async (client) => {
      const sql = `${this.contextSql(client, ctx)}; ${inlineParams(text, values, (v) => client.escapeLiteral(v))}`;
      const results = (await client.query(sql)) as unknown as pg.QueryResult<R>[];
      return results[results.length - 1]!;
    });
  }

  /**
   * A pooled connection for `use`, returned afterwards; errors are mapped for clients. A
   * connection that timed out, failed, or could not roll back is destroyed, not reused.
   */
  private async withClient<T>(use: (client: pg.PoolClient, discard: () => void) => Promise<T>): Promise<T> {
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
      return await use(client, () => {
        broken = true;
      });
    } catch (err) {
      if (isQueryTimeout(err)) broken = true;
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

/**
 * Scenario 7: writes made outside spotcast (issue 11 §4). The same steady stream of bookings into
 * a lot watched by `latSubscribers` sockets, made three ways: through spotcast (socket
 * create_booking), by calling `public.create_booking` straight over pg with a user's claims as
 * supabase-js / PostgREST does (no spotcast node involved: Postgres notifies the nodes at commit),
 * and as direct UPDATEs of the lot's row (the table editor, SQL). With Redis, two nodes with half
 * the subscribers each, so every figure includes reaching the node that did not claim the event.
 */
import pg from 'pg';
import { randomUUID } from 'node:crypto';
import { wallNow } from './lib/ipc.js';
import { createLots, sleep, sql, startSpotcast, type BenchContext, type Fleet, type Server } from './lib/harness.js';
import type { Options } from './lib/options.js';
import { lost, table, verdict } from './lib/markdown.js';
import { fmt, latencySummary, type LatencySummary } from './lib/stats.js';

export const X_SPOTCAST = 'through spotcast (socket create_booking)';
export const X_RPC = 'create_booking called over pg, as supabase-js does';
export const X_EDIT = 'direct UPDATE of the lot row';
const PATHS = [X_SPOTCAST, X_RPC, X_EDIT] as const;

export type ExternalRun = LatencySummary & { lost: number; dups: number };

export interface ExternalResults {
  nodes: number;
  subscribers: number;
  rate: number;
  count: number;
  runs: Map<string, ExternalRun[]>;
}

/** `count` calls of `fire`, `rate` a second, not waiting for one to finish before the next. */
async function paced(rate: number, count: number, fire: (i: number) => Promise<unknown>): Promise<number> {
  const start = wallNow();
  const calls: Promise<boolean>[] = [];
  for (let i = 0; i < count; i++) {
    const wait = start + (i * 1000) / rate - wallNow();
    if (wait > 1) await sleep(wait);
    calls.push(fire(i).then(() => true, () => false));
  }
  return (await Promise.all(calls)).filter(Boolean).length;
}

/** One booking as PostgREST runs an rpc: role and claims set locally, the call, one transaction. */
function rpcBooking(pool: pg.Pool, lotId: string): Promise<unknown> {
  const claims = JSON.stringify({ sub: randomUUID(), role: 'authenticated', app_metadata: { role: 'user' } });
  return pool.query(
    `select set_config('role', 'authenticated', true), set_config('request.jwt.claims', ${pg.escapeLiteral(claims)}, true); ` +
      `select public.create_booking(${pg.escapeLiteral(lotId)}, null, null, 60, null, null)`,
  );
}

export async function externalScenario(ctx: BenchContext, fleet: Fleet, o: Options): Promise<ExternalResults> {
  const twoNodes = ctx.redisUrl !== undefined;
  const results: ExternalResults = { nodes: twoNodes ? 2 : 1, subscribers: o.latSubscribers, rate: o.latRates[0]!, count: o.latCount, runs: new Map() };
  const servers: Server[] = [];
  const pool = new pg.Pool({ connectionString: ctx.databaseUrl, max: 4, application_name: 'spotcast-bench-external' });
  try {
    const a = await startSpotcast(ctx, 'external-a', { redis: twoNodes, cluster: 'external' });
    servers.push(a);
    const nodes = [a];
    if (twoNodes) {
      const b = await startSpotcast(ctx, 'external-b', { redis: true, cluster: 'external' });
      servers.push(b);
      nodes.push(b);
    }
    const groups = nodes.map((_, i) => `external-subs-${i}`);
    const share = (i: number) => Math.floor(o.latSubscribers / nodes.length) + (i < o.latSubscribers % nodes.length ? 1 : 0);
    for (let i = 0; i < nodes.length; i++) {
      const c = await fleet.connect(groups[i]!, nodes[i]!, share(i));
      if (c.failed > 0) throw new Error(`subscribers failed to connect: ${JSON.stringify(c.errors)}`);
    }
    const bookers = await fleet.connect('external-bookers', a, fleet.size * 2);
    if (bookers.failed > 0) throw new Error(`bookers failed to connect: ${JSON.stringify(bookers.errors)}`);

    const measure = async (path: (typeof PATHS)[number], label: string) => {
      const [lot] = await createLots(ctx.databaseUrl, 1, { total: 1_000_000, label });
      for (let i = 0; i < nodes.length; i++) await fleet.subscribe(groups[i]!, `parking_lot:${lot}`, fleet.split(share(i)));
      let ok: number;
      if (path === X_SPOTCAST) {
        ok = (await fleet.clients[0]!.call<{ ok: number }>('bookPaced', { group: 'external-bookers', lotId: lot, rate: results.rate, count: o.latCount }, 600_000)).ok;
      } else if (path === X_RPC) {
        ok = await paced(results.rate, o.latCount, () => rpcBooking(pool, lot!));
      } else {
        ok = await paced(results.rate, o.latCount, (i) => pool.query('update public.parking_lots set occupied_unbooked = $2 where id = $1', [lot, i + 1]));
      }
      await sleep(1000);
      const got = await fleet.collect({ prefix: `${lot}|${path === X_EDIT ? 'updated_directly' : 'booking_created'}|` });
      const run = { ...latencySummary(got.lat), lost: ok * o.latSubscribers - got.count, dups: got.dups };
      results.runs.set(path, [...(results.runs.get(path) ?? []), run]);
      return run;
    };

    for (const path of PATHS) await measure(path, `external warm-up`);
    await fleet.clear();
    results.runs.clear();
    for (let r = 0; r < o.runs; r++) {
      // Interleaved, and rotated per run, so that drift in the machine's load hits every path alike.
      const order = PATHS.map((_, i) => PATHS[(i + r) % PATHS.length]!);
      for (const path of order) {
        const run = await measure(path, `external ${r + 1}`);
        ctx.log(`  run ${r + 1} · ${path}: p50 ${run.p50.toFixed(1)} p99 ${run.p99.toFixed(1)} ms (lost ${run.lost}, duplicates ${run.dups})`);
      }
    }
    for (const g of [...groups, 'external-bookers']) await fleet.disconnect(g);
  } finally {
    await pool.end();
    await Promise.all(servers.map((s) => s.child.stop()));
    await releaseBenchHolds(ctx.databaseUrl);
  }
  return results;
}

/**
 * The bench's own holds must not expire into later scenarios. Released quietly: the triggers that
 * announce direct edits are off for this one transaction (a superuser's session_replication_role),
 * since nobody watches the bench's clean-up and thousands of announcements would only slow it.
 */
export function releaseBenchHolds(databaseUrl: string): Promise<unknown> {
  return sql(
    databaseUrl,
    `begin; set local session_replication_role = replica;
     update public.bookings set status = 'cancelled', hold_expires_at = null where status = 'pending'; commit;`,
  ).catch(() => undefined);
}

export function renderExternal(x: ExternalResults): string[] {
  const row = (path: string) => {
    const runs = x.runs.get(path) ?? [];
    return [
      path,
      fmt(runs.map((r) => r.p50)),
      fmt(runs.map((r) => r.p95)),
      fmt(runs.map((r) => r.p99)),
      verdict(runs.map((r) => r.p99), (m) => m < 50),
      lost(runs.map((r) => r.lost)),
      lost(runs.map((r) => r.dups)),
    ];
  };
  return [
    '### 7. Writes made outside spotcast',
    '',
    `${x.count} writes per run at a steady ${x.rate}/s into a lot watched by ${x.subscribers} sockets` +
      (x.nodes === 2 ? ', half of them on each of two nodes (Redis adapter)' : ' on one node (no Redis reachable)') +
      "; latency from the event's `timestamp` (Postgres `clock_timestamp()` inside the writing transaction) to each receipt, as in (2). " +
      'Through spotcast, the node that commits emits. Over pg as supabase-js would (role and claims set locally, `select public.create_booking(…)`) and as direct `UPDATE`s of the lot row (announced by triggers), ' +
      'no node wrote the event: Postgres notifies every node at commit (`LISTEN spotcast_events`), one claims it and emits it through the adapter. Goal p99 < 50 ms.',
    '',
    table(['write', 'p50 ms', 'p95 ms', 'p99 ms', 'goal', 'lost', 'duplicates'], PATHS.map(row)),
    '',
  ];
}

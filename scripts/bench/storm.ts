/**
 * Scenario: a reconnect storm as users see it. N clients (each its own user, behind one trusted
 * balancer that sends X-Forwarded-For, spotcast's default connection limits on) are subscribed to
 * lot rooms on node A; A stops, node B starts on the same database, the lots change K times each
 * while nobody is connected, then every client reconnects to B at once resuming with `last_seq`.
 * Measured: time until all are connected and until all are caught up (their `resumed` answer,
 * after the replay), refusals, and the database work it caused (pg_stat_database deltas). The same
 * clients drop and reconnect to a restarted bare Socket.IO server in the same run, for the rate.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Child } from './lib/ipc.js';
import { BENCH_SECRET, createLots, sleep, split, sql, startBare, startSpotcast, sum, triggerSocket, type BenchContext, type Server } from './lib/harness.js';
import { table, verdict } from './lib/markdown.js';
import type { Options } from './lib/options.js';
import { fmt, merge, pct } from './lib/stats.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const LOTS = 20;
/** Changes per lot while the clients are away: what each client must be replayed. */
const MISSED = 5;
/** Handshakes in flight per load process: "all at once", bounded by what one process can open. */
const IN_FLIGHT = 1000;
/** Sockets per load process (each is an open file; the limit here is 20,000). */
const PER_PROCESS = 9000;

/** spotcast's own connection limits as deployed, behind a balancer on loopback (the default TRUST_PROXY). */
const DEPLOYED_LIMITS = { RATE_LIMIT_CONNECTIONS: '300/10', TRUST_PROXY: 'loopback' };

interface RunAnswer {
  started: number;
  connected: number[];
  caughtUp: number[];
  errors: Record<string, number>;
  events: number;
}

export interface StormRun {
  clients: number;
  ok: number;
  refused: Record<string, number>;
  /** ms from the storm's start until the last client was connected / had caught up. */
  allConnectedMs: number;
  allCaughtUpMs: number;
  connectP50: number;
  connectP99: number;
  caughtUpP99: number;
  connectsPerSec: number;
  bareConnectsPerSec: number;
  bareRefused: Record<string, number>;
  /** Replayed events received, and what the clients should have been sent (MISSED each). */
  replayed: number;
  expected: number;
  xacts: number;
  tupInserted: number;
  tupUpdated: number;
}

export interface StormResults {
  runs: Map<number, StormRun[]>;
  stops: string[];
}

interface DbStats {
  xact_commit: string;
  tup_inserted: string;
  tup_updated: string;
}

async function dbStats(ctx: BenchContext): Promise<{ xacts: number; ins: number; upd: number }> {
  const name = new URL(ctx.databaseUrl).pathname.slice(1);
  // The statistics collector publishes a backend's counts within a second of its transactions.
  await sleep(1500);
  const { rows } = await sql(ctx.adminUrl, 'select xact_commit, tup_inserted, tup_updated from pg_stat_database where datname = $1', [name]);
  const r = rows[0] as DbStats;
  return { xacts: Number(r.xact_commit), ins: Number(r.tup_inserted), upd: Number(r.tup_updated) };
}

function merged(answers: RunAnswer[]) {
  const t0 = Math.min(...answers.map((a) => a.started));
  const shift = (a: RunAnswer, xs: number[]) => xs.map((x) => x + a.started - t0);
  const connected = merge(answers.map((a) => shift(a, a.connected)));
  const caughtUp = merge(answers.map((a) => shift(a, a.caughtUp)));
  const refused: Record<string, number> = {};
  for (const a of answers) for (const [k, v] of Object.entries(a.errors)) refused[k] = (refused[k] ?? 0) + v;
  return { connected, caughtUp, refused, events: sum(answers.map((a) => a.events)) };
}

async function each(procs: Child[], cmd: string, args: (i: number) => unknown): Promise<RunAnswer[]> {
  return Promise.all(procs.map((p, i) => p.call<RunAnswer>(cmd, args(i), 900_000)));
}

async function stormOnce(ctx: BenchContext, procs: Child[], n: number, r: number, stops: string[]): Promise<StormRun | undefined> {
  const parts = split(n, procs.length);
  const firsts = parts.map((_, i) => sum(parts.slice(0, i)));
  const lots = await createLots(ctx.databaseUrl, LOTS, { total: 100_000, label: `storm ${n} ${r}` });
  const rooms = lots.map((id) => `parking_lot:${id}`);
  const tag = `storm-${n}-${r}`;

  // The bare reference: the same clients, dropped by a restart, reconnecting at once.
  let bareRate = NaN;
  let bareRefused: Record<string, number> = {};
  {
    let bare: Server = await startBare(`${tag}-bare-a`);
    try {
      await each(procs, 'connect', (i) => ({ url: bare.url, count: parts[i], first: firsts[i], rooms: [], concurrency: IN_FLIGHT, timeoutMs: 60_000 }));
      await bare.child.stop();
      await each(procs, 'drop', () => ({}));
      bare = await startBare(`${tag}-bare-b`);
      const m = merged(await each(procs, 'storm', () => ({ url: bare.url, concurrency: IN_FLIGHT, timeoutMs: 60_000 })));
      bareRate = m.connected.length / (pct(m.connected, 100) / 1000);
      bareRefused = m.refused;
      await each(procs, 'close', () => ({}));
    } finally {
      await bare.child.stop();
    }
  }

  const a = await startSpotcast(ctx, `${tag}-a`, { env: DEPLOYED_LIMITS });
  let b: Server | undefined;
  try {
    const first = merged(await each(procs, 'connect', (i) => ({ url: a.url, count: parts[i], first: firsts[i], secret: BENCH_SECRET, rooms, concurrency: 200, timeoutMs: 60_000 })));
    if (first.connected.length < n) {
      stops.push(`${n} clients, run ${r}: only ${first.connected.length} connected before the storm (${JSON.stringify(first.refused)})`);
      return undefined;
    }
    await a.child.stop();
    await each(procs, 'drop', () => ({}));
    b = await startSpotcast(ctx, `${tag}-b`, { env: DEPLOYED_LIMITS });
    const admin = await triggerSocket(b);
    for (let k = 0; k < MISSED; k++)
      for (const lot of lots) {
        const answer = (await admin.timeout(30_000).emitWithAck('set_parking_availability', { parking_lot_id: lot, available_spaces: 1000 + k })) as { ok: boolean };
        if (!answer.ok) throw new Error(`set_parking_availability refused: ${JSON.stringify(answer)}`);
      }
    admin.close();
    const before = await dbStats(ctx);
    const m = merged(await each(procs, 'storm', () => ({ url: b!.url, concurrency: IN_FLIGHT, timeoutMs: 120_000 })));
    // What the storm wrote (the connection log) is flushed within ACTIVITY_FLUSH_INTERVAL_MS.
    await sleep(1000);
    const after = await dbStats(ctx);
    await each(procs, 'close', () => ({}));
    const allConnectedMs = pct(m.connected, 100);
    return {
      clients: n,
      ok: m.caughtUp.length,
      refused: m.refused,
      allConnectedMs,
      allCaughtUpMs: pct(m.caughtUp, 100),
      connectP50: pct(m.connected, 50),
      connectP99: pct(m.connected, 99),
      caughtUpP99: pct(m.caughtUp, 99),
      connectsPerSec: m.connected.length / (allConnectedMs / 1000),
      bareConnectsPerSec: bareRate,
      bareRefused,
      replayed: m.events,
      expected: n * MISSED,
      // pg_stat_database's own reads are transactions too (one per dbStats).
      xacts: after.xacts - before.xacts,
      tupInserted: after.ins - before.ins,
      tupUpdated: after.upd - before.upd,
    };
  } finally {
    await a.child.stop();
    await b?.child.stop();
  }
}

export async function stormScenario(ctx: BenchContext, o: Options): Promise<StormResults> {
  const results: StormResults = { runs: new Map(), stops: [] };
  for (const n of o.stormSizes) {
    const k = Math.max(1, Math.ceil(n / PER_PROCESS));
    const procs = await Promise.all(
      Array.from({ length: k }, (_, i) => Child.start(`storm-client-${i}`, path.join(HERE, 'storm-client.ts'), { env: { PATH: process.env.PATH ?? '', NODE_ENV: 'production' } })),
    );
    try {
      for (let r = 1; r <= o.runs; r++) {
        const run = await stormOnce(ctx, procs, n, r, results.stops);
        if (!run) break;
        const list = results.runs.get(n) ?? [];
        list.push(run);
        results.runs.set(n, list);
        ctx.log(
          `  storm ${n} run ${r}: all connected in ${(run.allConnectedMs / 1000).toFixed(1)} s (${Math.round(run.connectsPerSec)}/s; bare ${Math.round(run.bareConnectsPerSec)}/s), caught up in ${(run.allCaughtUpMs / 1000).toFixed(1)} s; refused ${JSON.stringify(run.refused)} (bare ${JSON.stringify(run.bareRefused)}); ${run.xacts} transactions, ${run.tupInserted} rows inserted`,
        );
      }
    } finally {
      await Promise.all(procs.map((p) => p.stop(10_000)));
    }
  }
  return results;
}

export function renderStorm(s: StormResults): string[] {
  const rows: string[][] = [];
  for (const [n, runs] of s.runs) {
    const f = (g: (r: StormRun) => number, d = 1) => fmt(runs.map(g), d);
    const list = (x: Record<string, number>) => Object.entries(x).map(([k, v]) => `${v}× ${k}`).join(', ') || '0';
    const refused = runs.map((r) => `${list(r.refused)} (bare ${list(r.bareRefused)})`).join(' / ');
    rows.push([
      String(n),
      f((r) => r.allConnectedMs / 1000),
      f((r) => r.allCaughtUpMs / 1000),
      f((r) => r.connectP99 / 1000, 2),
      f((r) => r.connectsPerSec, 0),
      f((r) => r.bareConnectsPerSec, 0),
      `${f((r) => r.connectsPerSec / r.bareConnectsPerSec, 2)} ${verdict(runs.map((r) => r.connectsPerSec / r.bareConnectsPerSec), (m) => m >= 0.8)}`,
      refused,
      runs.map((r) => `${r.replayed}/${r.expected}`).join(' / '),
      f((r) => r.xacts / r.clients, 2),
      f((r) => r.tupInserted / r.clients, 2),
    ]);
  }
  return [
    '### Reconnect storm',
    '',
    `N clients, each its own user subscribed to one of ${LOTS} lot rooms, behind one balancer on loopback (TRUST_PROXY=loopback, X-Forwarded-For an address per client) with spotcast's default connection limit (RATE_LIMIT_CONNECTIONS=300/10 per address). Node A stops; node B starts on the same database; each lot changes ${MISSED} times; then every client reconnects to B at once (${IN_FLIGHT} handshakes in flight per load process) resuming with \`auth.last_seq\`. Caught up = its \`resumed\` answer, after the replayed events. The bare server's clients are dropped by a restart the same way. Database work: pg_stat_database deltas over the storm (per client).`,
    '',
    table(
      ['clients', 'all connected s', 'all caught up s', 'connect p99 s', 'connects/s', 'bare connects/s', 'spotcast ÷ bare (goal ≥ 0.8)', 'refused', 'replayed events received', 'transactions / client', 'rows inserted / client'],
      rows,
    ),
    '',
    ...(s.stops.length ? [`Stopped early: ${s.stops.join('; ')}.`, ''] : []),
  ];
}

/**
 * The measurements. Each scenario starts the servers it needs, and stops them in `finally`; the
 * load-generating fleet is shared. Runs of the things compared are interleaved (run 1 of A, run 1
 * of B, run 2 of A, …) so that a change in the machine's load hits both sides of a ratio alike.
 */
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { wallNow } from './lib/ipc.js';
import {
  announcementTrigger,
  availabilityTrigger,
  bareTrigger,
  createLots,
  freshValue,
  ROOT,
  sleep,
  sql,
  startBare,
  startSpotcast,
  sum,
  triggerSocket,
  type BenchContext,
  type Fleet,
  type Server,
  type Trigger,
} from './lib/harness.js';
import { releaseBenchHolds } from './external.js';
import type { Options } from './lib/options.js';
import { createDatabase, dropDatabase, withDatabase } from './lib/machine.js';
import { summarizeProfile, type ProfileSummary } from './lib/profile.js';
import { latencySummary, merge, parseStamp, pct, type LatencySummary } from './lib/stats.js';

// ---- fan-out ------------------------------------------------------------------------------------

export interface FanoutRun extends LatencySummary {
  /** Deliveries missing in the latency phase (expected events × subscribers − received). */
  lost: number;
  /** Deliveries per second of a burst of events sent at once: received / (last arrival − first send). */
  msgsPerSec: number;
  burstLost: number;
  /** Second copies of an event on a socket that already had it (both phases). */
  dups: number;
  /** The server's CPU time (user + system) per 1000 deliveries, both phases: independent of the machine's load. */
  cpuMsPer1k: number;
  /** The server's write system calls per delivery, both phases (NaN off Linux). */
  writesPerMsg: number;
}

/**
 * One measurement on one room: `events` broadcasts one at a time (each waits until every subscriber
 * has it), latency = arrival − the moment the trigger was sent; then a burst of `burst` triggers
 * sent at once, for the delivery rate.
 */
export async function measureFanout(
  fleet: Fleet,
  trigger: Trigger,
  lotId: string,
  perClient: number[],
  o: { events: number; burst: number; gapMs?: number; server?: Server },
): Promise<FanoutRun> {
  const subscribers = sum(perClient);
  const cpu0 = o.server ? await o.server.child.call<number>('cpu') : NaN;
  const writes0 = o.server ? await o.server.child.call<number>('writes') : NaN;
  const t0: Record<string, number> = {};
  for (let e = 0; e < o.events; e++) {
    const v = freshValue();
    const key = trigger.key(lotId, v);
    t0[key] = wallNow();
    const fired = trigger.fire(lotId, v);
    await fleet.wait([key], perClient, 20_000);
    await fired;
    await sleep(o.gapMs ?? 20);
  }
  const lat = await fleet.collect({ keys: Object.keys(t0), t0 });
  const summary = latencySummary(lat.lat);

  let msgsPerSec = NaN;
  let burstLost = 0;
  let delivered = lat.count;
  let dups = lat.dups;
  if (o.burst > 0) {
    const keys: string[] = [];
    const fires: Promise<void>[] = [];
    const start = wallNow();
    for (let b = 0; b < o.burst; b++) {
      const v = freshValue();
      keys.push(trigger.key(lotId, v));
      fires.push(trigger.fire(lotId, v));
    }
    await Promise.all(fires);
    await fleet.wait(keys, perClient, 60_000);
    const got = await fleet.collect({ keys, latencies: false });
    msgsPerSec = got.count / ((got.last - start) / 1000);
    burstLost = o.burst * subscribers - got.count;
    delivered += got.count;
    dups += got.dups;
  }
  const cpu1 = o.server ? await o.server.child.call<number>('cpu') : NaN;
  const writes1 = o.server ? await o.server.child.call<number>('writes') : NaN;
  const cpuMsPer1k = (cpu1 - cpu0) / 1000 / (delivered / 1000);
  return { ...summary, lost: o.events * subscribers - lat.count, msgsPerSec, burstLost, dups, cpuMsPer1k, writesPerMsg: (writes1 - writes0) / delivered };
}

async function warmUp(fleet: Fleet, trigger: Trigger, lotId: string, perClient: number[]): Promise<void> {
  await measureFanout(fleet, trigger, lotId, perClient, { events: 3, burst: 3 });
  await fleet.clear();
}

/** target name → one FanoutRun per run, for each room size. */
export type FanoutTable = Map<number, Map<string, FanoutRun[]>>;

function push(table: FanoutTable, size: number, target: string, run: FanoutRun): void {
  let row = table.get(size);
  if (!row) table.set(size, (row = new Map()));
  const runs = row.get(target) ?? [];
  runs.push(run);
  row.set(target, runs);
}

export interface FanoutResults {
  fanout?: FanoutTable;
  log?: FanoutTable;
}

export const T_BARE = 'bare Socket.IO';
export const T_BARE_PG = 'bare Socket.IO + a Postgres transaction per trigger';
export const T_AVAIL = 'spotcast set_parking_availability';
export const T_ANNOUNCE = 'spotcast send_announcement';
export const T_LOG_ON = 'ACTIVITY_LOG_ENABLED=true';
export const T_LOG_OFF = 'ACTIVITY_LOG_ENABLED=false';

/**
 * Scenario 1 (fan-out vs bare Socket.IO) and 6 (the activity log's cost), sharing one spotcast
 * node with the log on. Every server holds max(sizes) sockets; the first `size` of them (spread
 * over the load processes) are in that size's lot room, so a broadcast reaches exactly `size`.
 */
export async function fanoutScenarios(ctx: BenchContext, fleet: Fleet, o: Options, which: { fanout: boolean; log: boolean }): Promise<FanoutResults> {
  const results: FanoutResults = {};
  const servers: Server[] = [];
  const max = Math.max(...o.sizes);
  try {
    const lots = await createLots(ctx.databaseUrl, o.sizes.length, { total: 1_000_000, label: 'fan-out' });
    const lotOf = (i: number) => lots[i]!;
    const prepare = async (server: Server, group: string) => {
      const c = await fleet.connect(group, server, max);
      if (c.failed > 0) throw new Error(`${server.name}: ${c.failed} of ${max} sockets failed to connect: ${JSON.stringify(c.errors)}`);
      ctx.log(`  ${server.name}: ${max} sockets connected in ${(c.ms / 1000).toFixed(1)} s`);
      for (let i = 0; i < o.sizes.length; i++) await fleet.subscribe(group, `parking_lot:${lotOf(i)}`, fleet.split(o.sizes[i]!));
    };

    const spot = await startSpotcast(ctx, 'spotcast-log-on');
    servers.push(spot);
    await prepare(spot, 'fan-spot');
    const spotAdmin = await triggerSocket(spot);
    const avail = availabilityTrigger(spotAdmin, T_AVAIL);

    if (which.fanout) {
      const bare = await startBare('bare');
      servers.push(bare);
      await prepare(bare, 'fan-bare');
      await sql(
        ctx.databaseUrl,
        `create table if not exists public.bench_bare_lot (id int primary key, n bigint not null);
         insert into public.bench_bare_lot values (1, 0) on conflict do nothing;
         create table if not exists public.bench_bare_events (id bigserial primary key, payload jsonb not null, created_at timestamptz not null default now());`,
      );
      const barePg = await startBare('bare-pg', {}, ctx.databaseUrl);
      servers.push(barePg);
      await prepare(barePg, 'fan-bare-pg');
      const targets: [Trigger, Server][] = [
        [bareTrigger(await triggerSocket(bare)), bare],
        [bareTrigger(await triggerSocket(barePg), T_BARE_PG), barePg],
        [avail, spot],
        [announcementTrigger(spotAdmin), spot],
      ];
      for (let i = 0; i < o.sizes.length; i++) for (const [t] of targets) await warmUp(fleet, t, lotOf(i), fleet.split(o.sizes[i]!));
      const table: FanoutTable = new Map();
      for (let r = 0; r < o.runs; r++) {
        for (let i = 0; i < o.sizes.length; i++) {
          for (const [t, server] of targets) {
            const run = await measureFanout(fleet, t, lotOf(i), fleet.split(o.sizes[i]!), { ...o, server });
            push(table, o.sizes[i]!, t.name, run);
            ctx.log(
              `  run ${r + 1} · ${o.sizes[i]} subscribers · ${t.name}: p50 ${run.p50.toFixed(1)} p99 ${run.p99.toFixed(1)} ms, ` +
                `${Math.round(run.msgsPerSec)} msgs/s, ${run.cpuMsPer1k.toFixed(1)} CPU ms per 1000, ${run.writesPerMsg.toFixed(2)} writes per msg`,
            );
          }
        }
      }
      results.fanout = table;
      await fleet.disconnect('fan-bare');
      await fleet.disconnect('fan-bare-pg');
      await bare.child.stop();
      await barePg.child.stop();
    }

    if (which.log) {
      const nolog = await startSpotcast(ctx, 'spotcast-log-off', { env: { ACTIVITY_LOG_ENABLED: 'false' } });
      servers.push(nolog);
      await prepare(nolog, 'fan-nolog');
      const targets: [Trigger, Server][] = [
        [availabilityTrigger(spotAdmin, T_LOG_ON), spot],
        [availabilityTrigger(await triggerSocket(nolog), T_LOG_OFF), nolog],
      ];
      for (let i = 0; i < o.sizes.length; i++) for (const [t] of targets) await warmUp(fleet, t, lotOf(i), fleet.split(o.sizes[i]!));
      const table: FanoutTable = new Map();
      for (let r = 0; r < o.runs; r++) {
        for (let i = 0; i < o.sizes.length; i++) {
          for (const [t, server] of targets) {
            const run = await measureFanout(fleet, t, lotOf(i), fleet.split(o.sizes[i]!), { ...o, server });
            push(table, o.sizes[i]!, t.name, run);
            ctx.log(`  run ${r + 1} · ${o.sizes[i]} subscribers · ${t.name}: p99 ${run.p99.toFixed(1)} ms, ${Math.round(run.msgsPerSec)} msgs/s, ${run.cpuMsPer1k.toFixed(1)} CPU ms per 1000`);
          }
        }
      }
      results.log = table;
      await fleet.disconnect('fan-nolog');
    }
    await fleet.disconnect('fan-spot');
  } finally {
    await Promise.all(servers.map((s) => s.child.stop()));
  }
  return results;
}

// ---- connections (memory) -------------------------------------------------------------------------

export interface MemoryRow {
  heapPerSocket: number[];
  rssPerSocket: number[];
  connectPerSec: number[];
}

export interface MemoryResults {
  /** server kind → size → per-run figures. */
  rows: Map<string, Map<number, MemoryRow>>;
  /** Where a server stopped short of a size, and why. */
  stops: string[];
  baseline: Map<string, { heapUsed: number[]; rss: number[] }>;
}

interface Mem {
  heapUsed: number;
  rss: number;
  sockets: number;
  gc: boolean;
}

/**
 * Scenario 3: a fresh server per run (started with --expose-gc); memory after a forced GC before
 * any socket, then after each size of idle sockets (spotcast: authenticated, each its own user);
 * per socket = (after − before) / sockets.
 */
export async function connectionsScenario(ctx: BenchContext, fleet: Fleet, o: Options): Promise<MemoryResults> {
  const results: MemoryResults = { rows: new Map(), stops: [], baseline: new Map() };
  const kinds = ['bare Socket.IO', 'spotcast'] as const;
  for (let r = 0; r < o.runs; r++) {
    for (const kind of kinds) {
      const server = kind === 'spotcast' ? await startSpotcast(ctx, `mem-spotcast-${r + 1}`, { flags: { gc: true } }) : await startBare(`mem-bare-${r + 1}`, { gc: true });
      const group = `mem-${kind}`;
      try {
        await sleep(500);
        const base = await server.child.call<Mem>('mem');
        if (!base.gc) throw new Error('the server was not started with --expose-gc');
        const b = results.baseline.get(kind) ?? { heapUsed: [], rss: [] };
        b.heapUsed.push(base.heapUsed);
        b.rss.push(base.rss);
        results.baseline.set(kind, b);
        let connected = 0;
        for (const size of o.connSizes) {
          const c = await fleet.connect(group, server, size - connected, { concurrency: 100 });
          if (c.failed > 0) {
            results.stops.push(
              `${kind}, run ${r + 1}: stopped at ${connected + c.ok} of ${size} sockets: ${Object.entries(c.errors).map(([k, v]) => `${v}× ${k}`).join(', ')}`,
            );
            break;
          }
          const rate = (size - connected) / (c.ms / 1000);
          connected = size;
          await sleep(300);
          const m = await server.child.call<Mem>('mem');
          let bySize = results.rows.get(kind);
          if (!bySize) results.rows.set(kind, (bySize = new Map()));
          const row = bySize.get(size) ?? { heapPerSocket: [], rssPerSocket: [], connectPerSec: [] };
          row.heapPerSocket.push((m.heapUsed - base.heapUsed) / m.sockets);
          row.rssPerSocket.push((m.rss - base.rss) / m.sockets);
          row.connectPerSec.push(rate);
          bySize.set(size, row);
          ctx.log(`  run ${r + 1} · ${kind} · ${m.sockets} sockets: heap +${((m.heapUsed - base.heapUsed) / m.sockets / 1024).toFixed(1)} KiB, rss +${((m.rss - base.rss) / m.sockets / 1024).toFixed(1)} KiB per socket; ${Math.round(rate)} connects/s`);
        }
      } finally {
        await fleet.disconnect(group).catch(() => undefined);
        await server.child.stop();
      }
    }
  }
  return results;
}

// ---- bookings -------------------------------------------------------------------------------

interface BookAnswer {
  ok: number;
  failed: number;
  codes: Record<string, number>;
  start: number;
  end: number;
  ackMs: Float64Array;
}

export interface BookingRun {
  perSec: number;
  ok: number;
  failed: number;
  codes: Record<string, number>;
  ackP50: number;
  ackP99: number;
}

export interface BookingResults {
  raw: BookingRun[];
  socket: BookingRun[];
  /** Steady rate → per-run figures, `latSubscribers` on the lot: event timestamp → parking_updated arrival. */
  latency: Map<number, (LatencySummary & { lost: number; dups: number })[]>;
  /** As fast as the bookers can, with the subscribers on the lot. */
  saturated: (LatencySummary & { lost: number; dups: number; perSec: number; redelivered: number })[];
  saturatedBookings: number;
}

function bookingRun(answers: BookAnswer[]): BookingRun {
  const ok = sum(answers.map((a) => a.ok));
  const start = Math.min(...answers.map((a) => a.start));
  const end = Math.max(...answers.map((a) => a.end));
  const codes: Record<string, number> = {};
  for (const a of answers) for (const [k, v] of Object.entries(a.codes)) codes[k] = (codes[k] ?? 0) + v;
  const ack = merge(answers.map((a) => a.ackMs));
  return { perSec: ok / ((end - start) / 1000), ok, failed: sum(answers.map((a) => a.failed)), codes, ackP50: pct(ack, 50), ackP99: pct(ack, 99) };
}

/**
 * Scenario 2: the same contested bookings (one lot, `bookConcurrency` concurrent callers) through
 * the full path — socket create_booking → validation, limits → SQL function → outbox → emit → ack —
 * and straight over pg, with the same concurrency and the same pool size.
 */
export async function bookingScenario(ctx: BenchContext, fleet: Fleet, o: Options): Promise<BookingResults> {
  const saturatedBookings = Math.max(50, Math.round(o.bookings / 8));
  const results: BookingResults = { raw: [], socket: [], latency: new Map(), saturated: [], saturatedBookings };
  // The raw path writes events that no server emits: in the nodes' database, a node's outbox
  // sweeper would re-emit them (work the raw side caused, charged to the socket side). So the raw
  // path gets a database of its own, migrated and configured (booking limits) by a spotcast node
  // started against it and stopped again.
  const rawName = `spotcast_bench_${ctx.runId}_raw`;
  await createDatabase(ctx.adminUrl, rawName);
  ctx.onCleanup('drop the raw-path database', () => dropDatabase(ctx.adminUrl, rawName));
  const rawDatabaseUrl = withDatabase(ctx.adminUrl, rawName);
  await (await startSpotcast({ ...ctx, databaseUrl: rawDatabaseUrl }, 'configure-raw-database')).child.stop();
  const server = await startSpotcast(ctx, 'spotcast-bookings');
  try {
    const c = await fleet.connect('bookers', server, o.bookConcurrency);
    if (c.failed > 0) throw new Error(`bookers failed to connect: ${JSON.stringify(c.errors)}`);
    const workers = fleet.split(o.bookConcurrency);
    const pools = fleet.split(o.bookPool).map((n) => Math.max(1, n));
    const totals = (n: number) => fleet.split(n);

    const viaSockets = async (lotId: string, n: number) =>
      bookingRun(await Promise.all(fleet.clients.map((cl, i) => cl.call<BookAnswer>('bookSockets', { group: 'bookers', lotId, total: totals(n)[i] }, 600_000))));
    const viaPg = async (lotId: string, n: number) =>
      bookingRun(
        await Promise.all(
          fleet.clients.map((cl, i) =>
            cl.call<BookAnswer>('bookRaw', { databaseUrl: rawDatabaseUrl, lotId, total: totals(n)[i], workers: workers[i], poolMax: pools[i] }, 600_000),
          ),
        ),
      );

    const [warmRaw] = await createLots(rawDatabaseUrl, 1, { total: 1_000_000, label: 'booking warm-up' });
    const [warmLot] = await createLots(ctx.databaseUrl, 1, { total: 1_000_000, label: 'booking warm-up' });
    await viaPg(warmRaw!, Math.min(200, o.bookings));
    await viaSockets(warmLot!, Math.min(200, o.bookings));

    for (let r = 0; r < o.runs; r++) {
      const [rawLot] = await createLots(rawDatabaseUrl, 1, { total: 1_000_000, label: `booking run ${r + 1}` });
      const [sockLot] = await createLots(ctx.databaseUrl, 1, { total: 1_000_000, label: `booking run ${r + 1}` });
      const order = r % 2 === 0 ? (['raw', 'socket'] as const) : (['socket', 'raw'] as const);
      for (const mode of order) {
        const run = mode === 'raw' ? await viaPg(rawLot!, o.bookings) : await viaSockets(sockLot!, o.bookings);
        (mode === 'raw' ? results.raw : results.socket).push(run);
        ctx.log(`  run ${r + 1} · ${mode}: ${run.perSec.toFixed(0)} bookings/s (${run.ok} ok, ${run.failed} failed${run.failed ? ` ${JSON.stringify(run.codes)}` : ''}), ack p99 ${run.ackP99.toFixed(1)} ms`);
      }
    }

    // commit → parking_updated at latSubscribers subscribers of the booked lot
    const subs = await fleet.connect('lot-subscribers', server, o.latSubscribers);
    if (subs.failed > 0) throw new Error(`subscribers failed to connect: ${JSON.stringify(subs.errors)}`);
    const perClient = fleet.split(o.latSubscribers);
    for (let r = 0; r < o.runs; r++) {
      for (const rate of o.latRates) {
        const [lot] = await createLots(ctx.databaseUrl, 1, { total: 1_000_000, label: `booking latency ${rate}/s ${r + 1}` });
        await fleet.subscribe('lot-subscribers', `parking_lot:${lot}`, perClient);
        const paced = await fleet.clients[0]!.call<{ ok: number; failed: number }>('bookPaced', { group: 'bookers', lotId: lot, rate, count: o.latCount }, 600_000);
        await sleep(1000);
        const got = await fleet.collect({ prefix: `${lot}|booking_created|` });
        const run = { ...latencySummary(got.lat), lost: paced.ok * o.latSubscribers - got.count, dups: got.dups };
        results.latency.set(rate, [...(results.latency.get(rate) ?? []), run]);
        ctx.log(`  run ${r + 1} · ${rate}/s, ${o.latSubscribers} subscribers: p50 ${run.p50.toFixed(1)} p99 ${run.p99.toFixed(1)} ms (lost ${run.lost}, duplicates ${run.dups})`);
      }

      // the same subscribers while the bookers go as fast as they can: past what one node can fan out
      const [hot] = await createLots(ctx.databaseUrl, 1, { total: 1_000_000, label: `booking saturated ${r + 1}` });
      await fleet.subscribe('lot-subscribers', `parking_lot:${hot}`, perClient);
      const before = await server.child.call<{ sweeper: { redelivered: number } }>('stats');
      const booked = await viaSockets(hot!, saturatedBookings);
      await sleep(1500);
      const after = await server.child.call<{ sweeper: { redelivered: number } }>('stats');
      const hotGot = await fleet.collect({ prefix: `${hot}|booking_created|` });
      const sat = {
        ...latencySummary(hotGot.lat),
        lost: booked.ok * o.latSubscribers - hotGot.count,
        dups: hotGot.dups,
        perSec: booked.perSec,
        redelivered: after.sweeper.redelivered - before.sweeper.redelivered,
      };
      results.saturated.push(sat);
      ctx.log(
        `  run ${r + 1} · unthrottled (${booked.perSec.toFixed(0)} bookings/s), ${o.latSubscribers} subscribers: p50 ${sat.p50.toFixed(1)} p99 ${sat.p99.toFixed(1)} ms ` +
          `(lost ${sat.lost}, duplicates ${sat.dups}, sweeper re-emitted ${sat.redelivered} events)`,
      );
      // (the subscribers stay in the rooms of earlier lots, which get no more events)
    }
    await fleet.disconnect('lot-subscribers');
    await fleet.disconnect('bookers');
  } finally {
    await server.child.stop();
    // The bench's holds must not expire into later scenarios (their sweeps would pick them up).
    await releaseBenchHolds(ctx.databaseUrl);
  }
  return results;
}

// ---- two nodes --------------------------------------------------------------------------------

export interface NodesResults {
  cross: FanoutRun[];
  local: FanoutRun[];
  subscribers: number;
}

/**
 * Scenario 4: two nodes on the Redis adapter (a channel prefix of this run's own); subscribers on
 * node A; the admin trigger on node B (cross-node) or on node A (same node, for reference).
 */
export async function nodesScenario(ctx: BenchContext, fleet: Fleet, o: Options): Promise<NodesResults> {
  const subscribers = o.latSubscribers;
  const results: NodesResults = { cross: [], local: [], subscribers };
  const servers: Server[] = [];
  try {
    const a = await startSpotcast(ctx, 'node-a', { redis: true, cluster: 'two-nodes' });
    servers.push(a);
    const b = await startSpotcast(ctx, 'node-b', { redis: true, cluster: 'two-nodes' });
    servers.push(b);
    const [lot] = await createLots(ctx.databaseUrl, 1, { total: 1_000_000, label: 'two nodes' });
    const c = await fleet.connect('node-a-subs', a, subscribers);
    if (c.failed > 0) throw new Error(`subscribers failed to connect: ${JSON.stringify(c.errors)}`);
    const perClient = fleet.split(subscribers);
    await fleet.subscribe('node-a-subs', `parking_lot:${lot}`, perClient);
    const cross = availabilityTrigger(await triggerSocket(b), 'cross-node (trigger on B)');
    const local = availabilityTrigger(await triggerSocket(a), 'same node (trigger on A)');
    await warmUp(fleet, cross, lot!, perClient);
    await warmUp(fleet, local, lot!, perClient);
    for (let r = 0; r < o.runs; r++) {
      for (const [t, into] of [
        [cross, results.cross],
        [local, results.local],
      ] as const) {
        const run = await measureFanout(fleet, t, lot!, perClient, { events: o.events * 2, burst: o.burst });
        into.push(run);
        ctx.log(`  run ${r + 1} · ${t.name}: p50 ${run.p50.toFixed(1)} p99 ${run.p99.toFixed(1)} ms, ${Math.round(run.msgsPerSec)} msgs/s`);
      }
    }
    await fleet.disconnect('node-a-subs');
  } finally {
    await Promise.all(servers.map((s) => s.child.stop()));
  }
  return results;
}

// ---- expiry ---------------------------------------------------------------------------------

export interface ExpiryRun extends LatencySummary {
  lost: number;
  holds: number;
}

export interface ExpiryResults {
  inProcess: ExpiryRun[];
  /** With Redis: this node's own timer, the BullMQ job as the durable copy. */
  bullmq: ExpiryRun[];
  /** With Redis, the node that made the holds killed (SIGKILL) right after: another node's BullMQ worker. */
  failover: ExpiryRun[];
  watchers: number;
}

interface ExpiryVariant {
  name: string;
  redis: boolean;
  /** Holds are made on a second node of the same cluster, killed once they are made. */
  killHolder: boolean;
  into: ExpiryRun[];
}

/**
 * Scenario 5: one hold per lot (so each announcement is told apart by its lot), `expiryWatchers`
 * sockets subscribed to every lot; lateness = arrival of the lot's parking_updated
 * `booking_expired` − the hold's hold_expires_at (the database's deadline). The holds last 1 s,
 * or 3 s where their node is killed first (time to make them all and kill it).
 * One variant at a time: every node runs the periodic sweep of due bookings over the whole
 * database, so a node of the other variant (a separate deployment, without a shared adapter)
 * would sometimes expire a hold first and announce it to its own sockets only. The sweep runs
 * hourly here, so what expires a hold is its timer or its job.
 */
export async function expiryScenario(ctx: BenchContext, fleet: Fleet, o: Options): Promise<ExpiryResults> {
  const results: ExpiryResults = { inProcess: [], bullmq: [], failover: [], watchers: o.expiryWatchers };
  const variants: ExpiryVariant[] = [
    { name: 'expiry-in-process', redis: false, killHolder: false, into: results.inProcess },
    ...(ctx.redisUrl
      ? [
          { name: 'expiry-bullmq', redis: true, killHolder: false, into: results.bullmq },
          { name: 'expiry-failover', redis: true, killHolder: true, into: results.failover },
        ]
      : []),
  ];
  for (const v of variants) {
    const server = await startSpotcast(ctx, v.name, { env: expiryEnv(v), redis: v.redis });
    try {
      await fleet.connect(`watch-${v.name}`, server, o.expiryWatchers);
      for (let r = 0; r < o.runs; r++) v.into.push(await expiryRun(ctx, fleet, o, v, server, r));
      await fleet.disconnect(`watch-${v.name}`);
    } finally {
      await server.child.stop();
    }
  }
  return results;
}

/** Every node of a variant: the same hold length, and a sweep too rare to expire anything here. */
const expiryEnv = (v: ExpiryVariant) => ({ BOOKING_HOLD_SECONDS: v.killHolder ? '3' : '1', JOBS_SWEEP_INTERVAL_MS: '3600000' });

async function expiryRun(ctx: BenchContext, fleet: Fleet, o: Options, v: ExpiryVariant, server: Server, r: number): Promise<ExpiryRun> {
  const perClient = fleet.split(o.expiryWatchers);
  const holder = v.killHolder ? await startSpotcast(ctx, `${v.name}-holder-${r + 1}`, { env: expiryEnv(v), redis: true, cluster: v.name }) : server;
  try {
    await fleet.connect(`hold-${v.name}`, holder, fleet.size * 2);
    const lots = await createLots(ctx.databaseUrl, o.expiryLots, { total: 10, label: `expiry ${v.name} ${r + 1}` });
    for (const lot of lots) await fleet.subscribe(`watch-${v.name}`, `parking_lot:${lot}`, perClient);
    const holds = await fleet.clients[0]!.call<{ lotId: string; holdExpiresAt: string | null; error?: string }[]>(
      'bookEach',
      { group: `hold-${v.name}`, lots, spacingMs: 40 },
      120_000,
    );
    if (v.killHolder) holder.child.kill();
    await fleet.disconnect(`hold-${v.name}`);
    const failed = holds.filter((h) => !h.holdExpiresAt);
    if (failed.length) throw new Error(`${failed.length} holds were refused: ${failed.map((f) => f.error).join(', ')}`);
    const t0: Record<string, number> = {};
    for (const h of holds) t0[`${h.lotId}|booking_expired|10`] = parseStamp(h.holdExpiresAt!);
    const lastDeadline = Math.max(...Object.values(t0));
    if (v.killHolder && Math.min(...Object.values(t0)) < Date.now()) throw new Error('a hold ran out before its node was killed: use longer holds');
    await fleet.wait(Object.keys(t0), perClient, Math.max(0, lastDeadline - Date.now()) + 15_000);
    const got = await fleet.collect({ keys: Object.keys(t0), t0 });
    const run = { ...latencySummary(got.lat), lost: Object.keys(t0).length * o.expiryWatchers - got.count, holds: Object.keys(t0).length };
    ctx.log(`  run ${r + 1} · ${v.name}: lateness p50 ${run.p50.toFixed(1)} p99 ${run.p99.toFixed(1)} ms (${run.holds} holds, lost ${run.lost})`);
    await fleet.clear();
    return run;
  } finally {
    if (v.killHolder) await holder.child.stop();
  }
}

// ---- profile ----------------------------------------------------------------------------------

export interface ProfileResult {
  what: string;
  spotcast: ProfileSummary;
  bare?: ProfileSummary;
  dir: string;
}

function newestProfile(dir: string): string {
  const files = readdirSync(dir)
    .filter((f) => f.endsWith('.cpuprofile'))
    .map((f) => path.join(dir, f));
  if (files.length === 0) throw new Error(`no .cpuprofile was written in ${dir}`);
  // The main thread's profile is the big one (tsx's loader thread writes a small one too).
  return files.sort((a, b) => statSync(b).size - statSync(a).size)[0]!;
}

/** Re-runs the fan-out with the given trigger under `node --cpu-prof` (and the bare server alike, for contrast). */
export async function profileFanout(ctx: BenchContext, fleet: Fleet, o: Options, size: number, target: string, keep: boolean): Promise<ProfileResult> {
  const dir = mkdtempSync(path.join(tmpdir(), 'spotcast-bench-prof-'));
  const perClient = fleet.split(size);
  const [lot] = await createLots(ctx.databaseUrl, 1, { total: 1_000_000, label: 'profile' });
  const bursts = 5;
  const profileOne = async (server: Server, trigger: (s: Server) => Promise<Trigger>): Promise<ProfileSummary> => {
    const window: [number, number] = [0, 0];
    try {
      await fleet.connect('prof', server, size);
      await fleet.subscribe('prof', `parking_lot:${lot}`, perClient);
      const t = await trigger(server);
      await warmUp(fleet, t, lot!, perClient);
      window[0] = await server.child.call<number>('mark');
      for (let i = 0; i < bursts; i++) await measureFanout(fleet, t, lot!, perClient, { events: o.events, burst: o.burst });
      window[1] = await server.child.call<number>('mark');
      await fleet.disconnect('prof');
    } finally {
      await server.child.stop();
    }
    return summarizeProfile(newestProfile(path.join(dir, server.name)), ROOT, window);
  };
  const spotDir = path.join(dir, 'profiled-spotcast');
  const spotcast = await profileOne(await startSpotcast(ctx, 'profiled-spotcast', { flags: { cpuProfDir: spotDir } }), async (s) => {
    const admin = await triggerSocket(s);
    return target === T_ANNOUNCE ? announcementTrigger(admin) : availabilityTrigger(admin);
  });
  const bare = await profileOne(await startBare('profiled-bare', { cpuProfDir: path.join(dir, 'profiled-bare') }), async (s) => bareTrigger(await triggerSocket(s)));
  if (!keep) rmSync(dir, { recursive: true, force: true });
  return { what: `${bursts} × (${o.events} single events + a burst of ${o.burst}) of ${target} to ${size} subscribers`, spotcast, bare, dir };
}

/** Re-runs the socket booking path under `node --cpu-prof`. */
export async function profileBookings(ctx: BenchContext, fleet: Fleet, o: Options, keep: boolean): Promise<ProfileResult> {
  const dir = mkdtempSync(path.join(tmpdir(), 'spotcast-bench-prof-'));
  const server = await startSpotcast(ctx, 'profiled-spotcast', { flags: { cpuProfDir: path.join(dir, 'profiled-spotcast') } });
  const n = o.bookings * 2;
  const window: [number, number] = [0, 0];
  try {
    await fleet.connect('prof-bookers', server, o.bookConcurrency);
    const [warm, lot] = await createLots(ctx.databaseUrl, 2, { total: 1_000_000, label: 'profile bookings' });
    const book = (lotId: string, total: number) =>
      Promise.all(fleet.clients.map((cl, i) => cl.call('bookSockets', { group: 'prof-bookers', lotId, total: fleet.split(total)[i] }, 600_000)));
    await book(warm!, Math.min(200, n));
    window[0] = await server.child.call<number>('mark');
    await book(lot!, n);
    window[1] = await server.child.call<number>('mark');
    await fleet.disconnect('prof-bookers');
  } finally {
    await server.child.stop();
    await releaseBenchHolds(ctx.databaseUrl);
  }
  const spotcast = summarizeProfile(newestProfile(path.join(dir, 'profiled-spotcast')), ROOT, window);
  if (!keep) rmSync(dir, { recursive: true, force: true });
  return { what: `${n} socket create_booking calls, ${o.bookConcurrency} concurrent, on one lot`, spotcast, dir };
}

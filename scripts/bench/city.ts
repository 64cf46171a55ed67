/**
 * Scenario 8: a city (issue 16 §4). `cityLots` lots and `cityClients` sockets per deployment, each
 * socket in 1–3 random lot rooms and 10 % of them in `parking_updates` (a seeded draw, the same for
 * every deployment); for `citySeconds`, hardware sends `cityRate` availability changes a second
 * (`set_parking_availability` on an admin socket of each node in turn) and users make
 * `cityBookings` bookings a second, every other one cancelled a second later. Each change is one
 * parking_updated to its lot room, parking_updates and admin.
 *
 * The baseline is a bare Socket.IO server (bare-server.ts) routing the same number of changes a
 * second to the same rooms, each after a Postgres transaction of its own; on two nodes, bare
 * servers share rooms through the same classic Redis adapter. Every deployment holds its sockets
 * for the whole scenario and runs are interleaved, so a change in the machine's load hits all alike.
 */
import type { Socket } from 'socket.io-client';
import { seeded } from './city-client.js';
import { barePayload, ownDatabase, paced } from './city-parts.js';
import { wallNow } from './lib/ipc.js';
import { createLots, sleep, split, sql, startBare, startSpotcast, sum, triggerSocket, type BenchContext, type Fleet, type Server } from './lib/harness.js';
import type { Options } from './lib/options.js';
import { latencySummary, type LatencySummary } from './lib/stats.js';

export { ownDatabase };

/**
 * Database connections per server process, spotcast's pool and the bare server's alike: several
 * deployments are up at once and must fit in Postgres's max_connections (100 by default).
 */
export const CITY_POOL = 6;

/** The seed of the subscription draw (printed in the report; the same every run). */
export const CITY_SEED = 16;
const SHARE_ALL_LOTS = 0.1;

export interface RedisIn {
  messages: number;
  bytes: number;
}

export interface CityRun extends LatencySummary {
  /** parking_updated events committed during the run. */
  changes: number;
  /** Deliveries owed: each change × the sockets in its lot room or in parking_updates. */
  expected: number;
  delivered: number;
  lost: number;
  dups: number;
  /** Deliveries per second, from the first change sent to the last arrival. */
  msgsPerSec: number;
  /** CPU time (user + system) of all the deployment's server processes per 1,000 deliveries. */
  cpuMsPer1k: number;
  /** Per node, what its adapter's subscriber connection received from Redis during the run. */
  redisIn: RedisIn[];
  refused: Record<string, number>;
}

export interface Deployment {
  name: string;
  /** The deployment's own database (see ownDatabase). */
  ctx: BenchContext;
  kind: 'spotcast' | 'bare';
  servers: Server[];
  lots: string[];
  /** lot → sockets that must get its events. */
  reach: Record<string, number>;
  subscriptions: number;
  triggers: Socket[];
  groups: string[];
  bookers: string[];
}

export interface CityResults {
  lots: number;
  clients: number;
  rate: number;
  bookings: number;
  seconds: number;
  deployments: { name: string; nodes: number; kind: 'spotcast' | 'bare'; subscriptions: number }[];
  runs: Map<string, CityRun[]>;
}

/** Connects the deployment's sockets (split over its nodes), draws and makes their subscriptions. */
export async function setUpDeployment(ctx: BenchContext, fleet: Fleet, o: Options, name: string, kind: 'spotcast' | 'bare', servers: Server[]): Promise<Deployment> {
  const lots = await createLots(ctx.databaseUrl, o.cityLots, { total: 1_000_000, label: `city ${name}` });
  const d: Deployment = { name, ctx, kind, servers, lots, reach: Object.fromEntries(lots.map((l) => [l, 0])), subscriptions: 0, triggers: [], groups: [], bookers: [] };
  const parts = split(o.cityClients, servers.length);
  const t = wallNow();
  for (let i = 0; i < servers.length; i++) {
    const group = `${name}#${i}`;
    d.groups.push(group);
    const c = await fleet.connect(group, servers[i]!, parts[i]!, { keyBy: 'seq', concurrency: 100 });
    if (c.failed > 0) throw new Error(`${name}: ${c.failed} of ${parts[i]} sockets failed to connect to ${servers[i]!.name}: ${JSON.stringify(c.errors)}`);
    const answers = await Promise.all(
      fleet.clients.map((cl, j) =>
        cl.call<{ reach: Record<string, number>; failed: number; errors: Record<string, number>; subscriptions: number }>('citySubscribe', { group, lots, share: SHARE_ALL_LOTS, seed: CITY_SEED * 1000 + i * 100 + j }, 600_000),
      ),
    );
    for (const a of answers) {
      if (a.failed > 0) throw new Error(`${name}: ${a.failed} subscriptions failed: ${JSON.stringify(a.errors)}`);
      for (const [l, n] of Object.entries(a.reach)) d.reach[l]! += n;
      d.subscriptions += a.subscriptions;
    }
    d.triggers.push(await triggerSocket(servers[i]!));
    if (kind === 'spotcast') {
      const bookers = `${name}#bookers${i}`;
      d.bookers.push(bookers);
      const b = await fleet.connect(bookers, servers[i]!, fleet.size * 4);
      if (b.failed > 0) throw new Error(`${name}: bookers failed to connect: ${JSON.stringify(b.errors)}`);
    }
  }
  ctx.log(`  ${name}: ${o.cityClients} sockets, ${d.subscriptions} subscriptions on ${servers.length} node(s) in ${((wallNow() - t) / 1000).toFixed(0)} s`);
  return d;
}

const redisIn = (d: Deployment): Promise<RedisIn[]> =>
  d.kind === 'spotcast' ? Promise.all(d.servers.map((s) => s.child.call<{ redisIn: RedisIn }>('stats').then((x) => x.redisIn))) : Promise.resolve([]);

/** One run of the workload on a deployment; every delivery it owes is waited for (or counted lost). */
export async function cityRun(ctx: BenchContext, fleet: Fleet, o: Options, d: Deployment, run: number): Promise<CityRun> {
  const random = seeded(CITY_SEED * 7919 + run);
  const lotAt = () => d.lots[Math.floor(random() * d.lots.length)]!;
  const refused: Record<string, number> = {};
  const refuse = (code: string) => void (refused[code] = (refused[code] ?? 0) + 1);
  const bareChanges: Record<string, number> = {};
  /** What the sockets record each change under: the run's own events only (late ones of an earlier run are not counted). */
  const keys: string[] = [];
  let bareSeq = 0;
  const fromId = String((await sql(d.ctx.databaseUrl, 'select coalesce(max(id), 0)::text as m from public.event_log')).rows[0].m);
  const cpu0 = await Promise.all(d.servers.map((s) => s.child.call<number>('cpu')));
  const in0 = await redisIn(d);
  const start = wallNow();

  if (d.kind === 'spotcast') {
    const hardware = paced(o.cityRate, o.cityRate * o.citySeconds, async (i) => {
      const a = (await d.triggers[i % d.triggers.length]!.timeout(60_000)
        .emitWithAck('set_parking_availability', { parking_lot_id: lotAt(), available_spaces: 1000 + Math.floor(random() * 99_000) })
        .catch(() => ({ ok: false, error: { code: 'TIMEOUT' } }))) as { ok: boolean; error?: { code: string } };
      if (!a.ok) refuse(`availability ${a.error?.code}`);
    });
    const perBooker = o.cityBookings / (d.bookers.length * fleet.size);
    const bookings = d.bookers.flatMap((group, i) =>
      fleet.clients.map((cl, j) =>
        cl.call<{ codes: Record<string, number> }>('cityBook', { group, lots: d.lots, rate: perBooker, seconds: o.citySeconds, seed: CITY_SEED * 31 + run * 101 + i * 10 + j }, 600_000),
      ),
    );
    await hardware;
    for (const b of await Promise.all(bookings)) for (const [k, v] of Object.entries(b.codes)) refused[k] = (refused[k] ?? 0) + v;
  } else {
    // The same parking_updated rate: hardware changes, bookings, and the half of them cancelled.
    const rate = o.cityRate + o.cityBookings * 1.5;
    await paced(rate, Math.round(rate * o.citySeconds), async (i) => {
      const lot = lotAt();
      const seq = ++bareSeq;
      const payload = barePayload(lot, seq, run);
      const a = (await d.triggers[i % d.triggers.length]!.timeout(60_000)
        .emitWithAck('trigger', { room: [`parking_lot:${lot}`, 'parking_updates', 'admin'], event: 'parking_updated', payload })
        .catch(() => ({ ok: false, error: { code: 'TIMEOUT' } }))) as { ok: boolean; error?: { code: string } };
      if (a.ok) {
        bareChanges[lot] = (bareChanges[lot] ?? 0) + 1;
        keys.push(`city|parking_lot:${lot}#${payload.seq}`);
      }
      else refuse(`trigger ${a.error?.code}`);
    });
  }

  const changes: Record<string, number> = d.kind === 'bare' ? bareChanges : {};
  if (d.kind === 'spotcast') {
    const logged = await sql(
      d.ctx.databaseUrl,
      `select stream, seq::text from public.event_log where id > $1::bigint and event = 'parking_updated' and stream = any($2)`,
      [fromId, d.lots.map((l) => `parking_lot:${l}`)],
    );
    for (const r of logged.rows as { stream: string; seq: string }[]) {
      const lot = r.stream.slice('parking_lot:'.length);
      changes[lot] = (changes[lot] ?? 0) + 1;
      keys.push(`city|${r.stream}#${r.seq}`);
    }
  }
  const expected = sum(Object.entries(changes).map(([l, n]) => n * (d.reach[l] ?? 0)));
  // Wait for every owed delivery, or until nothing more arrives for 3 s.
  let got = 0;
  let lastProgress = Date.now();
  while (got < expected && Date.now() - lastProgress < 3000) {
    await sleep(200);
    const now = sum(await Promise.all(fleet.clients.map((c) => c.call<number>('received', { keys }))));
    if (now > got) lastProgress = Date.now();
    got = now;
  }
  const cpu1 = await Promise.all(d.servers.map((s) => s.child.call<number>('cpu')));
  const in1 = await redisIn(d);
  const c = await fleet.collect({ keys });
  await fleet.clear(); // late arrivals of this run must not count in the next
  // A change that reached more sockets than are in its rooms would be a routing fault: say which.
  const over = Object.entries(c.perKey).filter(([k, n]) => n > (d.reach[k.slice('city|parking_lot:'.length, k.indexOf('#'))] ?? 0));
  if (over.length) ctx.log(`  ${d.name}: ${over.length} changes reached more sockets than their rooms hold, e.g. ${over.slice(0, 3).map(([k, n]) => `${k} ${n} > ${d.reach[k.slice('city|parking_lot:'.length, k.indexOf('#'))]}`).join(', ')}`);
  const cpuMs = sum(cpu1.map((x, i) => x - cpu0[i]!)) / 1000;
  return {
    ...latencySummary(c.lat),
    changes: sum(Object.values(changes)),
    expected,
    delivered: c.count,
    lost: expected - c.count,
    dups: c.dups,
    msgsPerSec: c.count / ((c.last - start) / 1000),
    cpuMsPer1k: cpuMs / (c.count / 1000),
    redisIn: in1.map((x, i) => ({ messages: x.messages - in0[i]!.messages, bytes: x.bytes - in0[i]!.bytes })),
    refused,
  };
}

export async function stopDeployment(fleet: Fleet, d: Deployment): Promise<void> {
  for (const g of [...d.groups, ...d.bookers]) await fleet.disconnect(g).catch(() => undefined);
  for (const t of d.triggers) t.close();
}

/** Interleaved runs over deployments set up together; `after` sees each run as it is measured. */
export async function interleave(ctx: BenchContext, fleet: Fleet, o: Options, deployments: Deployment[], into: Map<string, CityRun[]>): Promise<void> {
  // One short warm-up run each (JIT, pools, subscriptions settling), not reported.
  const warm = { ...o, citySeconds: Math.min(3, o.citySeconds) };
  for (const d of deployments) await cityRun(ctx, fleet, warm, d, 0);
  for (let r = 1; r <= o.runs; r++) {
    const order = deployments.map((_, i) => deployments[(i + r) % deployments.length]!);
    for (const d of order) {
      const run = await cityRun(ctx, fleet, o, d, r);
      into.set(d.name, [...(into.get(d.name) ?? []), run]);
      const redis = run.redisIn.length ? `; from Redis per node ${run.redisIn.map((x) => `${x.messages} msgs/${(x.bytes / 1024).toFixed(0)} KiB`).join(', ')}` : '';
      ctx.log(
        `  run ${r} · ${d.name}: ${run.changes} changes, ${Math.round(run.msgsPerSec)} msgs/s, p50 ${run.p50.toFixed(1)} p99 ${run.p99.toFixed(1)} ms, ` +
          `${run.cpuMsPer1k.toFixed(1)} CPU ms per 1000, lost ${run.lost}, duplicates ${run.dups}${Object.keys(run.refused).length ? `, refused ${JSON.stringify(run.refused)}` : ''}${redis}`,
      );
    }
  }
}

export const BARE_ONE = 'bare Socket.IO + Postgres, one node';
export const SPOT_ONE = 'spotcast, one node';
export const BARE_TWO = 'bare Socket.IO + Postgres, two nodes (classic Redis adapter)';
export const SPOT_TWO = 'spotcast, two nodes (Redis adapter)';

export async function cityScenario(ctx: BenchContext, fleet: Fleet, o: Options): Promise<CityResults> {
  const results: CityResults = { lots: o.cityLots, clients: o.cityClients, rate: o.cityRate, bookings: o.cityBookings, seconds: o.citySeconds, deployments: [], runs: new Map() };
  const servers: Server[] = [];
  const deployments: Deployment[] = [];
  const start = async <T extends Server>(s: Promise<T>) => {
    const server = await s;
    servers.push(server);
    return server;
  };
  try {
    const plan: [string, 'spotcast' | 'bare', (c: BenchContext) => Promise<Server[]>][] = [
      [BARE_ONE, 'bare', async (c) => [await start(startBare('city-bare', {}, c.databaseUrl, undefined, CITY_POOL))]],
      [SPOT_ONE, 'spotcast', async (c) => [await start(startSpotcast(c, 'city-spotcast', { env: { DATABASE_POOL_MAX: String(CITY_POOL) } }))]],
    ];
    if (ctx.redisUrl) {
      const key = `spotcast_bench_bare_${ctx.runId}`;
      plan.push(
        [BARE_TWO, 'bare', async (c) => Promise.all(['a', 'b'].map((n) => start(startBare(`city-bare-${n}`, {}, c.databaseUrl, { url: c.redisUrl!, key }, CITY_POOL))))],
        [SPOT_TWO, 'spotcast', async (c) => Promise.all(['a', 'b'].map((n) => start(startSpotcast(c, `city-spotcast-${n}`, { redis: true, cluster: 'city-two', env: { DATABASE_POOL_MAX: String(CITY_POOL) } }))))],
      );
    }
    for (const [i, [name, kind, make]] of plan.entries()) {
      const own = await ownDatabase(ctx, `city${i + 1}`);
      const d = await setUpDeployment(own, fleet, o, name, kind, await make(own));
      deployments.push(d);
      results.deployments.push({ name, nodes: d.servers.length, kind, subscriptions: d.subscriptions });
    }
    await interleave(ctx, fleet, o, deployments, results.runs);
  } finally {
    for (const d of deployments) await stopDeployment(fleet, d);
    await Promise.all(servers.map((s) => s.child.stop()));
  }
  return results;
}

/**
 * Scenario 7 (issue 12): one spotcast node with its default limits, an ordinary user (the
 * bystander) asking get_parking_availability at a steady rate, and one attack at a time from
 * another process, each inside every rate limit. Per phase: the bystander's ack latency, the
 * server's memory (RSS and heap, the highest of samples every 500 ms) and CPU, what the attack
 * got, and whether an ordinary client could still connect. Baseline phases (no attack) come first
 * and last, in the same run; then the node is stopped while readers that never read hold it.
 */
import path from 'node:path';
import { BENCH_SECRET, ROOT, createLots, sleep, sql, startSpotcast, type BenchContext } from './lib/harness.js';
import { Child, wallNow } from './lib/ipc.js';
import type { Options } from './lib/options.js';
import { latencySummary, num, type LatencySummary } from './lib/stats.js';

/** The defaults of server/config.ts, in place of the harness's raised limits. */
const DEFAULT_LIMITS = {
  RATE_LIMIT_SOCKET_EVENTS: '50/1',
  RATE_LIMIT_USER_EVENTS: '100/1',
  RATE_LIMIT_BOOKINGS: '30/60',
  RATE_LIMIT_HTTP: '300/10',
  RATE_LIMIT_CONNECTIONS: '300/10',
  RATE_LIMIT_DISCONNECT_AFTER: '200',
};
const RATE = 25;

export interface Phase {
  name: string;
  ack: LatencySummary;
  timeouts: number;
  errors: number;
  rssMiB: number;
  heapMiB: number;
  /** Heap after a forced GC at the end of the phase. */
  retainedHeapMiB: number;
  cpuPct: number;
  /** Event-loop delay p99 (ms) of the server, and of the bystander's own process. */
  serverLagMs: number;
  bystanderLagMs: number;
  attack?: Record<string, unknown>;
  legit?: { ok: boolean; ms: number; error?: string };
  counters: Record<string, number>;
}

export interface BystanderResults {
  phases: Phase[];
  stop?: { ms: number; shutdownTimeoutMs: number };
  attackSeconds: number;
  events: number;
}

const COUNTERS = ['spotcast_replayed_events_total', 'spotcast_slow_consumer_disconnects_total', 'spotcast_connections_refused_total', 'spotcast_rate_limited_total'];

async function counters(url: string): Promise<Record<string, number>> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const out: Record<string, number> = {};
  for (const line of text.split('\n')) {
    const name = COUNTERS.find((c) => line.startsWith(c));
    if (name) out[name] = (out[name] ?? 0) + Number(line.split(' ').at(-1));
  }
  return out;
}

/** `n` parking_updated events in the lot's stream, through the log's own function, marked dispatched. */
async function fillStream(databaseUrl: string, lotId: string, n: number): Promise<number> {
  const stream = `parking_lot:${lotId}`;
  await sql(
    databaseUrl,
    `select public.append_event($1, 'parking_updated', array[$1], jsonb_build_object('parking_lot_id', $2::text, 'name', 'Bench lot',
       'total_spaces', 1000, 'out_of_service', 0, 'occupied_unbooked', 0, 'held', g % 1000, 'available_spaces', 1000 - g % 1000,
       'is_open', true, 'action', 'availability_updated', 'timestamp', now()), null) from generate_series(1, $3) g`,
    [stream, lotId, n],
  );
  await sql(databaseUrl, 'update public.event_log set dispatched_at = now() where stream = $1 and dispatched_at is null', [stream]);
  return n;
}

export async function bystanderScenario(ctx: BenchContext, o: Options): Promise<BystanderResults> {
  const attackMs = o.attackSeconds * 1000;
  const env = { PATH: process.env.PATH ?? '', NODE_ENV: 'production' };
  const script = path.join(ROOT, 'scripts', 'bench', 'attacker.ts');
  const server = await startSpotcast(ctx, 'attacked', { env: DEFAULT_LIMITS, flags: { gc: true } });
  const children: Child[] = [];
  try {
    const bystander = await Child.start('bystander', script, { env });
    children.push(bystander);
    const attacker = await Child.start('attacker', script, { env });
    children.push(attacker);
    const [lot] = await createLots(ctx.databaseUrl, 1, { total: 1000, label: 'bystander' });
    const head = await fillStream(ctx.databaseUrl, lot!, 1200);
    const flood = { url: server.url, secret: BENCH_SECRET, lotId: lot!, from: head - 1000, durationMs: attackMs };
    await bystander.call('bystanderStart', { url: server.url, secret: BENCH_SECRET, lotId: lot, rate: RATE });
    await sleep(2000);
    await bystander.call('bystanderTake');

    const phases: Phase[] = [];
    const phase = async (name: string, attack?: () => Promise<Record<string, unknown>>, legitIp?: string) => {
      const before = await counters(server.url);
      await server.child.call('stats');
      const cpu0 = await server.child.call<number>('cpu');
      const t0 = wallNow();
      let rss = 0;
      let heap = 0;
      let sampling = true;
      const sampler = (async () => {
        while (sampling) {
          const m = await server.child.call<{ rss: number; heapUsed: number }>('memRaw', {}, 30_000).catch(() => undefined);
          if (m) [rss, heap] = [Math.max(rss, m.rss), Math.max(heap, m.heapUsed)];
          await sleep(500);
        }
      })();
      const legit = legitIp ? sleep(attackMs / 3).then(() => bystander.call<NonNullable<Phase['legit']>>('legitConnect', { url: server.url, secret: BENCH_SECRET, ip: legitIp })) : undefined;
      const got = attack ? await attack() : await sleep(attackMs).then(() => undefined);
      sampling = false;
      await sampler;
      const cpuPct = ((await server.child.call<number>('cpu')) - cpu0) / 10 / (wallNow() - t0);
      const taken = await bystander.call<{ samples: Float64Array; timeouts: number; errors: number; lagP99Ms: number }>('bystanderTake');
      const stats = await server.child.call<{ loopDelayP99Ms: number }>('stats');
      const after = await counters(server.url);
      // What the attack left that is not garbage (a forced GC), once the phase is over.
      const retained = await server.child.call<{ heapUsed: number }>('mem', {}, 30_000);
      const p: Phase = {
        name,
        ack: latencySummary(taken.samples.sort()),
        timeouts: taken.timeouts,
        errors: taken.errors,
        rssMiB: rss / 2 ** 20,
        heapMiB: heap / 2 ** 20,
        retainedHeapMiB: retained.heapUsed / 2 ** 20,
        cpuPct,
        serverLagMs: stats.loopDelayP99Ms,
        bystanderLagMs: taken.lagP99Ms,
        counters: Object.fromEntries(COUNTERS.map((c) => [c, (after[c] ?? 0) - (before[c] ?? 0)])),
        ...(got ? { attack: got } : {}),
        ...(legit ? { legit: await legit } : {}),
      };
      phases.push(p);
      ctx.log(`  ${name}: bystander ack p50 ${num(p.ack.p50)} p99 ${num(p.ack.p99)} ms (n ${p.ack.n}, ${p.timeouts} timeouts); server RSS ≤ ${num(p.rssMiB)} MiB, heap ≤ ${num(p.heapMiB)} MiB (${num(p.retainedHeapMiB)} MiB after GC), CPU ${num(p.cpuPct, 0)} %, loop delay p99 ${num(p.serverLagMs)} ms (bystander's own ${num(p.bystanderLagMs)} ms)`);
      // Let what the attack left (sessions waiting for their connect timeout, queues) go before the next.
      await sleep(12_000);
      await bystander.call('bystanderTake');
    };

    await phase('no attack (before)');
    await phase('for reference, ordinary requests at the limit: 1 user, 2 sockets × 45 get_parking_availability/s', () =>
      attacker.call('requestFlood', { ...flood, ask: 'availability', sockets: 2, perSocketRate: 45 }, attackMs + 60_000),
    );
    await phase('replay flood, reading: 1 user, 2 sockets × 45 subscribe/s with last_seq = head − 1,000', () =>
      attacker.call('requestFlood', { ...flood, ask: 'replay', sockets: 2, perSocketRate: 45 }, attackMs + 60_000),
    );
    await phase('replay flood, never reading: 1 user, 4 raw WebSockets × 22 subscribe/s, TCP never read, reconnecting', () =>
      attacker.call('slowReaders', { ...flood, sockets: 4, perSocketRate: 22 }, attackMs + 60_000),
    );
    await phase(
      'handshake flood, one address: 20 concurrent polling handshakes, never authenticated',
      () => attacker.call('handshakeFlood', { url: server.url, durationMs: attackMs, concurrency: 20, addresses: 1 }, attackMs + 60_000),
      '198.51.100.9',
    );
    await phase(
      'handshake flood, 5,000 addresses (X-Forwarded-For): 20 concurrent, never authenticated',
      () => attacker.call('handshakeFlood', { url: server.url, durationMs: attackMs, concurrency: 20, addresses: 5000 }, attackMs + 60_000),
      '198.51.100.10',
    );
    await phase('no attack (after)');

    // Stop the node while readers that never read keep asking.
    const stalled = attacker.call('slowReaders', { ...flood, sockets: 4, perSocketRate: 22, durationMs: 60_000 }, 120_000).catch(() => undefined);
    await sleep(4000);
    const t0 = wallNow();
    await server.child.stop(60_000);
    const stop = { ms: wallNow() - t0, shutdownTimeoutMs: 10_000 };
    ctx.log(`  stop with 4 stalled readers: ${num(stop.ms, 0)} ms`);
    void stalled;
    return { phases, stop, attackSeconds: o.attackSeconds, events: head };
  } finally {
    await Promise.all(children.map((c) => c.stop(10_000)));
    await server.child.stop();
  }
}

function attackOutcome(p: Phase): string {
  const a = (p.attack ?? {}) as Record<string, unknown>;
  const c = p.counters;
  const parts: string[] = [];
  if ('replays' in a) {
    parts.push(`${a.requests} requests: ${a.ok ? `${a.ok} answered, ` : ''}${a.replays ? `${a.replays} replays, ` : ''}${a.snapshots ? `${a.snapshots} snapshots, ` : ''}${a.refused} refused; ${a.events} events received`);
  }
  if ('closedByServer' in a) parts.push(`${a.requests} subscribes sent; ${a.closedByServer} closed by the server, ${a.refusedReconnects} reconnects refused`);
  if ('statuses' in a) parts.push(`${a.attempts} handshakes (${num(a.perSec as number, 0)}/s): ${Object.entries(a.statuses as Record<string, number>).map(([k, v]) => `${v}× ${k}`).join(', ')}`);
  parts.push(
    `server: ${c.spotcast_replayed_events_total ?? 0} events replayed, ${c.spotcast_slow_consumer_disconnects_total ?? 0} slow-consumer disconnects, ` +
      `${c.spotcast_connections_refused_total ?? 0} connections refused, ${c.spotcast_rate_limited_total ?? 0} rate-limit refusals`,
  );
  if (p.legit) parts.push(p.legit.ok ? `an ordinary client connected meanwhile in ${num(p.legit.ms, 0)} ms` : `an ordinary client was refused meanwhile (${p.legit.error})`);
  return parts.join('; ');
}

export function renderBystander(r: BystanderResults): string {
  const rows = r.phases.map((p) => [
    p.name,
    `${num(p.ack.p50)} / ${num(p.ack.p99)} / ${num(p.ack.max)}`,
    `${p.ack.n}${p.timeouts ? `, **${p.timeouts} timed out**` : ''}${p.errors ? `, ${p.errors} errors` : ''}`,
    `${num(p.rssMiB, 0)} / ${num(p.heapMiB, 0)} / ${num(p.retainedHeapMiB, 0)}`,
    num(p.cpuPct, 0),
    `${num(p.serverLagMs)} / ${num(p.bystanderLagMs)}`,
    attackOutcome(p),
  ]);
  const head = ['phase', 'bystander ack p50 / p99 / max ms', 'acks', 'server RSS / heap MiB (peak), heap after GC', 'server CPU %', 'event-loop delay p99 ms: server / bystander', 'what the attack got'];
  return [
    '### 7. Attacks on one node, and a bystander',
    '',
    `One node with the default limits (\`RATE_LIMIT_*\`, \`SOCKET_*\`). A bystander asks \`get_parking_availability\` ${RATE} times a second from a process of its own; ` +
      `an attacker in another process runs one attack at a time for ${r.attackSeconds} s, each inside every per-socket and per-user rate limit, against a lot whose stream holds ${r.events} events. ` +
      'Memory: the highest `process.memoryUsage()` of samples every 500 ms (garbage included), and the heap after a forced GC once the attack is over (what it left behind); CPU: the server process over the phase. ' +
      "Event-loop delay: the server's, and the bystander process's own (when the latter is high, the bystander itself waited for a CPU: attacker, server, Postgres and bystander share the machine's cores). " +
      'Between phases 12 s pass unmeasured.',
    '',
    `| ${head.join(' | ')} |`,
    `|${head.map(() => '---').join('|')}|`,
    ...rows.map((row) => `| ${row.join(' | ')} |`),
    '',
    r.stop ? `Stopping the node (the bench's IPC stop: \`app.stop()\`, then the pool and exit) while 4 raw WebSockets that never read keep asking for replays: ${num(r.stop.ms, 0)} ms (\`SHUTDOWN_TIMEOUT_MS\` ${r.stop.shutdownTimeoutMs}).` : '',
    '',
  ].join('\n');
}

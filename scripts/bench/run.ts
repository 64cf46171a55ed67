/**
 * `npm run bench`: starts what it needs (a database of its own on the machine's Postgres, spotcast
 * nodes and a bare Socket.IO server as child processes, load-generating client processes), runs
 * the measurements, profiles the worst ratio, writes the results into BENCHMARKS.md, and stops
 * everything it started — also on error or Ctrl-C.
 *
 *   npm run bench                       default sizes (under 10 minutes on 2 cores)
 *   npm run bench -- --quick            tiny sizes: checks that it all works
 *   npm run bench -- --sizes 1000,5000,10000 --runs 5
 *
 * DATABASE_URL / REDIS_URL point it elsewhere (default: postgres://postgres@127.0.0.1:5432/postgres,
 * redis://127.0.0.1:6379). Without Redis the two-node and BullMQ measurements are skipped.
 */
import path from 'node:path';
import { pino } from 'pino';
import { runMigrations } from '../../server/platform/db/migrate.js';
import { closeOwnSockets, Fleet, ROOT, type BenchContext } from './lib/harness.js';
import { liveChildren } from './lib/ipc.js';
import { createDatabase, dropDatabase, loadavg, machine, randomSuffix, reachablePostgres, reachableRedis, removeRedisKeys, withDatabase } from './lib/machine.js';
import { externalScenario } from './external.js';
import { capacityScenario } from './capacity.js';
import { cityScenario } from './city.js';
import { cityNodesScenario } from './nodes.js';
import { parseOptions, type Options } from './lib/options.js';
import { spread } from './lib/stats.js';
import { bystanderScenario } from './bystander.js';
import { soakScenario } from './soak.js';
import { renderSoak, SOAK_MARKERS } from './soak-report.js';
import { stormScenario } from './storm.js';
import { render, writeInto, type Results } from './report.js';
import {
  bookingScenario,
  connectionsScenario,
  expiryScenario,
  fanoutScenarios,
  nodesScenario,
  profileBookings,
  profileFanout,
  T_ANNOUNCE,
  T_AVAIL,
  T_BARE,
} from './scenarios.js';

const started = Date.now();
const log = (msg: string) => console.log(`[${((Date.now() - started) / 1000).toFixed(0).padStart(4)} s] ${msg}`);

const cleanups: { name: string; run: () => Promise<unknown> }[] = [];
let cleaning: Promise<void> | undefined;
function cleanUp(): Promise<void> {
  cleaning ??= (async () => {
    closeOwnSockets();
    for (const c of cleanups.reverse()) {
      try {
        await c.run();
      } catch (err) {
        console.error(`clean-up "${c.name}" failed:`, err);
      }
    }
  })();
  return cleaning;
}

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    console.error(`\n${signal}: stopping everything the bench started…`);
    void cleanUp().finally(() => process.exit(130));
  });
}

/** Which measured ratio is furthest below its goal (ratio ÷ goal), to profile it. */
function worstRatio(r: Results): { label: string; score: number; kind: 'fanout' | 'booking'; size?: number; target?: string } | undefined {
  const candidates: { label: string; score: number; kind: 'fanout' | 'booking'; size?: number; target?: string }[] = [];
  for (const [size, row] of r.fanout ?? []) {
    const bare = (row.get(T_BARE) ?? []).map((x) => x.msgsPerSec);
    for (const target of [T_AVAIL, T_ANNOUNCE]) {
      const ratio = spread((row.get(target) ?? []).map((x, i) => x.msgsPerSec / (bare[i] ?? NaN))).median;
      if (Number.isFinite(ratio)) candidates.push({ label: `fan-out msgs/s of ${target} ÷ bare at ${size} subscribers = ${ratio.toFixed(2)} (goal ≥ 0.8)`, score: ratio / 0.8, kind: 'fanout', size, target });
    }
  }
  if (r.booking) {
    const ratio = spread(r.booking.socket.map((x, i) => x.perSec / (r.booking!.raw[i]?.perSec ?? NaN))).median;
    if (Number.isFinite(ratio)) candidates.push({ label: `bookings/s full path ÷ raw SQL = ${ratio.toFixed(2)} (goal ≥ 0.5)`, score: ratio / 0.5, kind: 'booking' });
  }
  return candidates.sort((a, b) => a.score - b.score)[0];
}

async function main(): Promise<number> {
  let o: Options;
  try {
    o = parseOptions(process.argv.slice(2));
  } catch (err) {
    console.error((err as Error).message);
    return 2;
  }
  const loadStart = loadavg();
  let loadMax = loadStart[0];
  const loadTimer = setInterval(() => {
    loadMax = Math.max(loadMax, loadavg()[0]);
  }, 2000);
  loadTimer.unref();
  cleanups.push({ name: 'load sampling', run: async () => clearInterval(loadTimer) });

  const adminUrl = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
  if (!(await reachablePostgres(adminUrl))) {
    console.error(`No Postgres at ${adminUrl.replace(/:[^:@/]*@/, ':***@')}: the bench needs one (set DATABASE_URL).`);
    return 1;
  }
  const redisCandidate = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
  const redisUrl = (await reachableRedis(redisCandidate)) ? redisCandidate : undefined;
  const m = await machine(adminUrl, redisUrl);
  log(`${m.cpu}, ${m.cores} cores, ${m.ramGiB} GiB; Node ${m.node}, Postgres ${m.postgres}, Redis ${m.redis}; load ${loadStart.join(' ')}`);

  const runId = randomSuffix();
  const databaseName = `spotcast_bench_${runId}`;
  await createDatabase(adminUrl, databaseName);
  cleanups.push({ name: 'drop the bench database', run: () => dropDatabase(adminUrl, databaseName) });
  const databaseUrl = withDatabase(adminUrl, databaseName);
  await runMigrations(databaseUrl, pino({ level: 'warn' }));
  if (redisUrl) cleanups.push({ name: 'remove the bench Redis keys', run: () => removeRedisKeys(redisUrl, [`spotcast_bench_${runId}*`]) });
  log(`database ${databaseName} created and migrated`);

  const ctx: BenchContext = { databaseUrl, adminUrl, redisUrl, runId, log, onCleanup: (name, run) => cleanups.push({ name, run }) };
  const fleet = await Fleet.start(o.clients);
  cleanups.push({ name: 'stop the load clients', run: () => fleet.stop() });

  if (o.soak) return soak(ctx, o, m, { start: loadStart, max: () => loadMax });

  const results: Results = { failures: [], skipped: [] };
  const step = async (name: string, work: () => Promise<void>) => {
    const t = Date.now();
    log(`${name}…`);
    try {
      await work();
    } catch (err) {
      const msg = err instanceof Error ? (err.stack ?? err.message) : String(err);
      console.error(`${name} failed: ${msg}`);
      results.failures.push(`${name}: ${msg}`);
      await fleet.clear().catch(() => undefined);
    }
    log(`${name} done in ${((Date.now() - t) / 1000).toFixed(0)} s`);
  };

  if (o.only.has('fanout') || o.only.has('log')) {
    await step('1/11 fan-out to a lot room (and the activity log on/off)', async () => {
      const fr = await fanoutScenarios(ctx, fleet, o, { fanout: o.only.has('fanout'), log: o.only.has('log') });
      if (fr.fanout) results.fanout = fr.fanout;
      if (fr.log) results.log = fr.log;
    });
  }
  if (o.only.has('booking')) {
    await step('2/11 contested bookings, full path vs raw SQL', async () => {
      results.booking = await bookingScenario(ctx, fleet, o);
    });
  }
  if (o.only.has('connections')) {
    await step('3/11 memory per idle socket', async () => {
      results.connections = await connectionsScenario(ctx, fleet, o);
    });
  }
  if (o.only.has('nodes')) {
    if (!redisUrl) results.skipped.push('two nodes: no Redis reachable');
    else
      await step('4/11 two nodes through the Redis adapter', async () => {
        results.nodes = await nodesScenario(ctx, fleet, o);
      });
  }
  if (o.only.has('expiry')) {
    if (!redisUrl) results.skipped.push('expiry with BullMQ: no Redis reachable');
    await step('5/11 hold expiry', async () => {
      results.expiry = await expiryScenario(ctx, fleet, o);
    });
  }

  if (o.only.has('bystander')) {
    await step('6/11 attacks on one node, with a bystander', async () => {
      results.bystander = await bystanderScenario(ctx, o);
    });
  }
  if (o.only.has('external')) {
    await step('7/11 writes made outside spotcast (supabase-js rpc, direct edits)', async () => {
      results.external = await externalScenario(ctx, fleet, o);
    });
  }

  if (o.only.has('capacity')) {
    await step('8/11 capacity: contested bookings with the lot full of holds, vs a bare lock+insert+counter', async () => {
      results.capacity = await capacityScenario(ctx, o);
    });
  }
  if (o.only.has('storm')) {
    await step('9/11 reconnect storm', async () => {
      results.storm = await stormScenario(ctx, o);
    });
  }
  if (o.only.has('city')) {
    await step(`10/11 a city: ${o.cityLots} lots, ${o.cityClients.toLocaleString('en-US')} sockets, hardware changes, bookings (one and two nodes, vs bare)`, async () => {
      results.city = await cityScenario(ctx, fleet, o);
    });
  }
  if (o.only.has('city-nodes')) {
    if (!redisUrl) results.skipped.push('four nodes, classic vs sharded adapter: no Redis reachable');
    else
      await step('11/11 the city on four nodes: classic vs sharded Redis adapter', async () => {
        results.cityNodes = await cityNodesScenario(ctx, fleet, o);
      });
  }

  const worst = worstRatio(results);
  if (o.profile && worst) {
    await step('profile of the worst ratio', async () => {
      results.worst = worst.label;
      log(`  profiling: ${worst.label}`);
      results.profile =
        worst.kind === 'fanout' ? await profileFanout(ctx, fleet, o, worst.size!, worst.target!, false) : await profileBookings(ctx, fleet, o, false);
    });
  }

  await fleet.stop();
  const section = render(
    {
      date: new Date().toISOString(),
      command: `npm run bench${o.args.length ? ` -- ${o.args.join(' ')}` : ''}`,
      machine: m,
      load: { start: loadStart, max: loadMax, end: loadavg() },
      durationMs: Date.now() - started,
      options: o,
      databaseName,
    },
    results,
  );
  console.log(`\n${section}\n`);
  if (o.out) {
    const file = path.resolve(ROOT, o.out);
    writeInto(file, section);
    log(`results written into ${path.relative(ROOT, file)}`);
  }
  return results.failures.length ? 1 : 0;
}

/** `--soak`: only the long run, into its own section of the results file. */
async function soak(ctx: BenchContext, o: Options, m: Awaited<ReturnType<typeof machine>>, load: { start: number[]; max: () => number }): Promise<number> {
  log(`soak: ${o.soakMinutes} min, ${o.soakClients} clients, ${o.soakLots} lots`);
  const r = await soakScenario(ctx, o);
  const section = renderSoak(r, {
    date: new Date().toISOString(),
    command: `npm run bench -- ${o.args.join(' ')}`,
    machine: `${m.cpu}, ${m.cores} cores, ${m.ramGiB} GiB; Node ${m.node}, Postgres ${m.postgres}, Redis ${m.redis}`,
    load: `load average at start ${load.start.join(' ')}, highest ${load.max().toFixed(2)}, at end ${loadavg().join(' ')}`,
  });
  console.log(`\n${section}\n`);
  if (o.out) {
    const file = path.resolve(ROOT, o.out);
    writeInto(file, section, SOAK_MARKERS);
    log(`soak results written into ${path.relative(ROOT, file)}`);
  }
  return r.lost > 0 ? 1 : 0;
}

main()
  .then(
    async (code) => {
      await cleanUp();
      log(`done (${liveChildren()} child processes left)`);
      process.exit(code);
    },
    async (err: unknown) => {
      console.error('bench failed:', err);
      await cleanUp();
      process.exit(1);
    },
  );

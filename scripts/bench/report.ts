/** Renders the results as Markdown, and writes them into BENCHMARKS.md between the bench markers. */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { renderExternal, type ExternalResults } from './external.js';
import { renderCapacity, type CapacityResults } from './capacity.js';
import { renderStorm, type StormResults } from './storm.js';
import type { CityResults } from './city.js';
import { renderCity, renderCityNodes } from './city-report.js';
import type { CityNodesResults } from './nodes.js';
import type { Machine } from './lib/machine.js';
import { lost, table, verdict } from './lib/markdown.js';
import type { Options } from './lib/options.js';
import type { ProfileSummary } from './lib/profile.js';
import { renderBystander, type BystanderResults } from './bystander.js';
import { fmt, num, spread } from './lib/stats.js';
import {
  T_ANNOUNCE,
  T_AVAIL,
  T_BARE,
  T_BARE_PG,
  T_LOG_OFF,
  T_LOG_ON,
  type BookingResults,
  type ExpiryResults,
  type FanoutRun,
  type FanoutTable,
  type MemoryResults,
  type NodesResults,
  type ProfileResult,
} from './scenarios.js';

export const START = '<!-- bench:results:start (written by npm run bench; edits inside are overwritten) -->';
export const END = '<!-- bench:results:end -->';

export interface RunInfo {
  date: string;
  command: string;
  machine: Machine;
  load: { start: number[]; max: number; end: number[] };
  durationMs: number;
  options: Options;
  databaseName: string;
}

export interface Results {
  fanout?: FanoutTable;
  log?: FanoutTable;
  connections?: MemoryResults;
  booking?: BookingResults;
  nodes?: NodesResults;
  expiry?: ExpiryResults;
  bystander?: BystanderResults;
  external?: ExternalResults;
  capacity?: CapacityResults;
  storm?: StormResults;
  city?: CityResults;
  cityNodes?: CityNodesResults;
  profile?: ProfileResult;
  worst?: string;
  failures: string[];
  skipped: string[];
}

const pick = (runs: FanoutRun[] | undefined, f: (r: FanoutRun) => number) => (runs ?? []).map(f);
const ratios = (a: number[], b: number[]) => a.map((x, i) => x / (b[i] ?? NaN));
const kib = (bytes: number) => bytes / 1024;

function profileTables(p: ProfileSummary, top: number): string {
  const fns = table(
    ['self ms', '% of busy', 'function', 'where'],
    p.functions.slice(0, top).map((f) => [num(f.ms, 0), num(f.pct, 1), `\`${f.name}\``, f.where ? `\`${f.where}\`` : '(V8 / native)']),
  );
  const pkgs = table(
    ['self ms', '% of busy', 'package / module'],
    p.packages.slice(0, 12).map((f) => [num(f.ms, 0), num(f.pct, 1), f.name]),
  );
  return `Sampled ${num(p.wallMs / 1000, 1)} s of the workload (start-up excluded): busy ${num(p.busyMs, 0)} ms, idle ${num(p.idleMs, 0)} ms. ` +
    'V8 samples wall-clock time, so on a shared machine time spent preempted is charged to whatever was running (often `writev`).' +
    `\n\nBy function (self time):\n\n${fns}\n\nBy package (self time summed):\n\n${pkgs}`;
}

export function render(info: RunInfo, r: Results): string {
  const o = info.options;
  const m = info.machine;
  const out: string[] = [];
  const [l1, l5, l15] = info.load.start;
  const busy = (l1 ?? 0) > m.cores * 0.5;
  out.push(
    '### The run',
    '',
    table(
      ['', ''],
      [
        ['date', info.date],
        ['command', `\`${info.command}\` at ${m.revision}`],
        ['machine', `${m.cpu}, ${m.cores} cores, ${m.ramGiB} GiB RAM (${m.kernel})`],
        ['software', `Node ${m.node}, PostgreSQL ${m.postgres}, Redis ${m.redis}`],
        [
          'load average',
          `at start ${l1} / ${l5} / ${l15} (1/5/15 min), highest 1-min value during the run ${num(info.load.max, 2)}, at the end ${info.load.end[0]}, on ${m.cores} cores` +
            (busy ? ' — **the machine was busy when the run started (other jobs, or the tail of an earlier run); absolute figures are lower and noisier than on an idle machine**' : ''),
        ],
        ['open files limit', m.fdLimit],
        ['load generators', `${o.clients} child processes holding the client sockets, on the same ${m.cores} cores as the servers and Postgres`],
        ['figures', `median of ${o.runs} runs, (min–max) after it; ratios are per-run pairs from this invocation`],
        ['database', `\`${info.databaseName}\` on the machine's Postgres, created, migrated and dropped by the run`],
        ['duration', `${Math.floor(info.durationMs / 60000)} min ${Math.round((info.durationMs % 60000) / 1000)} s`],
      ],
    ),
    '',
  );
  if (r.failures.length) out.push('**Failed:**', '', ...r.failures.map((f) => `- ${f.split('\n')[0]}`), '');
  if (r.skipped.length) out.push('Skipped: ' + r.skipped.join('; '), '');

  if (r.fanout) {
    out.push(
      '### 1. Fan-out to one lot room',
      '',
      `Latency: ${o.events} events one at a time, from sending the trigger to each subscriber's receipt. ` +
        `msgs/s: a burst of ${o.burst} triggers sent at once, deliveries / (last receipt − first send). ` +
        'CPU: the server process\'s CPU time (user + system) per 1000 deliveries over both phases — unlike msgs/s it does not depend on what else the machine runs. ' +
        'Writes: the server\'s write system calls per delivery over both phases (from /proc/<pid>/io): 1 when every packet to every socket is its own call. ' +
        'Ratios are per-run pairs: spotcast msgs/s ÷ bare msgs/s (the goal, ≥ 0.8), and ÷ the bare server that commits one Postgres transaction (row lock, insert, commit, in one round trip) before each broadcast.',
      '',
    );
    const rows: string[][] = [];
    for (const [size, row] of r.fanout) {
      const bare = pick(row.get(T_BARE), (x) => x.msgsPerSec);
      const barePg = pick(row.get(T_BARE_PG), (x) => x.msgsPerSec);
      for (const name of [T_BARE, T_BARE_PG, T_AVAIL, T_ANNOUNCE]) {
        const runs = row.get(name);
        if (!runs) continue;
        const rate = pick(runs, (x) => x.msgsPerSec);
        const spot = name === T_AVAIL || name === T_ANNOUNCE;
        const ratio = ratios(rate, bare);
        rows.push([
          String(size),
          name,
          fmt(pick(runs, (x) => x.p50)),
          fmt(pick(runs, (x) => x.p95)),
          fmt(pick(runs, (x) => x.p99)),
          fmt(rate, 0),
          fmt(pick(runs, (x) => x.cpuMsPer1k), 1),
          fmt(pick(runs, (x) => x.writesPerMsg), 2),
          name === T_BARE ? '1' : `${fmt(ratio, 2)}${spot ? ` ${verdict(ratio, (x) => x >= 0.8)}` : ''}`,
          spot && barePg.length ? fmt(ratios(rate, barePg), 2) : '',
          lost(runs.map((x) => x.lost + x.burstLost)) + (runs.some((x) => x.dups) ? `, ${runs.map((x) => x.dups).join(' / ')} dup.` : ''),
        ]);
      }
    }
    out.push(
      table(['subscribers', 'server / trigger', 'p50 ms', 'p95 ms', 'p99 ms', 'msgs/s', 'CPU ms / 1000 msgs', 'writes / msg', 'msgs/s ÷ bare', 'msgs/s ÷ bare + Postgres', 'lost'], rows),
      '',
    );
  }

  if (r.booking) {
    const b = r.booking;
    const raw = b.raw.map((x) => x.perSec);
    const sock = b.socket.map((x) => x.perSec);
    const ratio = ratios(sock, raw);
    out.push(
      '### 2. Contested bookings',
      '',
      `${o.bookings} bookings per run and path on one lot (1,000,000 spaces, so none is refused), ${o.bookConcurrency} concurrent callers, ` +
        `${o.bookPool} database connections on both paths (the server's DATABASE_POOL_MAX; the raw callers share a pool of the same size). ` +
        'Full path: socket `create_booking` → validation and limits → `public.create_booking` → event log → emit → ack. Raw: role + claims and `select public.create_booking(…)` in one simple query over pg (one implicit transaction, one round trip), as server/platform/db/db.ts sends it.',
      '',
      table(
        ['path', 'bookings/s', 'call p50 ms', 'call p99 ms', 'failed'],
        [
          ['raw SQL over pg', fmt(raw, 0), fmt(b.raw.map((x) => x.ackP50)), fmt(b.raw.map((x) => x.ackP99)), lost(b.raw.map((x) => x.failed))],
          ['full path (socket)', fmt(sock, 0), fmt(b.socket.map((x) => x.ackP50)), fmt(b.socket.map((x) => x.ackP99)), lost(b.socket.map((x) => x.failed))],
          ['ratio full ÷ raw (goal ≥ 0.5)', `${fmt(ratio, 2)} ${verdict(ratio, (x) => x >= 0.5)}`, '', '', ''],
        ],
      ),
      '',
      `Commit → \`parking_updated\` at ${o.latSubscribers} subscribers of the booked lot. Measured from the event's \`timestamp\` ` +
        "(Postgres `clock_timestamp()` taken inside the booking's transaction, just before it commits; same machine clock as the clients) to each subscriber's receipt, " +
        'so it includes the commit and the way back to Node: an upper bound of commit → receipt. Goal p99 < 50 ms.',
      '',
      table(
        ['load', 'bookings/s', 'p50 ms', 'p95 ms', 'p99 ms', 'goal', 'lost', 'duplicates (sweeper re-emits)'],
        [
          ...[...b.latency].map(([rate, runs]) => [
            `steady ${rate}/s (${o.latCount} per run)`,
            String(rate),
            fmt(runs.map((x) => x.p50)),
            fmt(runs.map((x) => x.p95)),
            fmt(runs.map((x) => x.p99)),
            verdict(runs.map((x) => x.p99), (x) => x < 50),
            lost(runs.map((x) => x.lost)),
            lost(runs.map((x) => x.dups)),
          ]),
          [
            `unthrottled: ${o.bookConcurrency} bookers, ${b.saturatedBookings} per run`,
            fmt(b.saturated.map((x) => x.perSec), 0),
            fmt(b.saturated.map((x) => x.p50)),
            fmt(b.saturated.map((x) => x.p95)),
            fmt(b.saturated.map((x) => x.p99)),
            verdict(b.saturated.map((x) => x.p99), (x) => x < 50),
            lost(b.saturated.map((x) => x.lost)),
            `${lost(b.saturated.map((x) => x.dups))} (${b.saturated.map((x) => x.redelivered).join(' / ')} events)`,
          ],
        ],
      ),
      '',
      'Duplicates are second copies of an event on a socket that already had it (timed once, like a client dropping them by `seq`); they come from the outbox sweeper re-emitting events not yet marked dispatched. ' +
        `The unthrottled row books as fast as ${o.bookConcurrency} callers can: bookings/s × ${o.latSubscribers} deliveries a second, more than this machine carries with the servers, Postgres and the load generators on the same cores, so its latency is the queue that forms. ` +
        'It shows the most one lot takes, not the latency of a sustainable rate; the steady rows show those.',
      '',
    );
  }

  if (r.connections) {
    const c = r.connections;
    out.push(
      '### 3. Memory per idle socket',
      '',
      'A fresh server per run, started with `--expose-gc`; `process.memoryUsage()` after a forced GC, minus the same before any socket connected, divided by the sockets. ' +
        'spotcast sockets are authenticated (a JWT each, a user each, so each is also in its own `user:` room); bare sockets are plain. connects/s: the rate at which that step connected.',
      '',
    );
    const rows: string[][] = [];
    const sizes = [...new Set([...c.rows.values()].flatMap((m) => [...m.keys()]))].sort((a, b) => a - b);
    for (const size of sizes) {
      for (const kind of ['bare Socket.IO', 'spotcast']) {
        const row = c.rows.get(kind)?.get(size);
        if (!row) continue;
        rows.push([String(size), kind, fmt(row.heapPerSocket.map(kib)), fmt(row.rssPerSocket.map(kib)), fmt(row.connectPerSec, 0)]);
      }
      const bare = c.rows.get('bare Socket.IO')?.get(size);
      const spot = c.rows.get('spotcast')?.get(size);
      if (bare && spot) rows.push([String(size), 'ratio spotcast ÷ bare', fmt(ratios(spot.heapPerSocket, bare.heapPerSocket), 2), fmt(ratios(spot.rssPerSocket, bare.rssPerSocket), 2), '']);
    }
    out.push(table(['sockets', 'server', 'heap KiB / socket', 'RSS KiB / socket', 'connects/s'], rows), '');
    const base = [...c.baseline].map(([k, v]) => `${k} ${fmt(v.heapUsed.map((x) => x / 2 ** 20))} MiB heap, ${fmt(v.rss.map((x) => x / 2 ** 20))} MiB RSS`);
    out.push(`Baselines before any socket: ${base.join('; ')}.`, '');
    out.push(c.stops.length ? `Stopped early: ${c.stops.join('; ')}.` : `Every size was reached (largest ${Math.max(...o.connSizes)}).`, '');
  }

  if (r.nodes) {
    const n = r.nodes;
    out.push(
      '### 4. Two nodes (Redis adapter)',
      '',
      `${n.subscribers} subscribers on node A; \`set_parking_availability\` sent to node B (its emit crosses Redis to A) or to node A itself. Both nodes run with REDIS_URL (adapter, BullMQ, rate limits in Redis) and a REDIS_ADAPTER_KEY of this run's own.`,
      '',
      table(
        ['trigger', 'p50 ms', 'p95 ms', 'p99 ms', 'msgs/s', 'lost'],
        [
          ['cross-node: on B, subscribers on A', fmt(pick(n.cross, (x) => x.p50)), fmt(pick(n.cross, (x) => x.p95)), fmt(pick(n.cross, (x) => x.p99)), fmt(pick(n.cross, (x) => x.msgsPerSec), 0), lost(n.cross.map((x) => x.lost + x.burstLost))],
          ['same node: on A', fmt(pick(n.local, (x) => x.p50)), fmt(pick(n.local, (x) => x.p95)), fmt(pick(n.local, (x) => x.p99)), fmt(pick(n.local, (x) => x.msgsPerSec), 0), lost(n.local.map((x) => x.lost + x.burstLost))],
        ],
      ),
      '',
    );
  }

  if (r.expiry) {
    const e = r.expiry;
    const row = (name: string, runs: typeof e.inProcess) =>
      runs.length
        ? [name, fmt(runs.map((x) => x.p50)), fmt(runs.map((x) => x.p95)), fmt(runs.map((x) => x.p99)), fmt(runs.map((x) => x.max)), String(runs[0]?.holds ?? 0), lost(runs.map((x) => x.lost))]
        : [name, 'skipped (no Redis)', '', '', '', '', ''];
    out.push(
      '### 5. Hold expiry',
      '',
      `Lateness = a lot's \`parking_updated\` (\`booking_expired\`) at each of ${e.watchers} watching sockets − the hold's \`hold_expires_at\`. Holds ${40} ms apart, one per lot, lasting 1 s (3 s where their node is killed). ` +
        'With Redis, the node that made a hold times it itself and keeps a BullMQ job as the durable copy; the last row kills that node (SIGKILL) once the holds are made, so another node\'s BullMQ worker expires them. ' +
        "A worker waiting for a delayed job is woken by Redis's blocking timeout, which Redis checks on its server cron tick (`hz`, 10 by default here): up to 100 ms late.",
      '',
      table(
        ['scheduler', 'p50 ms', 'p95 ms', 'p99 ms', 'max ms', 'holds / run', 'lost'],
        [row('in process (no Redis)', e.inProcess), row("BullMQ (Redis), the hold's node alive", e.bullmq), row("BullMQ (Redis), the hold's node killed", e.failover)],
      ),
      '',
    );
  }

  if (r.log) {
    out.push('### 6. Cost of the activity log', '', 'The fan-out of (1) with `set_parking_availability` on two spotcast nodes that differ only in ACTIVITY_LOG_ENABLED.', '');
    const rows: string[][] = [];
    for (const [size, row] of r.log) {
      const on = row.get(T_LOG_ON) ?? [];
      const off = row.get(T_LOG_OFF) ?? [];
      rows.push([
        String(size),
        fmt(pick(on, (x) => x.msgsPerSec), 0),
        fmt(pick(off, (x) => x.msgsPerSec), 0),
        fmt(ratios(pick(on, (x) => x.msgsPerSec), pick(off, (x) => x.msgsPerSec)), 2),
        fmt(pick(on, (x) => x.p99)),
        fmt(pick(off, (x) => x.p99)),
        fmt(pick(on, (x) => x.cpuMsPer1k)),
        fmt(pick(off, (x) => x.cpuMsPer1k)),
      ]);
    }
    out.push(
      table(['subscribers', 'msgs/s log on', 'msgs/s log off', 'on ÷ off', 'p99 ms log on', 'p99 ms log off', 'CPU ms / 1000 on', 'CPU ms / 1000 off'], rows),
      '',
    );
  }

  if (r.bystander) out.push(renderBystander(r.bystander));
  if (r.external) out.push(...renderExternal(r.external));
  if (r.capacity) out.push(...renderCapacity(r.capacity));
  if (r.storm) out.push(...renderStorm(r.storm));
  if (r.city) out.push(...renderCity(r.city));
  if (r.cityNodes) out.push(...renderCityNodes(r.cityNodes));

  if (r.profile) {
    const p = r.profile;
    out.push(
      '### Profile of the worst ratio',
      '',
      `Worst ratio against its goal: ${r.worst}. Profiled: the spotcast node under \`node --cpu-prof\` during ${p.what}.`,
      '',
      profileTables(p.spotcast, 20),
      '',
    );
    if (p.bare) out.push('The bare Socket.IO server doing the same broadcasts, for contrast:', '', profileTables(p.bare, 10), '');
  }
  return out.join('\n');
}

export interface Markers {
  start: string;
  end: string;
  /** The heading the section gets when the file has no such markers yet. */
  heading: string;
}

/** Replaces what is between the markers in `file` (adds the section at the end when they are not there). */
export function writeInto(file: string, section: string, markers: Markers = { start: START, end: END, heading: 'Results' }): void {
  const block = `${markers.start}\n\n${section}\n${markers.end}`;
  if (!existsSync(file)) {
    writeFileSync(file, `# Benchmarks\n\nRun with \`npm run bench\` (see scripts/bench/run.ts).\n\n## ${markers.heading}\n\n${block}\n`);
    return;
  }
  const text = readFileSync(file, 'utf8');
  const a = text.indexOf(markers.start.slice(0, 30));
  const b = text.indexOf(markers.end);
  if (a < 0 || b < 0) writeFileSync(file, `${text.trimEnd()}\n\n## ${markers.heading}\n\n${block}\n`);
  else writeFileSync(file, text.slice(0, a) + block + text.slice(b + markers.end.length));
}

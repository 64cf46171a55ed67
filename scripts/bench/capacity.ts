/**
 * Scenario "capacity": does a booking's cost grow with how full the lot is? Contested bookings on
 * one lot (`bookConcurrency` callers, each on its own connection, each call one round trip as
 * server/platform/db/db.ts sends it: role + claims + `select public.create_booking(…)` in one
 * simple query) while 0, 1,000 and 10,000 other bookings hold the lot over the whole window,
 * against a bare function doing the least a booking must (lock the lot row, insert a row, update
 * a counter) called the same way, in the same run. Then the same spread over several lots.
 * It runs in a database of its own: the events create_booking writes are never emitted, and no
 * spotcast node must find them in its outbox.
 */
import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import pg from 'pg';
import { pino } from 'pino';
import { runMigrations } from '../../server/platform/db/migrate.js';
import { sql, type BenchContext } from './lib/harness.js';
import { createDatabase, dropDatabase, withDatabase } from './lib/machine.js';
import { table } from './lib/markdown.js';
import type { Options } from './lib/options.js';
import { fmt, pct, spread } from './lib/stats.js';

export interface CapacityRun {
  perSec: number;
  ok: number;
  failed: number;
  codes: Record<string, number>;
  p50: number;
  p99: number;
}

export interface CapacityResults {
  callers: number;
  bookings: number;
  lots: number;
  /** holds already on the lot → runs of spotcast's create_booking and of the bare function */
  contested: Map<number, { spotcast: CapacityRun[]; bare: CapacityRun[] }>;
  spread: { spotcast: CapacityRun[]; bare: CapacityRun[] };
  /** Where create_booking's time goes: Postgres's own per-function timings (track_functions). */
  profile?: FunctionTime[];
  profileCalls?: number;
}

export interface FunctionTime {
  name: string;
  calls: number;
  /** Per booking, µs: the function with what it calls, and its own statements only. */
  totalUs: number;
  selfUs: number;
}

const PROFILE_CALLS = 300;

/**
 * One caller making PROFILE_CALLS bookings on a lot holding 1,000, with Postgres timing every
 * function (`track_functions = all`, this database only): create_booking's time split into its
 * parts, triggers included, what a profile of Node cannot see.
 */
async function profileCreateBooking(url: string, lot: string): Promise<FunctionTime[]> {
  const client = new pg.Client({ connectionString: url, application_name: 'spotcast-bench-capacity-profile' });
  await client.connect();
  try {
    await client.query(`set track_functions = 'all'`);
    await client.query('select pg_stat_reset()');
    await book([client], [lot], PROFILE_CALLS, 'create_booking');
  } finally {
    await client.end(); // a backend reports its function timings when it ends
  }
  await new Promise((r) => setTimeout(r, 1500));
  const reader = new pg.Client({ connectionString: url });
  await reader.connect();
  try {
    const r = await reader.query<{ name: string; calls: string; total: number; self: number }>(
      `select funcname as name, calls, total_time as total, self_time as self from pg_stat_user_functions
        where schemaname = 'public' order by self_time desc limit 15`,
    );
    return r.rows.map((x) => ({ name: x.name, calls: Number(x.calls), totalUs: (x.total * 1000) / PROFILE_CALLS, selfUs: (x.self * 1000) / PROFILE_CALLS }));
  } finally {
    await reader.end();
  }
}

// The least a booking must do, for comparison. Bench-only: created in the bench's own database.
const BARE_SQL = `
create table public.bench_bare_lot (id uuid primary key, held integer not null default 0);
create table public.bench_bare_booking (
  id bigserial primary key, lot_id uuid not null, user_id uuid not null,
  starts_at timestamptz not null, ends_at timestamptz not null, created_at timestamptz not null default clock_timestamp());
create function public.bench_bare_book(p_lot_id uuid, p_minutes integer) returns jsonb
language plpgsql security definer set search_path = '' as $$
declare
  v_id bigint;
begin
  perform 1 from public.bench_bare_lot where id = p_lot_id for update;
  insert into public.bench_bare_booking (lot_id, user_id, starts_at, ends_at)
  values (p_lot_id, auth.uid(), clock_timestamp(), clock_timestamp() + make_interval(mins => p_minutes))
  returning id into v_id;
  update public.bench_bare_lot set held = held + 1 where id = p_lot_id;
  return jsonb_build_object('id', v_id);
end $$;
grant execute on function public.bench_bare_book(uuid, integer) to authenticated;`;

/** `holds` confirmed bookings of the lot spanning every window booked in the next hour (their edges lie hours away). */
async function fill(c: pg.Client, lotId: string, holds: number): Promise<void> {
  if (holds === 0) return;
  // replica: the triggers announcing direct writes (011) stay quiet; the capacity index (015) is `enable always`.
  await c.query(
    `begin; set local session_replication_role = replica;
     insert into public.bookings (user_id, parking_lot_id, starts_at, ends_at, status, amount_cents)
     select gen_random_uuid(), $1, now() - interval '1 hour' - random() * interval '2 hours',
            now() + interval '2 hours' + random() * interval '2 hours', 'confirmed', 0
       from generate_series(1, ${holds});
     insert into public.bench_bare_booking (lot_id, user_id, starts_at, ends_at)
     select $1, gen_random_uuid(), now() - interval '1 hour', now() + interval '3 hours' from generate_series(1, ${holds});
     commit;`.replaceAll('$1', pg.escapeLiteral(lotId)),
  );
}

/** `total` calls from `clients.length` callers at once; caller i books lots[i % lots.length]. */
async function book(clients: pg.Client[], lots: string[], total: number, fn: 'create_booking' | 'bench_bare_book'): Promise<CapacityRun> {
  // Users of this run only: create_booking counts each user's unpaid holds, which must not grow over the runs.
  const users = clients.map(() => randomUUID());
  let remaining = total;
  let ok = 0;
  const codes: Record<string, number> = {};
  const ms: number[] = [];
  const lit = pg.escapeLiteral;
  const start = performance.now();
  await Promise.all(
    clients.map(async (c, i) => {
      const claims = JSON.stringify({ sub: users[i], role: 'authenticated', app_metadata: { role: 'user' } });
      const lot = lit(lots[i % lots.length]!);
      const call = fn === 'create_booking' ? `public.create_booking(${lot}, null, null, 60, null, null)` : `public.bench_bare_book(${lot}, 60)`;
      const text =
        `select set_config('role', 'authenticated', true), set_config('request.jwt.claims', ${lit(claims)}, true), ` +
        `set_config('spotcast.role_claim_path', 'app_metadata.role', true); select ${call} as r`;
      while (remaining > 0) {
        remaining--;
        const t = performance.now();
        try {
          await c.query(text);
          ok++;
        } catch (err) {
          const code = (err as { hint?: string; code?: string }).hint ?? (err as { code?: string }).code ?? 'error';
          codes[code] = (codes[code] ?? 0) + 1;
        }
        ms.push(performance.now() - t);
      }
    }),
  );
  const seconds = (performance.now() - start) / 1000;
  const sorted = Float64Array.from(ms).sort();
  return { perSec: ok / seconds, ok, failed: total - ok, codes, p50: pct(sorted, 50), p99: pct(sorted, 99) };
}

export const CAPACITY_HOLDS = (o: Options) => (o.quick ? [0, 200] : [0, 1000, 10000]);

export async function capacityScenario(ctx: BenchContext, o: Options): Promise<CapacityResults> {
  const name = `spotcast_bench_${ctx.runId}_capacity`;
  await createDatabase(ctx.adminUrl, name);
  ctx.onCleanup('drop the capacity database', () => dropDatabase(ctx.adminUrl, name));
  const url = withDatabase(ctx.adminUrl, name);
  await runMigrations(url, pino({ level: 'warn' }));
  await sql(url, `select public.configure_bookings(900, 24, 100000, 90); ${BARE_SQL}`);

  const callers = o.bookConcurrency;
  const lotsSpread = 8;
  const results: CapacityResults = { callers, bookings: o.bookings, lots: lotsSpread, contested: new Map(), spread: { spotcast: [], bare: [] } };
  const clients = Array.from({ length: callers }, () => new pg.Client({ connectionString: url, application_name: 'spotcast-bench-capacity' }));
  try {
    // The clean-up drops this database, ending these connections with an error: nothing to report then.
    for (const c of clients) c.on('error', () => undefined);
    await Promise.all(clients.map((c) => c.connect()));
    // Set-up on the first caller's connection: the machine's Postgres may have few to spare.
    const setup = clients[0]!;
    const newLots = async (n: number, holds: number, label: string) => {
      const { rows } = await setup.query<{ id: string }>(
        `insert into public.parking_lots (name, total_spaces) select $1 || ' ' || g, 1000000 from generate_series(1, $2) g returning id`,
        [`Bench ${label}`, n],
      );
      const lots = rows.map((r) => r.id);
      await setup.query(`insert into public.bench_bare_lot (id) select unnest($1::uuid[])`, [lots]);
      for (const l of lots) await fill(setup, l, holds);
      return lots;
    };
    const log = (what: string, fn: string, r: CapacityRun) =>
      ctx.log(`  ${what} · ${fn}: ${r.perSec.toFixed(0)} bookings/s (${r.ok} ok${r.failed ? `, ${r.failed} failed ${JSON.stringify(r.codes)}` : ''}), p50 ${r.p50.toFixed(1)} p99 ${r.p99.toFixed(1)} ms`);

    // warm-up (plans, caches) on a lot of its own
    const warm = await newLots(1, 0, 'capacity warm-up');
    await book(clients, warm, Math.min(200, o.bookings), 'create_booking');
    await book(clients, warm, Math.min(200, o.bookings), 'bench_bare_book');

    for (const holds of CAPACITY_HOLDS(o)) {
      const row = { spotcast: [] as CapacityRun[], bare: [] as CapacityRun[] };
      results.contested.set(holds, row);
      for (let r = 0; r < o.runs; r++) {
        const [lot] = await newLots(1, holds, `capacity ${holds} holds ${r + 1}`);
        for (const fn of r % 2 === 0 ? (['create_booking', 'bench_bare_book'] as const) : (['bench_bare_book', 'create_booking'] as const)) {
          const run = await book(clients, [lot!], o.bookings, fn);
          (fn === 'create_booking' ? row.spotcast : row.bare).push(run);
          log(`run ${r + 1} · ${holds} holds`, fn, run);
        }
      }
    }
    for (let r = 0; r < o.runs; r++) {
      const lots = await newLots(lotsSpread, 0, `capacity spread ${r + 1}`);
      for (const fn of ['create_booking', 'bench_bare_book'] as const) {
        const run = await book(clients, lots, o.bookings, fn);
        (fn === 'create_booking' ? results.spread.spotcast : results.spread.bare).push(run);
        log(`run ${r + 1} · ${lotsSpread} lots`, fn, run);
      }
    }
    const [profiled] = await newLots(1, 1000, 'capacity profile');
    results.profile = await profileCreateBooking(url, profiled!);
    results.profileCalls = PROFILE_CALLS;
  } finally {
    await Promise.all(clients.map((c) => c.end().catch(() => undefined)));
  }
  return results;
}

export function renderCapacity(x: CapacityResults): string[] {
  const ratio = (a: CapacityRun[], b: CapacityRun[]) => a.map((r, i) => r.perSec / (b[i]?.perSec ?? NaN));
  const row = (what: string, runs: { spotcast: CapacityRun[]; bare: CapacityRun[] }) => {
    const q = ratio(runs.spotcast, runs.bare);
    return [
      what,
      fmt(runs.spotcast.map((r) => r.perSec), 0),
      fmt(runs.bare.map((r) => r.perSec), 0),
      fmt(q, 2),
      spread(q).median >= 0.5 ? 'met (≥ 0.5)' : 'not met (≥ 0.5)',
      fmt(runs.spotcast.map((r) => r.p99), 1),
      String(runs.spotcast.reduce((n, r) => n + r.failed, 0)),
    ];
  };
  return [
    '### Capacity: a booking\'s cost with the lot full of holds',
    '',
    `${x.bookings} bookings per run from ${x.callers} callers at once, each on its own connection, each call one round trip as \`Db\` sends it ` +
      '(role + claims + `select public.create_booking(lot, null, null, 60, …)`, outbox writes included); the lot already held by N confirmed bookings ' +
      'spanning the whole window (their edges hours away). Bare: `lock the lot row, insert, update a counter` in one SQL function, called the same way, same run, interleaved. ' +
      `Last row: the same callers spread over ${x.lots} lots (caller i books lot i mod ${x.lots}).`,
    '',
    table(
      ['lot', 'create_booking /s', 'bare /s', 'ratio', 'goal', 'create_booking p99 ms', 'failed'],
      [...[...x.contested].map(([holds, runs]) => row(`one lot, ${holds.toLocaleString('en-US')} holds`, runs)), row(`${x.lots} lots, 0 holds`, x.spread)],
    ),
    '',
    ...(x.profile?.length
      ? [
          `Where a booking's time goes in Postgres: ${x.profileCalls} bookings by one caller on a lot holding 1,000, timed by Postgres itself ` +
            '(`track_functions = all`, `pg_stat_user_functions`), per booking. Self: the function\'s own statements; total: with what it calls.',
          '',
          table(
            ['function', 'calls per booking', 'self µs', 'total µs'],
            x.profile.map((f) => [`\`${f.name}\``, (f.calls / (x.profileCalls ?? 1)).toFixed(1), f.selfUs.toFixed(0), f.totalUs.toFixed(0)]),
          ),
          '',
        ]
      : []),
  ];
}

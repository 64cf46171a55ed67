/** Pieces of the city workload (city.ts): a deployment's own database, pacing, the bare server's payload. */
import { pino } from 'pino';
import { runMigrations } from '../../server/platform/db/migrate.js';
import { wallNow } from './lib/ipc.js';
import { sleep, sql, type BenchContext } from './lib/harness.js';
import { createDatabase, dropDatabase, withDatabase } from './lib/machine.js';

/**
 * A database of the deployment's own, migrated, dropped at the end. Deployments must not share one:
 * a node's outbox sweeper delivers any event of its database not yet marked dispatched (on a busy
 * machine, marking lags), so another deployment's events would reach its parking_updates sockets.
 */
export async function ownDatabase(ctx: BenchContext, slug: string): Promise<BenchContext> {
  const name = `spotcast_bench_${ctx.runId}_${slug}`;
  await createDatabase(ctx.adminUrl, name);
  ctx.onCleanup(`drop the database ${name}`, () => dropDatabase(ctx.adminUrl, name));
  const databaseUrl = withDatabase(ctx.adminUrl, name);
  await runMigrations(databaseUrl, pino({ level: 'warn' }));
  await sql(
    databaseUrl,
    `create table public.bench_bare_lot (id int primary key, n bigint not null);
     insert into public.bench_bare_lot values (1, 0);
     create table public.bench_bare_events (id bigserial primary key, payload jsonb not null, created_at timestamptz not null default now());`,
  );
  return { ...ctx, databaseUrl };
}

/** `count` calls of `fire`, `rate` a second, not waiting for one to finish before the next. */
export async function paced(rate: number, count: number, fire: (i: number) => Promise<unknown>): Promise<void> {
  const start = wallNow();
  const calls: Promise<unknown>[] = [];
  for (let i = 0; i < count; i++) {
    const wait = start + (i * 1000) / rate - wallNow();
    if (wait > 1) await sleep(wait);
    calls.push(fire(i));
  }
  await Promise.all(calls);
}

/** A payload shaped and sized like spotcast's parking_updated; stamped by the bare server at commit. */
export function barePayload(lot: string, seq: number, run: number) {
  return {
    parking_lot_id: lot,
    name: `Bench city ${lot.slice(0, 8)}`,
    total_spaces: 1_000_000,
    out_of_service: 0,
    occupied_unbooked: 500_000,
    held: 0,
    available_spaces: 500_000,
    is_open: true,
    updated_at: new Date().toISOString(),
    action: 'availability_updated',
    timestamp: 'commit',
    event_id: run * 10_000_000 + seq,
    room: `parking_lot:${lot}`,
    seq: run * 10_000_000 + seq,
  };
}

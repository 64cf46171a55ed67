/**
 * `npx tsx scripts/bench/heap.ts [--sockets 2000] [--top 40] [--keep]`: where an idle socket's heap goes.
 * Starts a bare Socket.IO server and a spotcast node (as the memory scenario does), takes a heap
 * snapshot of each before any socket and with N idle sockets (spotcast: authenticated, a user
 * each), and prints what one socket adds by constructor, largest first, for both.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { runMigrations } from '../../server/platform/db/migrate.js';
import { census, perUnit } from './lib/heap-census.js';
import { Fleet, sleep, startBare, startSpotcast, type BenchContext, type Server } from './lib/harness.js';
import { createDatabase, dropDatabase, randomSuffix, withDatabase } from './lib/machine.js';

const arg = (name: string, fallback: number) => {
  const i = process.argv.indexOf(name);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
};

async function main(): Promise<void> {
  const sockets = arg('--sockets', 2000);
  const top = arg('--top', 40);
  const adminUrl = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
  const runId = randomSuffix();
  const name = `spotcast_heap_${runId}`;
  await createDatabase(adminUrl, name);
  const dir = mkdtempSync(path.join(tmpdir(), 'spotcast-heap-'));
  const databaseUrl = withDatabase(adminUrl, name);
  const fleet = await Fleet.start(1);
  try {
    await runMigrations(databaseUrl, pino({ level: 'warn' }));
    const ctx: BenchContext = { databaseUrl, adminUrl, redisUrl: undefined, runId, log: console.log, onCleanup: () => undefined };
    for (const kind of ['bare', 'spotcast'] as const) {
      const server: Server = kind === 'bare' ? await startBare('heap-bare', { gc: true }) : await startSpotcast(ctx, 'heap-spotcast', { flags: { gc: true } });
      try {
        await sleep(500);
        const before = await server.child.call<string>('snapshot', path.join(dir, `${kind}-0.heapsnapshot`), 120_000);
        const c = await fleet.connect(kind, server, sockets, { concurrency: 100 });
        if (c.failed) throw new Error(`${c.failed} sockets failed: ${JSON.stringify(c.errors)}`);
        await sleep(500);
        const after = await server.child.call<string>('snapshot', path.join(dir, `${kind}-n.heapsnapshot`), 300_000);
        const rows = perUnit(census(before), census(after), sockets);
        const total = rows.reduce((s, r) => s + r.bytes, 0);
        console.log(`\n${kind}: ${(total / 1024).toFixed(2)} KiB per socket (snapshot self sizes), top ${top}:`);
        for (const r of rows.slice(0, top)) console.log(`${r.bytes.toFixed(0).padStart(7)} B ${r.count.toFixed(2).padStart(6)}×  ${r.type} ${r.name}`);
        await fleet.disconnect(kind);
      } finally {
        await server.child.stop();
      }
    }
  } finally {
    await fleet.stop();
    await dropDatabase(adminUrl, name);
    if (process.argv.includes('--keep')) console.log(`snapshots kept in ${dir}`);
    else rmSync(dir, { recursive: true, force: true });
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);

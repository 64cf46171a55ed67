import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { loadMigrationFiles, migrate } from 'postgres-migrations';
import type { Logger } from '../logger.js';

export const MIGRATIONS_DIR = fileURLToPath(new URL('../../../migrations', import.meta.url));

/**
 * Applies the SQL files in migrations/ in order, each in its own transaction, under an advisory
 * lock (several nodes may start at once). postgres-migrations records each applied file with a
 * hash and refuses to continue when an applied file was edited.
 */
export async function runMigrations(databaseUrl: string, logger: Logger, dir = MIGRATIONS_DIR): Promise<string[]> {
  const client = new pg.Client({ connectionString: databaseUrl, application_name: 'spotcast-migrate' });
  await client.connect();
  try {
    await ensureMigrationsTable(client);
    const applied = await migrate({ client }, dir, {
      logger: (msg) => logger.debug({ migrations: msg }, 'migration runner'),
    });
    const names = applied.map((m) => m.fileName);
    if (names.length > 0) logger.info({ applied: names }, 'migrations applied');
    else logger.info('migrations: database is up to date');
    return names;
  } finally {
    await client.end();
  }
}

// postgres-migrations' own advisory lock key, so this step is serialised with its runs.
const RUNNER_LOCK_KEY = '-8525285245963000605';

/**
 * postgres-migrations decides whether its table exists by looking for a table named `migrations`
 * in any schema, then reads it unqualified. Supabase has `storage.migrations` (the storage API's
 * own runner), so on a fresh project it would find that one and then fail reading `migrations`
 * from `public`. Creating `public.migrations` first (the library's own definition; a no-op when it
 * exists) makes the check and the read agree; the library still records its migration 0.
 */
async function ensureMigrationsTable(client: pg.Client): Promise<void> {
  await client.query('begin');
  try {
    await client.query(`select pg_advisory_xact_lock(${RUNNER_LOCK_KEY})`);
    await client.query(`create table if not exists public.migrations (
      id integer primary key,
      name varchar(100) unique not null,
      hash varchar(40) not null,
      executed_at timestamp default current_timestamp
    )`);
    await client.query('commit');
  } catch (err) {
    await client.query('rollback').catch(() => undefined);
    throw err;
  }
}

/** The newest migration in the folder and the newest applied one; readiness wants them equal. */
let latestInFolder: Promise<number> | undefined;

export async function migrationStatus(query: (sql: string) => Promise<{ rows: { id: number }[] }>) {
  // The folder does not change while the process runs: read and hash it once, not per probe.
  latestInFolder ??= loadMigrationFiles(MIGRATIONS_DIR).then((files) => Math.max(...files.map((f) => f.id)));
  const latest = await latestInFolder;
  const { rows } = await query('select coalesce(max(id), -1) as id from public.migrations');
  const applied = Number(rows[0]?.id ?? -1);
  return { latest, applied, current: applied >= latest };
}

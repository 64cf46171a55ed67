import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { loadMigrationFiles, migrate } from 'postgres-migrations';
import type { Logger } from '../logger.js';

export const MIGRATIONS_DIR = fileURLToPath(new URL('../../migrations', import.meta.url));

/**
 * Applies the SQL files in migrations/ in order, each in its own transaction, under an advisory
 * lock (several nodes may start at once). postgres-migrations records each applied file with a
 * hash and refuses to continue when an applied file was edited.
 */
export async function runMigrations(databaseUrl: string, logger: Logger, dir = MIGRATIONS_DIR): Promise<string[]> {
  const client = new pg.Client({ connectionString: databaseUrl, application_name: 'spotcast-migrate' });
  await client.connect();
  try {
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

/** The newest migration in the folder and the newest applied one; readiness wants them equal. */
export async function migrationStatus(query: (sql: string) => Promise<{ rows: { id: number }[] }>) {
  const files = await loadMigrationFiles(MIGRATIONS_DIR);
  const latest = Math.max(...files.map((f) => f.id));
  const { rows } = await query('select coalesce(max(id), -1) as id from public.migrations');
  const applied = Number(rows[0]?.id ?? -1);
  return { latest, applied, current: applied >= latest };
}

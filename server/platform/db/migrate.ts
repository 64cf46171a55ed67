import { readdirSync } from 'node:fs';
import pg from 'pg';
import { loadMigrationFiles, migrate } from 'postgres-migrations';
import type { Logger } from '../logger.js';
import { fromPackageRoot } from '../package-root.js';
import { clientQuery, cliState, missingMessage, readCliHistory, SUPABASE_MIGRATIONS_DIR } from './supabase-migrations.js';

export const MIGRATIONS_DIR = fromPackageRoot('migrations');
export { SUPABASE_MIGRATIONS_DIR };

/** A database the server must not start on, with what to do about it. */
export class MigrationError extends Error {
  override name = 'MigrationError';
}

/**
 * Brings the database to the folder's migrations, or refuses with a message that says what to do.
 *
 * A database whose spotcast migrations Supabase's CLI applied (`supabase db push`) belongs to the
 * CLI: nothing is applied here, only checked to be complete. Anywhere else the SQL files in
 * migrations/ are applied in order, each in its own transaction, under an advisory lock (several
 * nodes may start at once); postgres-migrations records each with a hash and refuses to continue
 * when an applied file was edited.
 */
export async function runMigrations(databaseUrl: string, logger: Logger, dir = MIGRATIONS_DIR): Promise<string[]> {
  const client = new pg.Client({ connectionString: databaseUrl, application_name: 'spotcast-migrate' });
  await client.connect();
  try {
    const cli = cliState(migrationNames(dir), await readCliHistory(clientQuery(client)));
    if (cli.managed) {
      if (cli.missing.length > 0) throw new MigrationError(missingMessage(cli.missing));
      logger.info('migrations: applied by the Supabase CLI, all present; nothing to do');
      return [];
    }
    await ensureMigrationsTable(client);
    await refuseOtherLayouts(client, dir);
    const applied = await migrate({ client }, dir, {
      logger: (msg) => logger.debug({ migrations: msg }, 'migration runner'),
    });
    // 001 created the API roles on a fresh plain Postgres: now they exist to be refused.
    await lockDownRunnerTable(client);
    const names = applied.map((m) => m.fileName);
    if (names.length > 0) logger.info({ applied: names }, 'migrations applied');
    else logger.info('migrations: database is up to date');
    return names;
  } finally {
    await client.end();
  }
}

/** The folder's migrations by name (file name without `.sql`), in order. */
function migrationNames(dir: string): string[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith('.sql'))
    .sort()
    .map((f) => f.slice(0, -'.sql'.length));
}

// postgres-migrations' own advisory lock key, so these steps are serialised with its runs.
const RUNNER_LOCK_KEY = '-8525285245963000605';

/** One transaction under the runner's lock: concurrent catalog changes would otherwise collide. */
async function underRunnerLock(client: pg.Client, work: () => Promise<void>): Promise<void> {
  await client.query('begin');
  try {
    await client.query(`select pg_advisory_xact_lock(${RUNNER_LOCK_KEY})`);
    await work();
    await client.query('commit');
  } catch (err) {
    await client.query('rollback').catch(() => undefined);
    throw err;
  }
}

/**
 * postgres-migrations decides whether its table exists by looking for a table named `migrations`
 * in any schema, then reads it unqualified. Supabase has `storage.migrations` (the storage API's
 * own runner), so on a fresh project it would find that one and then fail reading `migrations`
 * from `public`. Creating `public.migrations` first (the library's own definition; a no-op when it
 * exists) makes the check and the read agree; the library still records its migration 0.
 */
function ensureMigrationsTable(client: pg.Client): Promise<void> {
  return underRunnerLock(client, async () => {
    await client.query(`create table if not exists public.migrations (
      id integer primary key,
      name varchar(100) unique not null,
      hash varchar(40) not null,
      executed_at timestamp default current_timestamp
    )`);
    // Supabase's default privileges have just granted it to the API roles: take that back at once.
    await client.query(LOCK_DOWN_RUNNER_TABLE);
  });
}

/**
 * The runner's table sits in `public`, which Supabase exposes over its HTTP API: RLS on and no
 * privilege for the API roles (those that exist yet). Changes the catalog only when needed.
 */
const LOCK_DOWN_RUNNER_TABLE = `do $$
  declare
    r text;
  begin
    if not (select relrowsecurity from pg_class where oid = 'public.migrations'::regclass) then
      alter table public.migrations enable row level security;
    end if;
    for r in select rolname from pg_roles where rolname in ('anon', 'authenticated') loop
      if has_table_privilege(r, 'public.migrations', 'select,insert,update,delete,truncate,references,trigger') then
        execute format('revoke all on public.migrations from %I', r);
      end if;
    end loop;
  end
$$`;

function lockDownRunnerTable(client: pg.Client): Promise<void> {
  return underRunnerLock(client, async () => {
    await client.query(LOCK_DOWN_RUNNER_TABLE);
  });
}

/**
 * A database migrated from another layout of migrations/ (spotcast 0.1, before the files were
 * re-baselined by concern in 0.2) cannot be brought forward: postgres-migrations would only say
 * that hashes differ. Say what happened and what to do instead.
 */
async function refuseOtherLayouts(client: pg.Client, dir: string): Promise<void> {
  const files = new Map((await loadMigrationFiles(dir)).map((f) => [f.id, f]));
  const { rows } = await client.query<{ id: number; name: string }>('select id, name from public.migrations where id > 0 order by id');
  // Ids past the folder's last are a newer version's, as before: not this check's business.
  const foreign = rows.filter((r) => {
    const file = files.get(r.id);
    return file !== undefined && file.name !== r.name;
  });
  if (foreign.length === 0) return;
  const found = foreign.map((r) => `${String(r.id).padStart(3, '0')}_${r.name}`).join(', ');
  throw new MigrationError(
    `This database was migrated by another version of spotcast: public.migrations lists ${found}, which this version's ` +
      'migrations/ does not have. spotcast 0.2 re-baselined its migrations (one file per concern) and cannot upgrade a ' +
      '0.1 database in place. For the embedded development database, stop the server and delete its folder ' +
      '(.data/postgres, or EMBEDDED_PG_DIR); it is created afresh at the next start. Otherwise recreate the schema: ' +
      'use a new database, or, in a database only spotcast uses, `drop schema public cascade; create schema public;` ' +
      '(on Supabase also restore its grants, see the README section "Database and Supabase"), then start again. ' +
      'Data is not carried over: export what you need first.',
  );
}

export interface MigrationStatus {
  /** Who applies spotcast's migrations to this database. */
  appliedBy: 'spotcast' | 'supabase-cli';
  latest: number;
  applied: number;
  current: boolean;
}

type Query = (sql: string) => Promise<{ rows: object[] }>;

// The folders do not change while the process runs: read (and hash) them once, not per probe.
let latestInFolder: Promise<number> | undefined;
let names: string[] | undefined;

/** For the readiness check: the newest migration in the folder and the newest applied one. */
export async function migrationStatus(query: Query): Promise<MigrationStatus> {
  names ??= migrationNames(MIGRATIONS_DIR);
  const cli = cliState(names, await readCliHistory(query));
  if (cli.managed) {
    return { appliedBy: 'supabase-cli', latest: names.length, applied: cli.appliedInOrder, current: cli.missing.length === 0 };
  }
  latestInFolder ??= loadMigrationFiles(MIGRATIONS_DIR).then((files) => Math.max(...files.map((f) => f.id)));
  const latest = await latestInFolder;
  const { rows } = await query('select coalesce(max(id), -1) as id from public.migrations');
  const applied = Number((rows[0] as { id?: number } | undefined)?.id ?? -1);
  return { appliedBy: 'spotcast', latest, applied, current: applied >= latest };
}

/**
 * The migration runner against real, throwaway plain-Postgres databases: idempotence, concurrent
 * runners, refusal of an edited applied file and of a 0.1 database, and the static rules every
 * migration file follows. On a database prepared like Supabase's: supabase-database.test.ts and
 * supabase-runner.test.ts.
 */
import assert from 'node:assert/strict';
import { appendFileSync, cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { loadMigrationFiles } from 'postgres-migrations';
import { MigrationError, MIGRATIONS_DIR, migrationStatus, runMigrations } from '../server/platform/db/migrate.js';
import { uniqueName, withClient, withDatabase } from './helpers/env.js';
import { testEnv } from './helpers/global-setup.js';

const logger = pino({ level: 'silent' });
/** What spotcast 0.1's runner recorded: id, name, sha1 of file name and content. */
const V01_MIGRATIONS: [number, string, string][] = [
  [1, 'supabase_compat', '3aa411dd2be7a32d2590b1bc8e5b6e011578a43a'],
  [2, 'parking_lots', '202f9a0843c47222c15e91f9e9acd6b9a9c6e2a2'],
  [3, 'realtime_logs', '1a4dd4e148014270ab788e01573b191436439da2'],
  [4, 'notifications', '6c4d1d1b6a560fc60062f66fa87269402ef87afc'],
  [5, 'event_log', '497eb463e3db7ad8b48f2e33d4bd04e2f35a37fa'],
  [6, 'bookings', '35d90a11a2dba34c81154526a54f40d192e03271'],
];
const RUNNER_TABLE_FILE = '0_create-migrations-table.sql';
const sqlFiles = () => readdirSync(MIGRATIONS_DIR).filter((f) => f.endsWith('.sql')).sort();

const appliedIds = (url: string) =>
  withClient(url, async (c) => (await c.query<{ id: number }>('select id from public.migrations order by id')).rows.map((r) => r.id));

describe('migrations', () => {
  const databases: string[] = [];
  const dirs: string[] = [];

  async function freshDatabase(prefix: string): Promise<string> {
    const name = uniqueName(prefix);
    await withClient(testEnv().adminUrl, (c) => c.query(`create database ${c.escapeIdentifier(name)}`));
    databases.push(name);
    return withDatabase(testEnv().adminUrl, name);
  }

  after(async function () {
    this.timeout(60_000);
    await withClient(testEnv().adminUrl, async (c) => {
      for (const name of databases) await c.query(`drop database if exists ${c.escapeIdentifier(name)} with (force)`);
    });
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  });

  it('run twice on a fresh database: the first run applies every file, the second nothing', async () => {
    const url = await freshDatabase('spotcast_mig_twice');
    const first = await runMigrations(url, logger);
    assert.deepEqual(first, [RUNNER_TABLE_FILE, ...sqlFiles()]);
    const second = await runMigrations(url, logger);
    assert.deepEqual(second, []);
    assert.deepEqual(await appliedIds(url), [0, ...sqlFiles().map((_, i) => i + 1)]);
    const status = await withClient(url, (c) => migrationStatus((sql) => c.query(sql)));
    assert.deepEqual(status, { appliedBy: 'spotcast', latest: sqlFiles().length, applied: sqlFiles().length, current: true });
  });

  it('two runners at once (several nodes starting) apply each file exactly once', async () => {
    const url = await freshDatabase('spotcast_mig_race');
    const results = await Promise.all([runMigrations(url, logger), runMigrations(url, logger)]);
    const lengths = results.map((r) => r.length).sort((a, b) => a - b);
    assert.deepEqual(lengths, [0, sqlFiles().length + 1]);
    assert.deepEqual(await appliedIds(url), [0, ...sqlFiles().map((_, i) => i + 1)]);
  });

  it('an edited, already-applied migration is refused and nothing new is applied', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'spotcast-migrations-'));
    dirs.push(dir);
    cpSync(MIGRATIONS_DIR, dir, { recursive: true });
    const url = await freshDatabase('spotcast_mig_edited');
    await runMigrations(url, logger, dir);
    const appliedBefore = await appliedIds(url);

    const files = sqlFiles();
    const edited = files[1]!; // 002_…
    const originalText = readFileSync(path.join(dir, edited), 'utf8');
    appendFileSync(path.join(dir, edited), '\n-- edited after it was applied\n');
    const next = `${String(files.length + 1).padStart(3, '0')}_should_not_run.sql`;
    writeFileSync(path.join(dir, next), 'create table public.should_not_exist (id int);\nalter table public.should_not_exist enable row level security;\n');

    await assert.rejects(runMigrations(url, logger, dir), (err: Error) => {
      assert.match(err.message, /Hashes don't match/);
      assert.ok(err.message.includes(edited), `error names the edited file: ${err.message}`);
      return true;
    });
    assert.deepEqual(await appliedIds(url), appliedBefore);
    await withClient(url, async (c) => {
      const { rows } = await c.query(`select to_regclass('public.should_not_exist') as t`);
      assert.equal(rows[0].t, null);
    });

    // Control: with the edit undone, the same folder applies the new file and only that.
    writeFileSync(path.join(dir, edited), originalText);
    assert.deepEqual(await runMigrations(url, logger, dir), [next]);
  });

  it('a database migrated by spotcast 0.1 is refused with what to do, and nothing is applied', async () => {
    const url = await freshDatabase('spotcast_mig_v01');
    // public.migrations exactly as spotcast 0.1 left it (its files' names and hashes).
    const [runnerTable] = await loadMigrationFiles(MIGRATIONS_DIR);
    await withClient(url, async (c) => {
      await c.query(`create table public.migrations (id integer primary key, name varchar(100) unique not null,
        hash varchar(40) not null, executed_at timestamp default current_timestamp)`);
      await c.query('insert into public.migrations (id, name, hash) values ($1, $2, $3)', [0, runnerTable!.name, runnerTable!.hash]);
      for (const [id, name, hash] of V01_MIGRATIONS) await c.query('insert into public.migrations (id, name, hash) values ($1, $2, $3)', [id, name, hash]);
    });
    await assert.rejects(runMigrations(url, logger), (err: Error) => {
      assert.ok(err instanceof MigrationError, `a MigrationError, not: ${err.message}`);
      assert.doesNotMatch(err.message, /Hashes don't match/);
      for (const expected of ['002_parking_lots', '006_bookings', 'spotcast 0.2 re-baselined', '.data/postgres', 'recreate the schema']) {
        assert.ok(err.message.includes(expected), `the message says ${expected}: ${err.message}`);
      }
      return true;
    });
    assert.deepEqual(await appliedIds(url), [0, 1, 2, 3, 4, 5, 6]);
    await withClient(url, async (c) => {
      const { rows } = await c.query(`select to_regclass('public.event_log') as t, to_regclass('public.spotcast_settings') as s`);
      assert.deepEqual(rows, [{ t: null, s: null }]);
    });
  });

  it('migration files are numbered consecutively from 001', async () => {
    const files = sqlFiles();
    assert.ok(files.length > 0);
    assert.deepEqual(readdirSync(MIGRATIONS_DIR).filter((f) => !f.endsWith('.sql')), [], 'only .sql files in migrations/');
    files.forEach((f, i) => {
      assert.match(f, /^\d{3}_[a-z0-9_]+\.sql$/, `file name ${f}`);
      assert.equal(Number(f.slice(0, 3)), i + 1, `${f} should be number ${i + 1}`);
    });
    // The runner's own check (consecutive ids after its migration 0) agrees.
    const loaded = await loadMigrationFiles(MIGRATIONS_DIR);
    assert.deepEqual(loaded.map((m) => m.id), [0, ...files.map((_, i) => i + 1)]);
  });

  it('every file enables RLS on each table it creates', () => {
    for (const f of sqlFiles()) {
      const sql = readFileSync(path.join(MIGRATIONS_DIR, f), 'utf8').replace(/--[^\n]*/g, '');
      const created = [...sql.matchAll(/create\s+table\s+(?:if\s+not\s+exists\s+)?(?:public\.)?"?(\w+)"?/gi)].map((m) => m[1]!.toLowerCase());
      for (const table of created) {
        const enabled = new RegExp(`alter\\s+table\\s+(?:public\\.)?"?${table}"?\\s+enable\\s+row\\s+level\\s+security`, 'i');
        assert.match(sql, enabled, `${f} creates ${table} without enabling RLS on it`);
      }
    }
  });

  it('in the migrated database every table in public has RLS on, and every view runs as the invoker', async () => {
    await withClient(testEnv().databaseUrl, async (c) => {
      const { rows: tables } = await c.query<{ relname: string; relrowsecurity: boolean }>(
        `select c.relname, c.relrowsecurity from pg_class c join pg_namespace n on n.oid = c.relnamespace
          where n.nspname = 'public' and c.relkind in ('r', 'p') order by c.relname`,
      );
      const names = tables.map((t) => t.relname);
      for (const expected of ['migrations', 'notifications', 'parking_lots', 'admin_audit_log', 'realtime_connection_log', 'realtime_event_log']) {
        assert.ok(names.includes(expected), `table ${expected} exists`);
      }
      assert.deepEqual(tables.filter((t) => !t.relrowsecurity).map((t) => t.relname), [], 'tables in public without RLS');

      const { rows: views } = await c.query<{ relname: string; invoker: boolean }>(
        `select c.relname, coalesce('security_invoker=true' = any(c.reloptions) or 'security_invoker=on' = any(c.reloptions), false) as invoker
           from pg_class c join pg_namespace n on n.oid = c.relnamespace
          where n.nspname = 'public' and c.relkind in ('v', 'm') order by c.relname`,
      );
      assert.deepEqual(views.filter((v) => !v.invoker).map((v) => v.relname), [], 'views in public that bypass the caller’s RLS');
    });
  });
});

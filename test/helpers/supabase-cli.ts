/**
 * What `supabase db push` does to a database, for tests (no CLI binary can be fetched here). Read
 * from supabase/cli @ 1d1e7191268e068fe9cb6aba524d1c619a9c727b, apps/cli-go/pkg/migration/:
 * - list.go ListLocalMigrations: the folder's files matching `^([0-9]+)_(.*)\.sql$`, by file name;
 *   ListRemoteMigrations: `SELECT version FROM supabase_migrations.schema_migrations ORDER BY version`
 *   (none when the table does not exist);
 * - apply.go FindPendingMigrations: refuses a history holding versions the folder lacks, and a
 *   local file older than the newest applied one (unless --include-all, not mimicked);
 * - history.go CreateMigrationTable (when something is pending), one implicit transaction:
 *   `SET lock_timeout = '4s'`, then the schema, the table and its `statements` and `name` columns;
 * - apply.go ApplyMigrations, for each pending file in order: `RESET ALL`, then file.go ExecBatch:
 *   the file cut by the CLI's parser (./sql-split.ts), each statement sent on its own with the
 *   extended protocol (Parse/Bind/Execute, no parameters), then the INSERT of version, name and
 *   statements, all in one pipeline with a single Sync, which Postgres runs as one implicit
 *   transaction: a failing statement rolls the whole file back and stops the push.
 * node-postgres does not pipeline, so here the same statements go one by one between BEGIN and
 * COMMIT, with the same effect for files that do no transaction control of their own (spotcast's
 * do none). The connection is the migration owner's (Supabase's `postgres`), as the CLI's is.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import { splitAndTrim } from './sql-split.js';

const FILE = /^([0-9]+)_(.*)\.sql$/;

export class CliError extends Error {}

/** A statement sent with Parse/Bind/Execute even without parameters (pg's option, missing from its types). */
const extended = (text: string) => ({ text, queryMode: 'extended' }) as pg.QueryConfig;

/** Applies what is pending of `dir` as the CLI would; returns the file names applied. */
export async function supabaseDbPush(url: string, dir: string): Promise<string[]> {
  const client = new pg.Client({ connectionString: url, application_name: 'supabase-cli-like' });
  await client.connect();
  try {
    const local = readdirSync(dir).filter((f) => FILE.test(f)).sort();
    const remote = await listRemote(client);
    const pending = findPending(local, remote);
    if (pending.length > 0) await createMigrationTable(client);
    for (const file of pending) await applyFile(client, dir, file);
    return pending;
  } finally {
    await client.end();
  }
}

async function listRemote(client: pg.Client): Promise<string[]> {
  try {
    const { rows } = await client.query<{ version: string }>('SELECT version FROM supabase_migrations.schema_migrations ORDER BY version');
    return rows.map((r) => r.version);
  } catch (err) {
    if ((err as { code?: string }).code === '42P01') return [];
    throw err;
  }
}

/** FindPendingMigrations, step for step. */
export function findPending(local: string[], remote: string[]): string[] {
  const missing: string[] = [];
  const unapplied: string[] = [];
  let i = 0;
  let j = 0;
  while (i < remote.length && j < local.length) {
    const version = FILE.exec(local[j]!)![1]!;
    if (remote[i] === version) {
      i++;
      j++;
    } else if (remote[i]! < version) {
      missing.push(remote[i]!);
      i++;
    } else {
      unapplied.push(local[j]!);
      j++;
    }
  }
  if (j === local.length) missing.push(...remote.slice(i));
  if (missing.length > 0) throw new CliError(`Remote migration versions not found in local migrations directory: ${missing.join(', ')}`);
  if (unapplied.length > 0) throw new CliError(`Found local migration files to be inserted before the last migration on remote database: ${unapplied.join(', ')}`);
  return local.slice(remote.length);
}

async function createMigrationTable(client: pg.Client): Promise<void> {
  await client.query(`SET lock_timeout = '4s';
    CREATE SCHEMA IF NOT EXISTS supabase_migrations;
    CREATE TABLE IF NOT EXISTS supabase_migrations.schema_migrations (version text NOT NULL PRIMARY KEY);
    ALTER TABLE supabase_migrations.schema_migrations ADD COLUMN IF NOT EXISTS statements text[];
    ALTER TABLE supabase_migrations.schema_migrations ADD COLUMN IF NOT EXISTS name text`);
}

async function applyFile(client: pg.Client, dir: string, file: string): Promise<void> {
  const [, version, name] = FILE.exec(file)!;
  await client.query('RESET ALL');
  const statements = splitAndTrim(readFileSync(path.join(dir, file), 'utf8'));
  await client.query('BEGIN');
  let at = 0;
  try {
    for (; at < statements.length; at++) await client.query(extended(statements[at]!));
    await client.query({
      text: 'INSERT INTO supabase_migrations.schema_migrations(version, name, statements) VALUES($1, $2, $3)',
      values: [version, name, statements],
    });
    await client.query('COMMIT');
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw new CliError(`${file}: ${(err as Error).message}\nAt statement: ${at}\n${statements[at] ?? ''}`);
  }
}

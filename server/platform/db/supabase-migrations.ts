import { readdirSync } from 'node:fs';
import type pg from 'pg';
import { fromPackageRoot } from '../package-root.js';

/**
 * spotcast's migrations as Supabase's CLI sees them: `supabase/migrations/<version>_<name>.sql`,
 * generated from `migrations/` by `npm run supabase:sync`, applied by `supabase db push`, which
 * records each in `supabase_migrations.schema_migrations` (version, name, statements).
 */
export const SUPABASE_MIGRATIONS_DIR = fromPackageRoot('supabase', 'migrations');

/** The CLI's own file pattern (supabase/cli, pkg/migration/file.go). */
const CLI_FILE = /^([0-9]+)_(.*)\.sql$/;

export interface CliMigration {
  version: string;
  /** What the CLI records as the name: the file name without version and `.sql`, e.g. `006_booking_capacity`. */
  name: string;
  file: string;
}

/** The folder's migrations in the CLI's order (by version). */
export function listCliMigrations(dir = SUPABASE_MIGRATIONS_DIR): CliMigration[] {
  return readdirSync(dir)
    .map((file) => {
      const m = CLI_FILE.exec(file);
      return m ? { version: m[1]!, name: m[2]!, file } : undefined;
    })
    .filter((m): m is CliMigration => m !== undefined)
    .sort((a, b) => compareVersions(a.version, b.version));
}

/** Versions are digits: shorter is smaller, then lexical (all of spotcast's have 14). */
export function compareVersions(a: string, b: string): number {
  return a.length - b.length || (a < b ? -1 : a > b ? 1 : 0);
}

type Query = (sql: string) => Promise<{ rows: object[] }>;

export interface CliHistoryRow {
  version: string;
  name: string;
}

/** The CLI's history table, or undefined when the CLI never pushed to this database. */
export async function readCliHistory(query: Query): Promise<CliHistoryRow[] | undefined> {
  const { rows } = await query(`select to_regclass('supabase_migrations.schema_migrations') is not null as present`);
  if (!(rows[0] as { present?: boolean } | undefined)?.present) return undefined;
  const history = await query(`select version, coalesce(name, '') as name from supabase_migrations.schema_migrations`);
  return history.rows as CliHistoryRow[];
}

export interface CliState {
  /** The CLI applied at least one of spotcast's migrations: the CLI, not spotcast's runner, owns this schema. */
  managed: boolean;
  /** spotcast's migrations the history lacks, in order. */
  missing: string[];
  /** How many of spotcast's migrations, from the first, are applied without a gap. */
  appliedInOrder: number;
}

/**
 * spotcast's migrations in the CLI's history, by the name the CLI records: the migrations/ file
 * name without `.sql` (`npm run supabase:sync` names them so). By name, not version, so that the
 * server needs only migrations/ at run time, not the generated folder.
 */
export function cliState(expected: string[], history: CliHistoryRow[] | undefined): CliState {
  const recorded = new Set((history ?? []).map((r) => r.name));
  const missing = expected.filter((name) => !recorded.has(name));
  const firstGap = expected.findIndex((name) => !recorded.has(name));
  return { managed: missing.length < expected.length, missing, appliedInOrder: firstGap === -1 ? expected.length : firstGap };
}

export function missingMessage(missing: string[]): string {
  return (
    `The Supabase CLI applied spotcast's migrations to this database, but not all of them: missing ${missing.join(', ')} ` +
    '(supabase/migrations/<version>_<name>.sql). spotcast does not apply migrations to a database the CLI manages. ' +
    'From the repository root run `supabase link --project-ref <ref>` (once) and `supabase db push`, then start the server again.'
  );
}

/** For callers holding a pg client rather than a query function. */
export const clientQuery =
  (client: pg.Client): Query =>
  (sql) =>
    client.query(sql);

/**
 * supabase/migrations/, the folder Supabase's CLI applies with `supabase db push`, is generated from
 * migrations/ by `npm run supabase:sync`: these fail when the two differ in content or order, and
 * check that the generator keeps versions stable and always gives a new migration a later one.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { appendFileSync, cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { MIGRATIONS_DIR } from '../server/platform/db/migrate.js';
import { listCliMigrations, SUPABASE_MIGRATIONS_DIR } from '../server/platform/db/supabase-migrations.js';
import { header, planSupabaseFolder, writeSupabaseFolder } from '../scripts/supabase-sync.js';

const sources = () => readdirSync(MIGRATIONS_DIR).filter((f) => f.endsWith('.sql')).sort();

describe('supabase/ (the folder Supabase’s CLI applies)', () => {
  const dirs: string[] = [];
  after(() => {
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  });

  /** A copy of both folders to change freely. */
  function copies(): { migrations: string; supabase: string } {
    const root = mkdtempSync(path.join(tmpdir(), 'spotcast-supabase-sync-'));
    dirs.push(root);
    const migrations = path.join(root, 'migrations');
    const supabase = path.join(root, 'supabase');
    cpSync(MIGRATIONS_DIR, migrations, { recursive: true });
    cpSync(SUPABASE_MIGRATIONS_DIR, supabase, { recursive: true });
    return { migrations, supabase };
  }

  it('is in sync with migrations/: run `npm run supabase:sync` when this fails', () => {
    const plan = planSupabaseFolder(MIGRATIONS_DIR, SUPABASE_MIGRATIONS_DIR, new Date());
    assert.deepEqual(plan.write.map((w) => w.file), [], 'files to (re)generate');
    assert.deepEqual(plan.remove, [], 'files no migration explains');
  });

  it('holds each migration once, in the same order, under a 14-digit version, with the same SQL', () => {
    const cli = listCliMigrations();
    assert.deepEqual(cli.map((m) => m.name), sources().map((f) => f.slice(0, -4)));
    assert.deepEqual(readdirSync(SUPABASE_MIGRATIONS_DIR).sort(), cli.map((m) => m.file).sort(), 'nothing else in the folder');
    for (const m of cli) assert.match(m.version, /^\d{14}$/, m.file);
    const versions = cli.map((m) => m.version);
    assert.deepEqual([...new Set(versions)], versions, 'versions are unique');
    for (const [i, m] of cli.entries()) {
      const source = sources()[i]!;
      assert.equal(readFileSync(path.join(SUPABASE_MIGRATIONS_DIR, m.file), 'utf8'), header(source) + readFileSync(path.join(MIGRATIONS_DIR, source), 'utf8'));
    }
  });

  it('has the config.toml the CLI looks for, naming a project', () => {
    const toml = readFileSync(path.join(SUPABASE_MIGRATIONS_DIR, '..', 'config.toml'), 'utf8');
    assert.match(toml, /^project_id = "spotcast"$/m);
  });

  it('an edited migration, a new one and a stray file are all reported; syncing fixes them and keeps the old versions', () => {
    const { migrations, supabase } = copies();
    const before = listCliMigrations(supabase);
    appendFileSync(path.join(migrations, sources()[2]!), '\n-- a change\n');
    const next = `${String(sources().length + 1).padStart(3, '0')}_next_feature.sql`;
    writeFileSync(path.join(migrations, next), 'select 1;\n');
    writeFileSync(path.join(supabase, '20000101000000_stray.sql'), 'select 1;\n');

    // A clock behind the newest version: the new file still sorts after every other.
    const plan = planSupabaseFolder(migrations, supabase, new Date('2001-01-01T00:00:00Z'));
    const newest = BigInt(before[before.length - 1]!.version);
    assert.deepEqual(plan.write.map((w) => w.file), [before[2]!.file, `${newest + 1n}_${next}`]);
    assert.deepEqual(plan.remove, ['20000101000000_stray.sql']);

    writeSupabaseFolder(plan, supabase);
    const again = planSupabaseFolder(migrations, supabase, new Date());
    assert.deepEqual([again.write, again.remove], [[], []]);
    const after = listCliMigrations(supabase);
    assert.deepEqual(after.slice(0, before.length), before, 'versions of existing migrations never change');
    assert.equal(after.length, before.length + 1);
  });

  it('a new migration written now gets the current UTC time as its version', () => {
    const { migrations, supabase } = copies();
    writeFileSync(path.join(migrations, `${String(sources().length + 1).padStart(3, '0')}_later.sql`), 'select 1;\n');
    const plan = planSupabaseFolder(migrations, supabase, new Date('2099-03-04T05:06:07Z'));
    assert.deepEqual(plan.write.map((w) => w.file), [`20990304050607_${String(sources().length + 1).padStart(3, '0')}_later.sql`]);
  });

  it('`npm run supabase:sync -- --check` exits 0 on this repository, and 1 naming the file when out of date', async function () {
    this.timeout(30_000);
    const script = path.join(MIGRATIONS_DIR, '..', 'scripts', 'supabase-sync.ts');
    const run = (...args: string[]) =>
      new Promise<{ code: number | null; out: string }>((resolve) => {
        execFile(process.execPath, ['--import', 'tsx', script, '--check', ...args], (err, stdout, stderr) =>
          resolve({ code: err ? (typeof err.code === 'number' ? err.code : null) : 0, out: stdout + stderr }),
        );
      });
    const ok = await run();
    assert.deepEqual([ok.code, /in sync/.test(ok.out)], [0, true], ok.out);

    const { migrations, supabase } = copies();
    appendFileSync(path.join(migrations, sources()[0]!), '\n-- a change\n');
    const stale = await run('--migrations-dir', migrations, '--supabase-dir', supabase);
    assert.equal(stale.code, 1, stale.out);
    assert.match(stale.out, new RegExp(`out of date: supabase/migrations/${listCliMigrations(supabase)[0]!.file}`));
    assert.match(stale.out, /npm run supabase:sync/);
  });
});

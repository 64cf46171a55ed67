/**
 * The server on a database whose migrations Supabase's CLI applied (`supabase db push`): spotcast's
 * runner applies nothing there, only checks that every spotcast migration is in the CLI's history,
 * and refuses to start, naming what is missing and the command to run, when one is not; readiness
 * answers from the same history; and a server started on it serves users and stores its role claim
 * path for is_admin().
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { mintToken } from '../server/platform/auth/tokens.js';
import { migrationStatus, MigrationError, runMigrations, SUPABASE_MIGRATIONS_DIR } from '../server/platform/db/migrate.js';
import { listCliMigrations } from '../server/platform/db/supabase-migrations.js';
import { supabaseDbPush } from './helpers/supabase-cli.js';
import { asPostgrest, createSupabaseDatabase, dropSupabaseDatabases, withClient, type SupabaseDatabase } from './helpers/supabase-fixture.js';
import { startTestServer, TEST_SECRET, type TestServer } from './helpers/server.js';
import { request } from './helpers/http.js';

const logger = pino({ level: 'silent' });
const CLI_FILES = listCliMigrations();

const statusOf = (db: SupabaseDatabase) => withClient(db.ownerUrl, (c) => migrationStatus((sql) => c.query(sql)));
const runnerTable = (db: SupabaseDatabase) =>
  withClient(db.ownerUrl, async (c) => (await c.query(`select to_regclass('public.migrations')::text as t`)).rows[0].t as string | null);

describe('spotcast on a database the Supabase CLI migrated', () => {
  const dirs: string[] = [];
  after(async function () {
    this.timeout(60_000);
    await dropSupabaseDatabases();
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  });

  it('the runner applies nothing and creates nothing; readiness says current', async function () {
    this.timeout(60_000);
    const db = await createSupabaseDatabase('spotcast_cli_full');
    await supabaseDbPush(db.ownerUrl, SUPABASE_MIGRATIONS_DIR);
    assert.deepEqual(await runMigrations(db.ownerUrl, logger), []);
    assert.equal(await runnerTable(db), null);
    assert.deepEqual(await statusOf(db), { appliedBy: 'supabase-cli', latest: CLI_FILES.length, applied: CLI_FILES.length, current: true });
  });

  it('a half-applied database is refused, naming the missing migrations and the command; pushing the rest fixes it', async function () {
    this.timeout(60_000);
    const db = await createSupabaseDatabase('spotcast_cli_half');
    const firstSix = mkdtempSync(path.join(tmpdir(), 'spotcast-cli-half-'));
    dirs.push(firstSix);
    for (const m of CLI_FILES.slice(0, 6)) cpSync(path.join(SUPABASE_MIGRATIONS_DIR, m.file), path.join(firstSix, m.file));
    await supabaseDbPush(db.ownerUrl, firstSix);

    await assert.rejects(runMigrations(db.ownerUrl, logger), (err: Error) => {
      assert.ok(err instanceof MigrationError, err.message);
      for (const m of CLI_FILES.slice(6)) assert.ok(err.message.includes(m.name), `names ${m.name}: ${err.message}`);
      for (const m of CLI_FILES.slice(0, 6)) assert.ok(!err.message.includes(m.name), `does not name the applied ${m.name}`);
      assert.match(err.message, /supabase db push/);
      return true;
    });
    assert.equal(await runnerTable(db), null, 'the runner did not start applying on its own');
    assert.deepEqual(await statusOf(db), { appliedBy: 'supabase-cli', latest: CLI_FILES.length, applied: 6, current: false });

    assert.deepEqual(await supabaseDbPush(db.ownerUrl, SUPABASE_MIGRATIONS_DIR), CLI_FILES.slice(6).map((m) => m.file));
    assert.deepEqual(await runMigrations(db.ownerUrl, logger), []);
    assert.equal((await statusOf(db)).current, true);
  });

  it('a CLI history holding only the project’s own migrations leaves spotcast’s runner in charge', async function () {
    this.timeout(60_000);
    const db = await createSupabaseDatabase('spotcast_cli_own');
    const own = mkdtempSync(path.join(tmpdir(), 'spotcast-cli-own-'));
    dirs.push(own);
    writeFileSync(path.join(own, '20250101000000_profiles.sql'), 'create table public.profiles (id uuid primary key);\nalter table public.profiles enable row level security;\n');
    await supabaseDbPush(db.ownerUrl, own);
    const applied = await runMigrations(db.ownerUrl, logger);
    assert.equal(applied.length, CLI_FILES.length + 1);
    assert.deepEqual(await statusOf(db), { appliedBy: 'spotcast', latest: CLI_FILES.length, applied: CLI_FILES.length, current: true });
  });

  describe('a server started on it (DATABASE_URL as the migration owner, JWT_ROLE_CLAIM=claims.app_role)', () => {
    let db: SupabaseDatabase;
    let server: TestServer;

    before(async function () {
      this.timeout(60_000);
      db = await createSupabaseDatabase('spotcast_cli_server');
      await supabaseDbPush(db.ownerUrl, SUPABASE_MIGRATIONS_DIR);
      // What the server does at start, in order: migrations, then the application.
      await runMigrations(db.ownerUrl, logger);
      server = await startTestServer({ DATABASE_URL: db.ownerUrl, JWT_ROLE_CLAIM: 'claims.app_role' });
    });
    after(() => server?.stop());

    const tokenOf = (sub: string, appRole?: 'admin') =>
      mintToken({ secret: TEST_SECRET, userId: sub, ...(appRole ? { extra: { claims: { app_role: appRole } } } : {}) });

    it('is ready: the migrations check answers from the CLI’s history', async () => {
      const res = await request(server, 'GET', '/health/ready');
      assert.equal(res.status, 200, JSON.stringify(res.body));
      assert.deepEqual(res.body.data.checks.migrations.detail, { appliedBy: 'supabase-cli', latest: CLI_FILES.length, applied: CLI_FILES.length, current: true });
    });

    it('stored its role claim path, which is_admin() follows when PostgREST calls it', async () => {
      const { rows } = await withClient(db.adminUrl, (c) => c.query('select role_claim_path from public.spotcast_settings'));
      assert.deepEqual(rows, [{ role_claim_path: 'claims.app_role' }]);
      const admin = { sub: randomUUID(), role: 'authenticated', claims: { app_role: 'admin' } };
      const viaApi = await asPostgrest(db, admin, (c) => c.query('select public.is_admin() as a'));
      assert.equal(viaApi.rows[0].a, true);
    });

    it('a user of the project books over REST; the admin at the custom claim is an admin to the server and sees the booking through PostgREST', async () => {
      const userId = randomUUID();
      await withClient(db.adminUrl, async (c) => {
        await c.query('set role supabase_auth_admin');
        await c.query(`insert into auth.users (id, aud, role, email) values ($1, 'authenticated', 'authenticated', $2)`, [userId, `${userId}@example.test`]);
      });
      const adminId = randomUUID();
      const lot = randomUUID();
      await asPostgrest(db, { role: 'service_role' }, (c) => c.query(`insert into public.parking_lots (id, name, total_spaces) values ($1, 'CLI lot', 3)`, [lot]), true);

      const res = await request(server, 'POST', '/bookings', { token: tokenOf(userId), body: { parking_lot_id: lot, duration_minutes: 60 } });
      assert.equal(res.status, 201, JSON.stringify(res.body));
      const booking = res.body.data.booking;
      assert.equal(booking.user_id, userId);

      const asAdmin = await request(server, 'GET', '/realtime/booking-activity', { token: tokenOf(adminId, 'admin') });
      assert.equal(asAdmin.status, 200, JSON.stringify(asAdmin.body));
      const viaApi = await asPostgrest(db, { sub: adminId, role: 'authenticated', claims: { app_role: 'admin' } }, (c) =>
        c.query('select id from public.bookings where id = $1', [booking.id]),
      );
      assert.deepEqual(viaApi.rows, [{ id: booking.id }]);
    });
  });
});

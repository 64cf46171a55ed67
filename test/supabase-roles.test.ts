/**
 * Roles belong to a whole cluster, and the run's Postgres serves the plain-Postgres suites (whose
 * 001 creates anon, authenticated and service_role when missing) and the Supabase fixture (which
 * creates Supabase's roles when missing) at once. In a fresh cluster of this suite's own, in
 * either order, both kinds of database migrate and serve a user's booking under RLS.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { pino } from 'pino';
import { runMigrations, SUPABASE_MIGRATIONS_DIR } from '../server/platform/db/migrate.js';
import { uniqueName, withClient, withDatabase } from './helpers/env.js';
import { OwnPostgres } from './helpers/own-postgres.js';
import { supabaseDbPush } from './helpers/supabase-cli.js';
import { asPostgrest, createSupabaseDatabase } from './helpers/supabase-fixture.js';

const logger = pino({ level: 'silent' });
const claims = (sub: string) => ({ sub, role: 'authenticated', app_metadata: { role: 'user' } });

/** A plain database, migrated by the runner; a user books there as the server does it (set local role). */
async function plainPath(clusterAdminUrl: string): Promise<void> {
  const name = uniqueName('spotcast_plain');
  await withClient(clusterAdminUrl, (c) => c.query(`create database ${c.escapeIdentifier(name)}`));
  const url = withDatabase(clusterAdminUrl, name);
  assert.ok((await runMigrations(url, logger)).length > 1);
  assert.deepEqual(await runMigrations(url, logger), []);
  await withClient(url, async (c) => {
    const lot = randomUUID();
    await c.query(`insert into public.parking_lots (id, name, total_spaces) values ($1, 'plain', 2)`, [lot]);
    await c.query('begin');
    await c.query(`select set_config('role', 'authenticated', true), set_config('request.jwt.claims', $1, true)`, [JSON.stringify(claims(randomUUID()))]);
    const { rows } = await c.query('select public.create_booking($1, null, null, 30) as r', [lot]);
    assert.equal(rows[0].r.booking.status, 'pending');
    await c.query('commit');
  });
}

/** A Supabase-shaped database, pushed by the CLI-like applier; a user of auth.users books through PostgREST. */
async function supabasePath(clusterAdminUrl: string): Promise<void> {
  const db = await createSupabaseDatabase('spotcast_supabase_order', clusterAdminUrl);
  assert.ok((await supabaseDbPush(db.ownerUrl, SUPABASE_MIGRATIONS_DIR)).length > 1);
  const userId = randomUUID();
  const lot = randomUUID();
  await withClient(db.adminUrl, async (c) => {
    await c.query(`insert into auth.users (id, aud, role) values ($1, 'authenticated', 'authenticated')`, [userId]);
  });
  await asPostgrest(db, { role: 'service_role' }, (c) => c.query(`insert into public.parking_lots (id, name, total_spaces) values ($1, 'sb', 2)`, [lot]), true);
  const { rows } = await asPostgrest(db, claims(userId), (c) => c.query('select public.create_booking($1, null, null, 30) as r', [lot]), true);
  assert.equal(rows[0].r.booking.status, 'pending');
}

const ORDERS: [string, ((admin: string) => Promise<void>)[]][] = [
  ['plain Postgres first, then Supabase', [plainPath, supabasePath, plainPath]],
  ['Supabase first, then plain Postgres', [supabasePath, plainPath, supabasePath]],
];

describe('Supabase’s roles and the plain path’s in one cluster', () => {
  for (const [title, steps] of ORDERS) {
    it(`${title}: every database migrates and serves a booking`, async function () {
      this.timeout(120_000);
      const own = await OwnPostgres.create();
      try {
        const admin = withDatabase(own.url, 'postgres');
        for (const step of steps) await step(admin);
        // Whoever came first made anon; the other path took it as it was.
        const { rows } = await withClient(admin, (c) => c.query(`select rolinherit from pg_roles where rolname = 'anon'`));
        assert.deepEqual(rows, [{ rolinherit: steps[0] === supabasePath }]);
      } finally {
        await own.destroy();
      }
    });
  }
});

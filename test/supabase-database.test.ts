/**
 * spotcast's migrations on a database prepared the way Supabase prepares a project's
 * (test/fixtures/supabase/: the auth service's schema, Supabase's roles and default privileges, a
 * migration owner that is not a superuser), applied both ways: as `supabase db push` applies
 * supabase/migrations/, and by spotcast's own runner. Afterwards, what matters works there, checked
 * as PostgREST runs requests (connected as `authenticator`, role and claims set per transaction).
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import { pino } from 'pino';
import { USER_FUNCTIONS } from '../server/platform/data/calls.js';
import { runMigrations, SUPABASE_MIGRATIONS_DIR } from '../server/platform/db/migrate.js';
import { listCliMigrations } from '../server/platform/db/supabase-migrations.js';
import { supabaseDbPush } from './helpers/supabase-cli.js';
import { asPostgrest, createSupabaseDatabase, dropSupabaseDatabases, withClient, type SupabaseDatabase } from './helpers/supabase-fixture.js';

const logger = pino({ level: 'silent' });
const SERVICE = { role: 'service_role' };
const user = (sub: string, extra: Record<string, unknown> = {}) => ({ sub, role: 'authenticated', app_metadata: { role: 'user' }, ...extra });

/** What the API's callers may run: everything else in `public` is the server's (service_role). */
// What callers run (the server's UserCalls, and supabase-js rpc), plus the helpers those functions'
// callers and RLS policies evaluate as the caller.
// Besides the commands: what the policies (and a new lot's operator_id default) evaluate as the
// caller, the claim readers of 001 and 012 (operators).
const CLAIM_HELPERS = ['is_admin', 'has_admin_role', 'org_claim', 'current_operator_id', 'admin_operator_id', 'is_lot_admin', 'operator_room', 'new_lot_operator'];
const CALLABLE_BY_USERS = [...USER_FUNCTIONS, 'booking_json', 'lot_held_now', 'waitlist_entry_json', ...CLAIM_HELPERS].sort();

const functionsOf = (c: pg.Client) =>
  c
    .query<{ proname: string; owner: string; prosrc: string }>(
      `select p.proname, pg_get_userbyid(p.proowner) as owner, p.prosrc from pg_proc p
         join pg_namespace n on n.oid = p.pronamespace where n.nspname = 'auth' order by p.proname`,
    )
    .then((r) => r.rows);

/** A user the auth service created (GoTrue writes auth.users as supabase_auth_admin). */
async function signUp(db: SupabaseDatabase, id = randomUUID()): Promise<string> {
  await withClient(db.adminUrl, async (c) => {
    await c.query('set role supabase_auth_admin');
    await c.query(`insert into auth.users (id, aud, role, email, raw_app_meta_data, created_at) values ($1, 'authenticated', 'authenticated', $2, '{}', now())`, [
      id,
      `${id}@example.test`,
    ]);
  });
  return id;
}

async function newLot(db: SupabaseDatabase, spaces = 5): Promise<string> {
  const id = randomUUID();
  await asPostgrest(db, SERVICE, (c) => c.query(`insert into public.parking_lots (id, name, total_spaces, hourly_rate_cents) values ($1, $2, $3, 200)`, [id, `Lot ${id.slice(0, 8)}`, spaces]), true);
  return id;
}

const APPLY = {
  'supabase db push': (db: SupabaseDatabase) => supabaseDbPush(db.ownerUrl, SUPABASE_MIGRATIONS_DIR),
  "spotcast's runner": (db: SupabaseDatabase) => runMigrations(db.ownerUrl, logger),
};

describe('on a database prepared like Supabase’s', () => {
  after(async function () {
    this.timeout(60_000);
    await dropSupabaseDatabases();
  });

  for (const [how, apply] of Object.entries(APPLY)) {
    describe(`migrated by ${how}`, () => {
      let db: SupabaseDatabase;
      let authBefore: Awaited<ReturnType<typeof functionsOf>>;
      let applied: string[];

      before(async function () {
        this.timeout(60_000);
        db = await createSupabaseDatabase('spotcast_supabase');
        authBefore = await withClient(db.adminUrl, functionsOf);
        applied = await apply(db);
      });

      it('applies every migration as the (non-superuser) owner; a second run applies nothing', async () => {
        const expected = how === 'supabase db push' ? listCliMigrations().map((m) => m.file) : undefined;
        if (expected) assert.deepEqual(applied, expected);
        else assert.equal(applied.length, listCliMigrations().length + 1, applied.join(', '));
        assert.deepEqual(await apply(db), []);
        const { rows } = await withClient(db.ownerUrl, (c) =>
          c.query(`select rolsuper, has_schema_privilege('auth', 'create') as create_in_auth from pg_roles where rolname = current_user`),
        );
        assert.deepEqual(rows, [{ rolsuper: false, create_in_auth: false }]);
      });

      it('leaves the auth service’s functions and storage’s runner table as they were', async () => {
        assert.deepEqual(await withClient(db.adminUrl, functionsOf), authBefore);
        assert.deepEqual(
          authBefore.map((f) => [f.proname, f.owner]),
          ['email', 'jwt', 'role', 'uid'].map((f) => [f, 'supabase_auth_admin']),
        );
        const { rows } = await withClient(db.adminUrl, (c) => c.query('select id, name from storage.migrations'));
        assert.deepEqual(rows, [{ id: 0, name: 'create-migrations-table' }]);
      });

      it('a user books under RLS, as PostgREST runs it; another user and anon see none of it', async () => {
        const [alice, bob] = [await signUp(db), await signUp(db)];
        const lot = await newLot(db);
        const { rows } = await asPostgrest(db, user(alice), (c) => c.query('select public.create_booking($1, null, null, 60) as r', [lot]), true);
        const booking = rows[0].r.booking;
        assert.deepEqual([booking.user_id, booking.status, booking.amount_cents], [alice, 'pending', 200]);
        const seen = (sub: string) => asPostgrest(db, user(sub), async (c) => (await c.query('select id from public.bookings')).rows.map((r) => r.id));
        assert.deepEqual(await seen(alice), [booking.id]);
        assert.deepEqual(await seen(bob), []);
        await assert.rejects(asPostgrest(db, { role: 'anon' }, (c) => c.query('select id from public.bookings')), /permission denied/);
      });

      it('a booking for someone not in auth.users is refused by the reference to it', async () => {
        const lot = await newLot(db);
        await assert.rejects(asPostgrest(db, user(randomUUID()), (c) => c.query('select public.create_booking($1, null, null, 60)', [lot])), (err: { code?: string; constraint?: string }) => {
          assert.deepEqual([err.code, err.constraint], ['23503', 'bookings_user_fk']);
          return true;
        });
      });

      it('deleting the user from auth.users deletes their bookings, payments and notifications', async () => {
        const carol = await signUp(db);
        const lot = await newLot(db, 1);
        const { rows } = await asPostgrest(db, user(carol), (c) => c.query('select public.create_booking($1, null, null, 60) as r', [lot]), true);
        const booking = rows[0].r.booking;
        await asPostgrest(db, SERVICE, (c) => c.query(`select public.apply_payment_event($1, 'payment.succeeded', $2, 200, 'EUR', $3)`, [`evt_${randomUUID()}`, booking.id, `pay_${randomUUID()}`]), true);
        const counts = () =>
          withClient(db.adminUrl, async (c) => {
            const { rows: n } = await c.query(
              `select (select count(*)::int from public.bookings where user_id = $1) as bookings,
                      (select count(*)::int from public.payments where user_id = $1) as payments,
                      (select count(*)::int from public.notifications where user_id = $1) as notifications`,
              [carol],
            );
            return n[0];
          });
        assert.deepEqual(await counts(), { bookings: 1, payments: 1, notifications: 2 });
        await withClient(db.adminUrl, async (c) => {
          await c.query('set role supabase_auth_admin');
          await c.query('delete from auth.users where id = $1', [carol]);
        });
        assert.deepEqual(await counts(), { bookings: 0, payments: 0, notifications: 0 });
        const free = await asPostgrest(db, user(await signUp(db)), (c) => c.query('select available_spaces from public.lot_availability($1)', [lot]));
        assert.deepEqual(free.rows, [{ available_spaces: 1 }]);
      });

      it('anon can reach nothing in public: no table, view, sequence or function', async () => {
        const { rows } = await withClient(db.adminUrl, (c) =>
          c.query<{ kind: string; name: string; anon: boolean }>(`
            select case c.relkind when 'S' then 'sequence' when 'v' then 'view' else 'table' end as kind, c.relname as name,
                   case when c.relkind = 'S' then has_sequence_privilege('anon', c.oid, 'usage,select,update')
                        else has_table_privilege('anon', c.oid, 'select,insert,update,delete,truncate,references,trigger')
                          or has_any_column_privilege('anon', c.oid, 'select,insert,update,references') end as anon
              from pg_class c join pg_namespace n on n.oid = c.relnamespace
             where n.nspname = 'public' and c.relkind in ('r', 'p', 'v', 'm', 'f', 'S')
            union all
            select 'function', p.oid::regprocedure::text, has_function_privilege('anon', p.oid, 'execute')
              from pg_proc p join pg_namespace n on n.oid = p.pronamespace where n.nspname = 'public'
             order by 1, 2`),
        );
        const names = rows.map((r) => `${r.kind} ${r.name}`);
        for (const expected of ['table bookings', 'view realtime_daily_stats', 'sequence event_log_id_seq', 'function is_admin()']) {
          assert.ok(names.includes(expected), `${expected} is among ${names.join(', ')}`);
        }
        assert.deepEqual(rows.filter((r) => r.anon).map((r) => `${r.kind} ${r.name}`), []);
        // Not vacuous: here Supabase's default privileges grant anon whatever the owner creates.
        const probe = await withClient(db.ownerUrl, async (c) => {
          await c.query('begin');
          await c.query('create table public.anon_probe (id int)');
          const { rows: p } = await c.query(`select has_table_privilege('anon', 'public.anon_probe', 'select') as granted`);
          await c.query('rollback');
          return p[0].granted;
        });
        assert.equal(probe, true);
      });

      it('authenticated may run exactly the functions meant for callers', async () => {
        const { rows } = await withClient(db.adminUrl, (c) =>
          c.query<{ proname: string }>(`select distinct p.proname from pg_proc p join pg_namespace n on n.oid = p.pronamespace
             where n.nspname = 'public' and has_function_privilege('authenticated', p.oid, 'execute') order by 1`),
        );
        assert.deepEqual(rows.map((r) => r.proname), CALLABLE_BY_USERS);
      });

      it('every function in public sets its search_path (Supabase’s security advisor)', async () => {
        const { rows } = await withClient(db.adminUrl, (c) =>
          c.query<{ fn: string; config: string[] | null }>(`select p.oid::regprocedure::text as fn, p.proconfig as config
             from pg_proc p join pg_namespace n on n.oid = p.pronamespace where n.nspname = 'public' order by 1`),
        );
        assert.ok(rows.length >= 20, `${rows.length} functions`);
        assert.deepEqual(rows.filter((r) => !(r.config ?? []).some((s) => s.startsWith('search_path='))).map((r) => r.fn), []);
      });

      it('is_admin() follows the claim path the server stored, also when PostgREST calls the functions', async () => {
        const admin = await signUp(db);
        const lot = await newLot(db);
        const isAdmin = async (claims: Record<string, unknown>) =>
          (await asPostgrest(db, claims, (c) => c.query('select public.is_admin() as a'))).rows[0].a as boolean;
        const custom = user(admin, { claims: { app_role: 'admin' } });
        const byDefault = user(admin, { app_metadata: { role: 'admin' } });
        assert.deepEqual([await isAdmin(custom), await isAdmin(byDefault)], [false, true]);

        await asPostgrest(db, SERVICE, (c) => c.query(`select public.configure_role_claim('claims.app_role')`), true);
        assert.deepEqual([await isAdmin(custom), await isAdmin(byDefault)], [true, false]);
        // An admin's command over rpc is judged by the same path.
        const { rows } = await asPostgrest(db, custom, (c) => c.query('select public.set_lot_availability($1, 3) as r', [lot]));
        assert.equal(rows[0].r.lot.available_spaces, 3);
        await assert.rejects(asPostgrest(db, byDefault, (c) => c.query('select public.set_lot_availability($1, 3)', [lot])), /Only admins/);
        await asPostgrest(db, SERVICE, (c) => c.query(`select public.configure_role_claim('app_metadata.role')`), true);
      });
    });
  }
});

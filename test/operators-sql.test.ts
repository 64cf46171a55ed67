/**
 * Operators in SQL, called as supabase-js calls it (PostgREST: the `authenticated` role and the
 * JWT's claims set locally, nothing else, so the claim paths come from spotcast_settings): what
 * operator A's admin can read and change with guessed ids, straight at the tables and functions.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { adminClaims, bookDirectly, direct, operatorAdminClaims, userClaims, type Claims } from './helpers/direct.js';
import { testEnv } from './helpers/global-setup.js';

const forbidden = (err: { code?: string; hint?: string }) => err.code === '42501' || err.hint === 'FORBIDDEN';
const notFound = (err: { hint?: string }) => err.hint === 'NOT_FOUND';
const one = async (claims: Claims, sql: string, values: unknown[] = []) => direct(claims, async (c) => (await c.query(sql, values)).rows);

describe('operators in SQL, as authenticated (the supabase-js path)', function () {
  this.timeout(30_000);
  const opA = randomUUID();
  const opB = randomUUID();
  const lotA = randomUUID();
  const lotB = randomUUID();
  const adminA = operatorAdminClaims(randomUUID(), opA);
  const adminB = operatorAdminClaims(randomUUID(), opB);
  const platform = adminClaims(randomUUID());
  const driver = randomUUID();
  let inA: string, inB: string;

  before(async () => {
    await direct(null, async (c) => {
      await c.query(`insert into public.operators (id, name) values ($1, 'A'), ($2, 'B')`, [opA, opB]);
      await c.query(`insert into public.parking_lots (id, name, total_spaces, operator_id) values ($1, 'A1', 10, $3), ($2, 'B1', 10, $4)`, [lotA, lotB, opA, opB]);
    });
    inA = (await bookDirectly(driver, lotA)).booking.id;
    inB = (await bookDirectly(driver, lotB)).booking.id;
    await direct(null, (c) => c.query(`select public.apply_payment_event($1, 'payment.succeeded', $2, 0, 'EUR', $3)`, [`evt_${randomUUID()}`, inB, `pay_${randomUUID()}`]));
    await direct(adminB, (c) => c.query('select public.set_lot_availability($1, null, 1)', [lotB]));
    await direct(null, (c) =>
      c.query(
        `insert into public.realtime_connection_log (node_id, socket_id, user_id, app_role, operator_id, connected_at)
         values ('n', $1, $3, 'user', $5, now()), ('n', $2, $4, 'user', $6, now())`,
        [randomUUID(), randomUUID(), randomUUID(), randomUUID(), opA, opB],
      ),
    );
  });

  it('who is who: is_admin() is the platform admin only; is_lot_admin() and current_operator_id() follow the org claim', async () => {
    const who = `select public.is_admin() as platform, public.current_operator_id() as op, public.is_lot_admin($1) as a, public.is_lot_admin($2) as b`;
    assert.deepEqual(await one(platform, who, [lotA, lotB]), [{ platform: true, op: null, a: true, b: true }]);
    assert.deepEqual(await one(adminA, who, [lotA, lotB]), [{ platform: false, op: opA, a: true, b: false }]);
    const junk = { ...adminClaims(randomUUID()), app_metadata: { role: 'admin', org_id: 'not-an-id' } };
    assert.deepEqual(await one(junk, who, [lotA, lotB]), [{ platform: false, op: null, a: false, b: false }], 'an unreadable org claim fails closed');
    const driverOfA = { ...userClaims(driver), app_metadata: { role: 'user', org_id: opA } };
    assert.deepEqual(await one(driverOfA, who, [lotA, lotB]), [{ platform: false, op: opA, a: false, b: false }]);
  });

  it("reads: A's admin sees A's bookings and payments, not B's, also by id", async () => {
    assert.deepEqual((await one(adminA, 'select id from public.bookings where id = any($1)', [[inA, inB]])).map((r) => r.id), [inA]);
    assert.deepEqual(await one(adminA, 'select id from public.payments where booking_id = $1', [inB]), []);
    assert.equal((await one(adminB, 'select count(*)::int as n from public.payments where booking_id = $1', [inB]))[0].n, 1);
    assert.deepEqual(await one(adminA, 'select public.get_booking($1) as r', [inB]), [{ r: null }]);
    const listed = (await one(adminA, 'select public.list_bookings(p_user_id => $1) as r', [driver]))[0].r;
    assert.deepEqual(listed.map((b: { id: string }) => b.id), [inA]);
    assert.deepEqual(await one(adminA, 'select provider_event_id from public.payment_webhook_events limit 1'), []);
    assert.deepEqual(await one(adminA, 'select id from public.notifications where user_id = $1', [driver]), []);
    assert.deepEqual((await one(adminA, 'select id from public.operators')).map((r) => r.id), [opA]);
  });

  it("writes: B's lots and bookings are out of reach (FORBIDDEN, NOT_FOUND, no row touched)", async () => {
    await assert.rejects(direct(adminA, (c) => c.query('select public.set_lot_availability($1, null, 3)', [lotB])), forbidden);
    await assert.rejects(direct(adminA, (c) => c.query('select public.cancel_booking($1)', [inB])), notFound);
    assert.equal((await direct(adminA, (c) => c.query(`update public.parking_lots set name = 'mine' where id = $1`, [lotB]))).rowCount, 0);
    assert.equal((await direct(adminA, (c) => c.query('delete from public.parking_lots where id = $1', [lotB]))).rowCount, 0);
    await assert.rejects(
      direct(adminA, (c) => c.query(`insert into public.parking_lots (name, total_spaces, operator_id) values ('x', 1, $1)`, [opB])),
      /row-level security/,
    );
    await assert.rejects(direct(adminA, (c) => c.query(`insert into public.admin_audit_log (actor_id, action, target_type, operator_id) values ($1, 'x', 'y', $2)`, [adminA.sub, opB])), /row-level security/);
    const { rows } = await direct(null, (c) => c.query('select name, out_of_service from public.parking_lots where id = $1', [lotB]));
    assert.deepEqual(rows, [{ name: 'B1', out_of_service: 1 }]);
    assert.equal((await direct(null, (c) => c.query('select status from public.bookings where id = $1', [inB]))).rows[0].status, 'confirmed');
  });

  it("writes: A's own lots and bookings are A's admin's to change; a lot it creates is A's", async () => {
    assert.equal((await direct(adminA, (c) => c.query(`update public.parking_lots set name = 'A one' where id = $1`, [lotA]))).rowCount, 1);
    const created = await one(adminA, `insert into public.parking_lots (name, total_spaces) values ('A2', 4) returning id, operator_id`);
    assert.equal(created[0].operator_id, opA);
    await direct(adminA, (c) => c.query('delete from public.parking_lots where id = $1', [created[0].id]));
    const platformLot = await one(platform, `insert into public.parking_lots (name, total_spaces) values ('P', 1) returning id, operator_id`);
    assert.equal(platformLot[0].operator_id, '00000000-0000-0000-0000-000000000001', 'the default operator');
    await direct(null, (c) => c.query('delete from public.parking_lots where id = $1', [platformLot[0].id]));
    const { r } = (await one(adminA, 'select public.set_lot_availability($1, null, 2) as r', [lotA]))[0];
    assert.equal(r.lot.out_of_service, 2);
  });

  it("events: admin events of A's lot go to admin:<A> too; A's admin reads those and never admin:<B>'s", async () => {
    const rooms = (await direct(null, (c) => c.query(`select rooms from public.event_log where payload->>'booking_id' = $1 and event = 'booking_updated'`, [inA]))).rows;
    assert.deepEqual(rooms[0].rooms, [`user:${driver}`, 'admin', `admin:${opA}`]);
    const lotRooms = (await direct(null, (c) => c.query(`select rooms from public.event_log where stream = $1 order by seq limit 1`, [`parking_lot:${lotB}`]))).rows;
    assert.deepEqual(lotRooms[0].rooms, [`parking_lot:${lotB}`, 'parking_updates', 'admin', `admin:${opB}`]);
    // Lot streams are every signed-in user's (availability); nothing else sent to admin:<B> is A's.
    assert.deepEqual(await one(adminA, `select id from public.event_log where $1 = any(rooms) and stream not like 'parking\\_lot:%'`, [`admin:${opB}`]), []);
    assert.ok((await one(adminB, `select id from public.event_log where $1 = any(rooms) and stream not like 'parking\\_lot:%'`, [`admin:${opB}`])).length > 0);
    const userStreams = await one(adminA, `select stream, rooms from public.event_log where stream = $1`, [`user:${driver}`]);
    assert.ok(userStreams.length > 0 && userStreams.every((e) => e.rooms.includes(`admin:${opA}`)), 'only the events sent to its room');
    const activity = (await one(adminA, 'select public.booking_activity(1000) as r'))[0].r;
    assert.deepEqual([...new Set(activity.map((a: { parking_lot_id: string }) => a.parking_lot_id))], [lotA]);
  });

  it('logs and stats: the audit log, connection log and admin_today are scoped to the operator', async () => {
    const audit = await one(adminA, 'select target_id, operator_id from public.admin_audit_log');
    assert.ok(audit.every((a) => a.operator_id === opA) && audit.some((a) => a.target_id === lotA));
    assert.deepEqual((await one(adminB, 'select target_id from public.admin_audit_log')).map((a) => a.target_id), [lotB]);
    assert.deepEqual((await one(adminA, 'select operator_id from public.realtime_connection_log')).map((r) => r.operator_id), [opA]);
    const today = (await one(adminA, 'select public.admin_today() as r'))[0].r;
    assert.equal(today.connections, 1);
    assert.equal(today.admin_actions, audit.length);
    assert.ok((await one(platform, 'select count(*)::int as n from public.realtime_connection_log'))[0].n >= 2);
  });

  it("admin_scope(): A's lots and drivers for A's admin, everything for the platform, refused to users", async () => {
    const scope = (await one(adminA, 'select public.admin_scope() as r'))[0].r;
    assert.deepEqual(scope, { platform: false, operator_id: opA, lot_ids: [lotA], user_ids: [driver] }, 'the driver holding a booking in A');
    assert.equal((await one(platform, 'select public.admin_scope() as r'))[0].r.platform, true);
    await assert.rejects(direct(userClaims(driver), (c) => c.query('select public.admin_scope()')), forbidden);
  });

  it("history (013): A's admin reads the history and past availability of A's lots only, and rebuilds only them", async () => {
    const past = new Date(Date.now() - 1000).toISOString();
    assert.ok((await one(adminA, 'select public.booking_history($1) as r', [inA]))[0].r.length > 0);
    await assert.rejects(direct(adminA, (c) => c.query('select public.booking_history($1)', [inB])), notFound);
    assert.ok((await one(platform, 'select public.booking_history($1) as r', [inB]))[0].r.length > 0, 'the platform admin reads any');
    assert.deepEqual(
      (await one(adminA, 'select distinct booking_id from public.booking_history where booking_id = any($1)', [[inA, inB]])).map((r) => r.booking_id),
      [inA],
    );
    assert.deepEqual(await one(adminA, 'select 1 from public.parking_lot_history where parking_lot_id = $1', [lotB]), []);
    assert.ok((await one(adminA, 'select public.lot_availability_at($1, $2) as r', [lotA, past]))[0].r);
    await assert.rejects(direct(adminA, (c) => c.query('select public.lot_availability_at($1, $2)', [lotB, past])), forbidden);
    assert.equal((await one(adminA, 'select public.rebuild_derived_state($1, false) as r', [lotA]))[0].r.parking_lot_id, lotA);
    await assert.rejects(direct(adminA, (c) => c.query('select public.rebuild_derived_state($1, true)', [lotB])), forbidden);
    await assert.rejects(direct(adminA, (c) => c.query('select public.rebuild_derived_state(null, true)')), forbidden);
  });

  it("waitlist (014): A's admin sees and reorders A's queues only; B's entries stay out of reach", async () => {
    const [entryA, entryB] = await direct(null, async (c) => {
      const { rows } = await c.query(
        `insert into public.waitlist_entries (user_id, parking_lot_id, starts_at, ends_at, position)
         values ($1, $2, now() + interval '1 day', now() + interval '1 day 1 hour', 1), ($1, $3, now() + interval '1 day', now() + interval '1 day 1 hour', 1)
         returning id`,
        [driver, lotA, lotB],
      );
      return rows.map((r) => r.id as string);
    });
    assert.equal((await one(adminA, 'select public.admin_waitlist($1) as r', [lotA]))[0].r.length, 1);
    await assert.rejects(direct(adminA, (c) => c.query('select public.admin_waitlist($1)', [lotB])), forbidden);
    assert.deepEqual((await one(adminA, 'select id from public.waitlist_entries where id = any($1)', [[entryA, entryB]])).map((r) => r.id), [entryA]);
    assert.equal((await one(adminA, 'select public.set_waitlist_priority($1, 3) as r', [entryA]))[0].r.entry.priority, 3);
    await assert.rejects(direct(adminA, (c) => c.query('select public.set_waitlist_priority($1, 3)', [entryB])), forbidden);
    await assert.rejects(direct(adminA, (c) => c.query('select public.leave_waitlist($1)', [entryB])), notFound);
    const { rows } = await direct(null, (c) => c.query('select priority, status from public.waitlist_entries where id = $1', [entryB]));
    assert.deepEqual(rows, [{ priority: 0, status: 'waiting' }]);
    assert.equal((await one(platform, 'select public.set_waitlist_priority($1, 2) as r', [entryB]))[0].r.entry.priority, 2, 'the platform admin reaches any');
  });

  it('the org claim path is configurable (JWT_ORG_CLAIM, stored like the role claim) and only the service may set it', async () => {
    const client = new pg.Client({ connectionString: testEnv().databaseUrl });
    await client.connect();
    try {
      await client.query('begin');
      await client.query(`select public.configure_org_claim('claims.tenant')`);
      const claims = { sub: randomUUID(), role: 'authenticated', app_metadata: { role: 'admin' }, claims: { tenant: opA } };
      await client.query(`select set_config('role', 'authenticated', true), set_config('request.jwt.claims', $1, true)`, [JSON.stringify(claims)]);
      const { rows } = await client.query('select public.is_admin() as platform, public.current_operator_id() as op');
      assert.deepEqual(rows, [{ platform: false, op: opA }]);
      await assert.rejects(client.query(`select public.configure_org_claim('x')`), /permission denied/);
    } finally {
      await client.query('rollback').catch(() => undefined);
      await client.end();
    }
  });
});

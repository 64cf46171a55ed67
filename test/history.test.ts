/**
 * Booking history: every change of a booking, by every path (spotcast's commands, jobs, the
 * payment webhook, direct SQL), with actor and reason; read by its owner and admins only; kept
 * append-only for every role and through the event log's retention. Real Postgres, HTTP, sockets.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { call, connect, newUserId } from './helpers/clients.js';
import { adminClaims, direct } from './helpers/direct.js';
import { createLot, payBooking } from './helpers/fixtures.js';
import { request } from './helpers/http.js';
import { waitUntil } from './helpers/measure.js';
import { useTestServer } from './helpers/server.js';

/** The parts of a history entry a user would check (ids and instants aside). */
const steps = (history: any[]) =>
  history.map((h) => ({ from: h.from_status, to: h.to_status, reason: h.reason, role: h.actor_role, actor: h.actor_id, via_command: h.via_command }));

const inSeconds = (s: number) => new Date(Date.now() + s * 1000).toISOString();

/** A booking inserted as the dashboard's table editor would (postgres, no claims), optionally with a reason. */
async function insertDirectly(userId: string, lotId: string, reason?: string): Promise<string> {
  return direct(null, async (c) => {
    if (reason) await c.query(`select set_config('spotcast.change_reason', $1, true)`, [reason]);
    const { rows } = await c.query(
      `insert into public.bookings (user_id, parking_lot_id, starts_at, ends_at, amount_cents)
       values ($1, $2, now() + interval '2 hours', now() + interval '3 hours', 0) returning id`,
      [userId, lotId],
    );
    return rows[0].id as string;
  });
}

describe('booking history', () => {
  // Default holds (15 min): no hold of these tests expires while they run.
  const server = useTestServer();
  const userId = newUserId();
  const adminId = newUserId();
  const user = () => server().token(userId);
  const admin = () => server().token(adminId, 'admin');

  async function book(lot: string, body: Record<string, unknown>) {
    const res = await request(server(), 'POST', '/bookings', { token: user(), body: { parking_lot_id: lot, ...body } });
    assert.equal(res.status, 201, JSON.stringify(res.body));
    return res.body.data.booking as { id: string; amount_cents: number };
  }
  async function historyOf(id: string, token = user()) {
    const res = await request(server(), 'GET', `/bookings/${id}/history`, { token });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal(res.body.data.booking_id, id);
    return res.body.data.history as any[];
  }
  async function statusOf(id: string) {
    return (await request(server(), 'GET', `/bookings/${id}`, { token: user() })).body.data.booking.status as string;
  }

  it('records created, paid, activated and completed, with who caused each', async () => {
    const lot = await createLot(server().db, { total: 3 });
    // A window of a few seconds from now: paid within it, so it activates, then completes.
    const b = await book(lot, { ends_at: inSeconds(6) });
    await payBooking(server(), b);
    await waitUntil(async () => (await statusOf(b.id)) === 'completed', 20_000, 'the booking to complete');
    assert.deepEqual(steps(await historyOf(b.id)), [
      { from: null, to: 'pending', reason: 'created', role: 'user', actor: userId, via_command: true },
      { from: 'pending', to: 'confirmed', reason: 'paid', role: 'system', actor: null, via_command: true },
      { from: 'confirmed', to: 'active', reason: 'activated', role: 'system', actor: null, via_command: true },
      { from: 'active', to: 'completed', reason: 'completed', role: 'system', actor: null, via_command: true },
    ]);
  });

  it('records a cancellation by an admin, with the window and lot of each change', async () => {
    const lot = await createLot(server().db, { total: 3 });
    const cancelled = await book(lot, { starts_at: inSeconds(3600), duration_minutes: 30 });
    const res = await request(server(), 'POST', `/bookings/${cancelled.id}/cancel`, { token: admin(), body: { reason: 'closed for works' } });
    assert.equal(res.status, 200);
    const history = await historyOf(cancelled.id);
    assert.deepEqual(steps(history), [
      { from: null, to: 'pending', reason: 'created', role: 'user', actor: userId, via_command: true },
      { from: 'pending', to: 'cancelled', reason: 'cancelled', role: 'admin', actor: adminId, via_command: true },
    ]);
    for (const h of history) assert.equal(h.parking_lot_id, lot);
    assert.ok(Date.parse(history[1].at) > Date.parse(history[0].at));
  });

  it('records changes made directly in the database, and the reason a transaction sets (an offer)', async () => {
    const lot = await createLot(server().db, { total: 3 });
    const offered = await insertDirectly(userId, lot, 'offered');
    const plain = await insertDirectly(userId, lot);
    await direct(null, (c) => c.query(`update public.bookings set status = 'confirmed' where id = $1`, [plain]));
    await direct(null, (c) => c.query(`update public.bookings set starts_at = starts_at + interval '1 hour', ends_at = ends_at + interval '1 hour' where id = $1`, [plain]));
    await direct(null, (c) => c.query('delete from public.bookings where id = $1', [plain]));

    assert.deepEqual(steps(await historyOf(offered)), [{ from: null, to: 'pending', reason: 'offered', role: 'system', actor: null, via_command: false }]);
    const history = await historyOf(plain);
    assert.deepEqual(steps(history), [
      { from: null, to: 'pending', reason: 'created', role: 'system', actor: null, via_command: false },
      { from: 'pending', to: 'confirmed', reason: 'paid', role: 'system', actor: null, via_command: false },
      { from: 'confirmed', to: 'confirmed', reason: 'changed', role: 'system', actor: null, via_command: false },
      { from: 'confirmed', to: null, reason: 'deleted', role: 'system', actor: null, via_command: false },
    ]);
    // The window each change left it with: moved by an hour at the third.
    assert.equal(Date.parse(history[2].starts_at) - Date.parse(history[1].starts_at), 3600_000);
    // The booking is gone; its history stays, for its owner.
    assert.equal((await request(server(), 'GET', `/bookings/${plain}`, { token: user() })).status, 404);
  });

  it('is read by the owner and admins (REST and socket); anyone else is told the booking does not exist', async () => {
    const lot = await createLot(server().db, { total: 3 });
    const b = await book(lot, { starts_at: inSeconds(3600), duration_minutes: 30 });
    const mine = await historyOf(b.id);
    assert.deepEqual(await historyOf(b.id, admin()), mine);

    const { socket } = await connect(server().url, user());
    const ack = await call(socket, 'get_booking_history', { booking_id: b.id });
    assert.equal(ack.ok, true);
    assert.deepEqual(ack.data, { booking_id: b.id, history: mine });

    const stranger = server().token(newUserId());
    for (const id of [b.id, randomUUID(), 'not-a-uuid']) {
      const res = await request(server(), 'GET', `/bookings/${id}/history`, { token: stranger });
      assert.equal(res.status, 404, id);
      assert.equal(res.body.error.code, 'NOT_FOUND');
    }
    const { socket: other } = await connect(server().url, stranger);
    const refused = await call(other, 'get_booking_history', { booking_id: b.id });
    assert.deepEqual([refused.ok, refused.error.code], [false, 'NOT_FOUND']);
    assert.equal((await call(other, 'get_booking_history', { booking_id: 42 })).error.code, 'VALIDATION_ERROR');
    // Under RLS directly (supabase-js): the stranger reads no row of it, the owner every row.
    const rows = (claims: Record<string, unknown>) =>
      direct(claims, async (c) => (await c.query('select count(*)::int as n from public.booking_history where booking_id = $1', [b.id])).rows[0].n);
    assert.equal(await rows({ sub: newUserId(), role: 'authenticated', app_metadata: { role: 'user' } }), 0);
    assert.equal(await rows({ sub: userId, role: 'authenticated', app_metadata: { role: 'user' } }), mine.length);
  });

  it('is append-only for every role, the service role and the owner included, and outlives the event log', async () => {
    const lot = await createLot(server().db, { total: 3 });
    const b = await book(lot, { starts_at: inSeconds(3600), duration_minutes: 30 });
    const before = await historyOf(b.id);
    for (const role of ['service_role', 'authenticated', null]) {
      for (const sql of [
        `update public.booking_history set reason = 'forged' where booking_id = $1 and $2::uuid is not null`,
        `delete from public.booking_history where booking_id = $1 and $2::uuid is not null`,
        `update public.parking_lot_history set total_spaces = 0 where parking_lot_id = $2 and $1::uuid is not null`,
        `delete from public.parking_lot_history where parking_lot_id = $2 and $1::uuid is not null`,
      ]) {
        const claims = role === 'authenticated' ? adminClaims(adminId) : role ? { role } : null;
        await assert.rejects(
          direct(claims, (c) => c.query(sql, [b.id, lot])),
          (err: any) => err.code === '42501',
          `${role ?? 'owner'}: ${sql}`,
        );
      }
      const truncate = direct(role ? { role } : null, (c) => c.query('truncate public.booking_history'));
      await assert.rejects(truncate, (err: any) => err.code === '42501', `${role ?? 'owner'}: truncate`);
    }
    // The event log's retention takes this booking's events, not its history.
    const cleaned = await direct(null, async (c) => {
      await c.query(
        `update public.event_log set created_at = now() - interval '2 days', dispatched_at = coalesce(dispatched_at, now())
          where payload->>'booking_id' = $1`,
        [b.id],
      );
      return (await c.query(`select public.cleanup_event_log(interval '1 day') as n`)).rows[0].n;
    });
    assert.ok(Number(cleaned) >= 1);
    assert.deepEqual(await historyOf(b.id), before);
  });

  it('records a lot’s capacity changes with their actor: an admin’s edit and a direct one', async () => {
    const lot = await createLot(server().db, { total: 10 });
    await request(server(), 'PUT', `/realtime/parking-lots/${lot}/availability`, { token: admin(), body: { out_of_service: 2 } });
    await direct(null, (c) => c.query('update public.parking_lots set name = $2 where id = $1', [lot, 'renamed only']));
    await direct(null, (c) => c.query('update public.parking_lots set total_spaces = 12 where id = $1', [lot]));
    const rows = await direct(null, async (c) =>
      (await c.query(
        `select total_spaces, out_of_service, occupied_unbooked, is_open, reason, actor_role, actor_id, via_command
           from public.parking_lot_history where parking_lot_id = $1 order by id`,
        [lot],
      )).rows,
    );
    assert.deepEqual(rows, [
      { total_spaces: 10, out_of_service: 0, occupied_unbooked: 0, is_open: true, reason: 'created', actor_role: 'system', actor_id: null, via_command: false },
      { total_spaces: 10, out_of_service: 2, occupied_unbooked: 0, is_open: true, reason: 'capacity_changed', actor_role: 'admin', actor_id: adminId, via_command: true },
      { total_spaces: 12, out_of_service: 2, occupied_unbooked: 0, is_open: true, reason: 'capacity_changed', actor_role: 'system', actor_id: null, via_command: false },
    ]);
  });
});

describe('booking history of an expired hold', () => {
  // Holds of 2 s, so expiry is part of the test's own timeline.
  const server = useTestServer({ BOOKING_HOLD_SECONDS: '2' });

  it('records the expiry as the system', async () => {
    const userId = newUserId();
    const token = server().token(userId);
    const lot = await createLot(server().db, { total: 3 });
    const made = await request(server(), 'POST', '/bookings', { token, body: { parking_lot_id: lot, duration_minutes: 30 } });
    const id = made.body.data.booking.id as string;
    await waitUntil(async () => (await request(server(), 'GET', `/bookings/${id}`, { token })).body.data.booking.status === 'expired', 10_000, 'the hold to expire');
    const res = await request(server(), 'GET', `/bookings/${id}/history`, { token });
    assert.deepEqual(steps(res.body.data.history), [
      { from: null, to: 'pending', reason: 'created', role: 'user', actor: userId, via_command: true },
      { from: 'pending', to: 'expired', reason: 'expired', role: 'system', actor: null, via_command: true },
    ]);
  });
});

describe('availability of a lot at a past instant', () => {
  // Default holds (15 min): nothing in this timeline changes by itself between its steps.
  const server = useTestServer();
  const adminId = newUserId();
  const admin = () => server().token(adminId, 'admin');
  const FIELDS = ['total_spaces', 'out_of_service', 'occupied_unbooked', 'is_open', 'held', 'available_spaces'] as const;
  const pick = (a: Record<string, unknown>) => Object.fromEntries(FIELDS.map((f) => [f, a[f]]));

  /** The database's clock now (microseconds), and the lot's live availability at it. */
  async function observe(lot: string) {
    const { rows } = await server().db.asSystem((tx) =>
      tx.query<{ t: string }>(`select to_char(clock_timestamp() at time zone 'utc', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') as t`),
    );
    const live = await request(server(), 'GET', `/realtime/parking-availability?parking_lot_id=${lot}`, { token: admin() });
    return { at: rows[0]!.t, live: pick(live.body.data.lots[0]) };
  }
  const pastAt = (lot: string, at: string, token = admin()) =>
    request(server(), 'GET', `/admin/parking-lots/${lot}/availability?at=${encodeURIComponent(at)}`, { token });

  it('equals, at every instant of a scripted timeline, what the lot showed live then', async () => {
    const lot = await createLot(server().db, { total: 5 });
    const elsewhere = await createLot(server().db, { total: 5 });
    const driver = newUserId();
    const token = server().token(driver);
    const seen = [await observe(lot)];
    const bookNow = await request(server(), 'POST', '/bookings', { token, body: { parking_lot_id: lot, duration_minutes: 60 } });
    seen.push(await observe(lot));
    await request(server(), 'POST', '/bookings', { token, body: { parking_lot_id: lot, starts_at: inSeconds(1800), duration_minutes: 60 } });
    seen.push(await observe(lot));
    await request(server(), 'PUT', `/realtime/parking-lots/${lot}/availability`, { token: admin(), body: { out_of_service: 1, available_spaces: 2 } });
    seen.push(await observe(lot));
    await request(server(), 'POST', `/bookings/${bookNow.body.data.booking.id}/cancel`, { token });
    seen.push(await observe(lot));
    const direct1 = await direct(null, async (c) =>
      (await c.query(`insert into public.bookings (user_id, parking_lot_id, starts_at, ends_at, amount_cents)
                      values ($1, $2, now() - interval '1 minute', now() + interval '1 hour', 0) returning id`, [driver, lot])).rows[0].id,
    );
    seen.push(await observe(lot));
    await direct(null, (c) => c.query('update public.parking_lots set total_spaces = 8 where id = $1', [lot]));
    seen.push(await observe(lot));
    await direct(null, (c) => c.query('update public.bookings set parking_lot_id = $2 where id = $1', [direct1, elsewhere]));
    seen.push(await observe(lot));

    // The timeline did move: held 0 → 1 → 1 → 1 → 0 → 1 → 1 → 0, capacity 5 → 4 (+1 physically taken) → 8.
    assert.deepEqual(seen.map((s) => s.live.held), [0, 1, 1, 1, 0, 1, 1, 0]);
    assert.deepEqual(seen.map((s) => s.live.available_spaces), [5, 4, 4, 2, 3, 2, 5, 6]);
    for (const [i, s] of seen.entries()) {
      const res = await pastAt(lot, s.at);
      assert.equal(res.status, 200, JSON.stringify(res.body));
      assert.deepEqual(pick(res.body.data), s.live, `step ${i} at ${s.at}`);
      assert.equal(res.body.data.at !== undefined, true);
    }
  });

  it('is for admins, refuses a future instant or one before the lot existed, and names no unknown lot', async () => {
    const lot = await createLot(server().db, { total: 5 });
    const now = new Date().toISOString();
    assert.equal((await pastAt(lot, now, server().token(newUserId()))).status, 403);
    assert.equal((await pastAt(lot, inSeconds(3600))).body.error.code, 'VALIDATION_ERROR');
    assert.equal((await pastAt(lot, '2020-01-01T00:00:00Z')).body.error.code, 'VALIDATION_ERROR');
    assert.equal((await pastAt(lot, 'yesterday')).status, 400);
    assert.equal((await pastAt(randomUUID(), now)).status, 404);
    assert.equal((await pastAt('P3', now)).status, 404);
  });
});

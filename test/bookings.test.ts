/**
 * The booking lifecycle over REST and Socket.IO against the real database, and isolation between
 * users: through the server and, underneath it, in SQL as Supabase's REST layer would run it.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { signPayload } from '../server/features/payments/signature.js';
import { call, closeAll, connect, newUserId, nextEvent, record } from './helpers/clients.js';
import { createLot } from './helpers/fixtures.js';
import { testEnv } from './helpers/global-setup.js';
import { useTestServer, TEST_WEBHOOK_SECRET, type TestServer } from './helpers/server.js';
import { sleep, waitUntil } from './helpers/measure.js';
import { request } from './helpers/http.js';

const HOLD_SECONDS = 600;
const MAX_HOURS = 24;

type Claims = Record<string, unknown>;
const userClaims = (sub: string): Claims => ({ sub, role: 'authenticated', app_metadata: { role: 'user' } });

/** pg's error for "not allowed": SQLSTATE 42501 with "permission denied". */
const permissionDenied = (err: unknown) => {
  const e = err as { code?: string; message?: string };
  assert.equal(e.code, '42501', `expected SQLSTATE 42501, got ${e.code}: ${e.message}`);
  assert.match(e.message ?? '', /permission denied/);
  return true;
};

const minutesFromNow = (m: number) => new Date(Date.now() + m * 60_000).toISOString();

describe('bookings', () => {
  const server = useTestServer({ BOOKING_HOLD_SECONDS: String(HOLD_SECONDS), BOOKING_MAX_HOURS: String(MAX_HOURS) });

  async function setRate(lot: string, cents: number) {
    await server().db.asSystem((tx) => tx.query('update public.parking_lots set hourly_rate_cents = $2 where id = $1', [lot, cents]));
  }
  async function available(lot: string, token: string): Promise<number> {
    const res = await request(server(), 'GET', `/realtime/parking-availability?parking_lot_id=${lot}`, { token });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    return res.body.data.lots[0].available_spaces;
  }
  async function rowsOf(userId: string): Promise<{ bookings: number; notifications: number; events: number }> {
    const { rows } = await server().db.asSystem((tx) =>
      tx.query(
        `select (select count(*)::int from public.bookings where user_id = $1) as bookings,
                (select count(*)::int from public.notifications where user_id = $1) as notifications,
                (select count(*)::int from public.event_log where stream = 'user:' || $1) as events`,
        [userId],
      ),
    );
    return rows[0];
  }
  async function dbStatus(bookingId: string): Promise<string> {
    const { rows } = await server().db.asSystem((tx) => tx.query('select status from public.bookings where id = $1', [bookingId]));
    return rows[0].status;
  }
  async function book(token: string, lot: string, body: Record<string, unknown> = {}) {
    const res = await request(server(), 'POST', '/bookings', { token, body: { parking_lot_id: lot, duration_minutes: 60, ...body } });
    assert.equal(res.status, 201, JSON.stringify(res.body));
    return res.body.data.booking as { id: string; status: string; amount_cents: number; user_id: string };
  }

  describe('REST lifecycle', () => {
    it('POST /bookings holds a space: 201, pending, hold of BOOKING_HOLD_SECONDS, amount from the hourly rate', async () => {
      const lot = await createLot(server().db, { total: 10 });
      await setRate(lot, 250);
      const userId = newUserId();
      const token = server().token(userId);
      assert.equal(await available(lot, token), 10);

      const res = await request(server(), 'POST', '/bookings', { token, body: { parking_lot_id: lot, duration_minutes: 90, vehicle_plate: 'AB-123' } });
      assert.equal(res.status, 201, JSON.stringify(res.body));
      assert.equal(res.body.ok, true);
      assert.equal(res.body.data.replayed, false);
      const b = res.body.data.booking;
      assert.equal(b.status, 'pending');
      assert.equal(b.user_id, userId);
      assert.equal(b.parking_lot_id, lot);
      assert.equal(b.vehicle_plate, 'AB-123');
      assert.equal(b.currency, 'EUR');
      // 1.5 h at 2.50 an hour
      assert.equal(b.amount_cents, 375);
      assert.equal(Date.parse(b.ends_at) - Date.parse(b.starts_at), 90 * 60_000);
      const holdFromCreation = (Date.parse(b.hold_expires_at) - Date.parse(b.created_at)) / 1000;
      assert.ok(Math.abs(holdFromCreation - HOLD_SECONDS) < 5, `hold is ${holdFromCreation} s after creation, expected ≈ ${HOLD_SECONDS}`);
      const holdFromNow = (Date.parse(b.hold_expires_at) - Date.now()) / 1000;
      assert.ok(Math.abs(holdFromNow - HOLD_SECONDS) < 60, `hold ends ${holdFromNow} s from now, expected ≈ ${HOLD_SECONDS}`);

      assert.equal(await available(lot, token), 9);
      assert.equal(await dbStatus(b.id), 'pending');
    });

    it('an explicit window is kept as given, and the amount rounds up to the cent', async () => {
      const lot = await createLot(server().db);
      await setRate(lot, 333);
      const token = server().token(newUserId());
      const starts = new Date(Date.now() + 3_600_000);
      starts.setUTCMilliseconds(0);
      const ends = new Date(starts.getTime() + 20 * 60_000);
      const b = await book(token, lot, { duration_minutes: undefined, starts_at: starts.toISOString(), ends_at: ends.toISOString() });
      assert.equal(Date.parse((b as any).starts_at), starts.getTime());
      assert.equal(Date.parse((b as any).ends_at), ends.getTime());
      assert.equal(b.amount_cents, 111); // 333 / 3
    });

    it('GET /bookings/:id returns the booking; GET /bookings lists only the caller’s own, filtered by ?status', async () => {
      const lot = await createLot(server().db);
      const userId = newUserId();
      const token = server().token(userId);
      const other = server().token(newUserId());
      const first = await book(token, lot);
      const second = await book(token, lot);
      const theirs = await book(other, lot);

      const one = await request(server(), 'GET', `/bookings/${first.id}`, { token });
      assert.equal(one.status, 200);
      assert.equal(one.body.data.booking.id, first.id);
      assert.equal(one.body.data.booking.status, 'pending');

      const cancelled = await request(server(), 'POST', `/bookings/${second.id}/cancel`, { token, body: { reason: 'plans changed' } });
      assert.equal(cancelled.status, 200);

      const all = await request(server(), 'GET', '/bookings', { token });
      assert.equal(all.status, 200);
      const ids = all.body.data.bookings.map((b: { id: string }) => b.id);
      assert.deepEqual(ids, [second.id, first.id], 'newest first, own only');
      assert.ok(!ids.includes(theirs.id));
      assert.ok(all.body.data.bookings.every((b: { user_id: string }) => b.user_id === userId));

      const pending = await request(server(), 'GET', '/bookings?status=pending', { token });
      assert.deepEqual(pending.body.data.bookings.map((b: { id: string }) => b.id), [first.id]);
      const onlyCancelled = await request(server(), 'GET', '/bookings?status=cancelled', { token });
      assert.deepEqual(onlyCancelled.body.data.bookings.map((b: { id: string }) => b.id), [second.id]);
      const confirmed = await request(server(), 'GET', '/bookings?status=confirmed', { token });
      assert.deepEqual(confirmed.body.data.bookings, []);

      const bad = await request(server(), 'GET', '/bookings?status=lost', { token });
      assert.equal(bad.status, 400);
      assert.equal(bad.body.error.code, 'VALIDATION_ERROR');
      // Not the shape of a booking id (the documentation's '456'): no such booking.
      const badId = await request(server(), 'GET', '/bookings/not-a-uuid', { token });
      assert.equal(badId.status, 404);
      assert.equal(badId.body.error.code, 'NOT_FOUND');
      const missing = await request(server(), 'GET', `/bookings/${randomUUID()}`, { token });
      assert.equal(missing.status, 404);
      assert.equal(missing.body.error.code, 'NOT_FOUND');
      const anonymous = await request(server(), 'GET', '/bookings');
      assert.equal(anonymous.status, 401);
    });

    it('POST /bookings/:id/cancel cancels and frees the space; cancelling again is INVALID_TRANSITION', async () => {
      const lot = await createLot(server().db, { total: 3 });
      const token = server().token(newUserId());
      const b = await book(token, lot);
      assert.equal(await available(lot, token), 2);

      const res = await request(server(), 'POST', `/bookings/${b.id}/cancel`, { token });
      assert.equal(res.status, 200, JSON.stringify(res.body));
      assert.equal(res.body.data.booking.status, 'cancelled');
      assert.equal(res.body.data.booking.hold_expires_at, null);
      assert.equal(await available(lot, token), 3);
      assert.equal(await dbStatus(b.id), 'cancelled');

      const again = await request(server(), 'POST', `/bookings/${b.id}/cancel`, { token });
      assert.equal(again.status, 409);
      assert.equal(again.body.error.code, 'INVALID_TRANSITION');
      assert.equal(await dbStatus(b.id), 'cancelled');
      assert.equal(await available(lot, token), 3);
    });

    it('the same Idempotency-Key returns the same booking (200, replayed) and holds one space', async () => {
      const lot = await createLot(server().db, { total: 5 });
      const userId = newUserId();
      const token = server().token(userId);
      const key = `key-${randomUUID()}`;
      const body = { parking_lot_id: lot, duration_minutes: 30 };
      const first = await request(server(), 'POST', '/bookings', { token, body, headers: { 'idempotency-key': key } });
      const second = await request(server(), 'POST', '/bookings', { token, body, headers: { 'idempotency-key': key } });
      assert.equal(first.status, 201);
      assert.equal(second.status, 200);
      assert.equal(second.body.data.replayed, true);
      assert.equal(second.body.data.booking.id, first.body.data.booking.id);
      assert.equal((await rowsOf(userId)).bookings, 1);
      assert.equal(await available(lot, token), 4);
    });

    it('an Idempotency-Key reused for another lot is refused (409 IDEMPOTENCY_KEY_REUSED), not answered with the old booking', async () => {
      const lot = await createLot(server().db, { total: 5 });
      const other = await createLot(server().db, { total: 5 });
      const userId = newUserId();
      const token = server().token(userId);
      const headers = { 'idempotency-key': `key-${randomUUID()}` };
      const first = await request(server(), 'POST', '/bookings', { token, body: { parking_lot_id: lot, duration_minutes: 30 }, headers });
      assert.equal(first.status, 201);
      const reused = await request(server(), 'POST', '/bookings', { token, body: { parking_lot_id: other, duration_minutes: 30 }, headers });
      assert.equal(reused.status, 409);
      assert.equal(reused.body.error.code, 'IDEMPOTENCY_KEY_REUSED');
      assert.equal((await rowsOf(userId)).bookings, 1);
      assert.equal(await available(other, token), 5);
    });
  });

  describe('socket lifecycle', () => {
    it('create_booking, get_booking_status and cancel_booking answer on the ack', async () => {
      const lot = await createLot(server().db, { total: 4 });
      const userId = newUserId();
      const { socket } = await connect(server().url, server().token(userId));

      const created = await call(socket, 'create_booking', { parking_lot_id: lot, duration_minutes: 45 });
      assert.equal(created.ok, true, JSON.stringify(created));
      assert.equal(created.data.replayed, false);
      const b = created.data.booking;
      assert.equal(b.status, 'pending');
      assert.equal(b.user_id, userId);

      const status = await call(socket, 'get_booking_status', { booking_id: b.id });
      assert.equal(status.ok, true);
      assert.equal(status.data.booking.id, b.id);
      assert.equal(status.data.booking.status, 'pending');

      const cancelled = await call(socket, 'cancel_booking', { booking_id: b.id, reason: 'testing' });
      assert.equal(cancelled.ok, true);
      assert.equal(cancelled.data.booking.status, 'cancelled');

      const after = await call(socket, 'get_booking_status', { booking_id: b.id });
      assert.equal(after.data.booking.status, 'cancelled');

      const again = await call(socket, 'cancel_booking', { booking_id: b.id });
      assert.equal(again.ok, false);
      assert.equal(again.error.code, 'INVALID_TRANSITION');

      const missing = await call(socket, 'get_booking_status', { booking_id: randomUUID() });
      assert.equal(missing.ok, false);
      assert.equal(missing.error.code, 'NOT_FOUND');
    });

    it('without an ack, the answers come as booking_created, booking_status and booking_cancelled; errors as `error`', async () => {
      const lot = await createLot(server().db, { total: 4 });
      const { socket } = await connect(server().url, server().token(newUserId()));

      const createdEvt = nextEvent(socket, 'booking_created');
      socket.emit('create_booking', { parking_lot_id: lot, duration_minutes: 30 });
      const created = await createdEvt;
      assert.equal(created.booking.status, 'pending');
      assert.equal(created.replayed, false);
      const id = created.booking.id;

      const statusEvt = nextEvent(socket, 'booking_status');
      socket.emit('get_booking_status', { booking_id: id });
      assert.equal((await statusEvt).booking.id, id);

      const cancelledEvt = nextEvent(socket, 'booking_cancelled');
      socket.emit('cancel_booking', { booking_id: id });
      const cancelled = await cancelledEvt;
      assert.equal(cancelled.booking.id, id);
      assert.equal(cancelled.booking.status, 'cancelled');

      const errorEvt = nextEvent(socket, 'error', (e) => e.event === 'cancel_booking');
      socket.emit('cancel_booking', { booking_id: id });
      assert.equal((await errorEvt).code, 'INVALID_TRANSITION');

      const badEvt = nextEvent(socket, 'error', (e) => e.event === 'create_booking');
      socket.emit('create_booking', { parking_lot_id: 'nope' });
      const bad = await badEvt;
      assert.equal(bad.code, 'VALIDATION_ERROR');
      assert.equal(typeof bad.message, 'string');
    });
  });

  describe('live events', () => {
    it('the creator hears booking_updated and a notification on user:<id>; lot subscribers hear parking_updated', async () => {
      const lot = await createLot(server().db, { total: 6 });
      const userId = newUserId();
      const { socket: owner } = await connect(server().url, server().token(userId));
      const { socket: watcher } = await connect(server().url, server().token(newUserId()));
      assert.equal((await call(watcher, 'subscribe', { room: `parking_lot:${lot}` })).ok, true);

      const updated = nextEvent(owner, 'booking_updated', (p) => p.action === 'created');
      const note = nextEvent(owner, 'notification');
      const lotEvt = nextEvent(watcher, 'parking_updated', (p) => p.parking_lot_id === lot);
      const created = await call(owner, 'create_booking', { parking_lot_id: lot, duration_minutes: 60 });
      assert.equal(created.ok, true);
      const id = created.data.booking.id;

      const u = await updated;
      assert.equal(u.booking_id, id);
      assert.equal(u.status, 'pending');
      assert.equal(u.booking.id, id);
      assert.equal(u.room, `user:${userId}`);
      assert.equal(typeof u.event_id, 'number');
      assert.equal(typeof u.seq, 'number');
      assert.ok(!Number.isNaN(Date.parse(u.timestamp)));

      const n = await note;
      assert.equal(n.title, 'Space held');
      assert.equal(n.type, 'info');
      assert.equal(n.room, `user:${userId}`);
      assert.equal(n.seq, u.seq + 1, 'same stream, next number');
      assert.equal(n.data.booking_id, id);

      const p = await lotEvt;
      assert.equal(p.available_spaces, 5);
      assert.equal(p.action, 'booking_created');
      assert.equal(p.room, `parking_lot:${lot}`);

      const cancelUpdate = nextEvent(owner, 'booking_updated', (e) => e.action === 'cancelled');
      const cancelNote = nextEvent(owner, 'notification', (e) => e.title === 'Booking cancelled');
      const freed = nextEvent(watcher, 'parking_updated', (e) => e.parking_lot_id === lot && e.action === 'booking_cancelled');
      assert.equal((await call(owner, 'cancel_booking', { booking_id: id })).ok, true);
      const c = await cancelUpdate;
      assert.equal(c.booking_id, id);
      assert.equal(c.status, 'cancelled');
      assert.equal(c.room, `user:${userId}`);
      assert.ok(c.seq > n.seq);
      assert.equal((await cancelNote).type, 'warning');
      const f = await freed;
      assert.equal(f.available_spaces, 6);
      assert.ok(f.seq > p.seq);
    });

    it('another user hears none of it: no booking_updated, no notification (after a positive event on their socket)', async () => {
      const lot = await createLot(server().db, { total: 6 });
      const { socket: owner } = await connect(server().url, server().token(newUserId()));
      const { socket: stranger } = await connect(server().url, server().token(newUserId()));
      await call(stranger, 'subscribe', { room: `parking_lot:${lot}` });
      const strayUpdates = record(stranger, 'booking_updated');
      const strayNotes = record(stranger, 'notification');
      const strayPayments = record(stranger, 'payment_updated');

      const ownerHeard = nextEvent(owner, 'notification');
      const strangerHeardLot = nextEvent(stranger, 'parking_updated', (p) => p.parking_lot_id === lot);
      const created = await call(owner, 'create_booking', { parking_lot_id: lot, duration_minutes: 60 });
      assert.equal(created.ok, true);
      await ownerHeard;
      await strangerHeardLot; // the stranger's socket does receive what is public
      const cancelHeard = nextEvent(owner, 'booking_updated', (e) => e.action === 'cancelled');
      await call(owner, 'cancel_booking', { booking_id: created.data.booking.id });
      await cancelHeard;
      await sleep(250);
      assert.deepEqual(strayUpdates, []);
      assert.deepEqual(strayNotes, []);
      assert.deepEqual(strayPayments, []);
    });
  });

  describe('validation: refused with a clear code, nothing written', () => {
    it('REST: each bad payload is refused and creates no booking, notification or event', async () => {
      const lot = await createLot(server().db, { total: 5 });
      const closed = await createLot(server().db, { total: 5 });
      await server().db.asSystem((tx) => tx.query('update public.parking_lots set is_open = false where id = $1', [closed]));
      const userId = newUserId();
      const token = server().token(userId);
      const before = await rowsOf(userId);
      assert.deepEqual(before, { bookings: 0, notifications: 0, events: 0 });

      const cases: [string, unknown, number, string][] = [
        ['missing lot', { duration_minutes: 60 }, 400, 'VALIDATION_ERROR'],
        ['non-uuid lot', { parking_lot_id: 'lot-1', duration_minutes: 60 }, 400, 'VALIDATION_ERROR'],
        ['ends before starts', { parking_lot_id: lot, starts_at: minutesFromNow(60), ends_at: minutesFromNow(30) }, 400, 'VALIDATION_ERROR'],
        ['ends at starts', { parking_lot_id: lot, starts_at: minutesFromNow(60), ends_at: minutesFromNow(60) }, 400, 'VALIDATION_ERROR'],
        ['both ends_at and duration', { parking_lot_id: lot, ends_at: minutesFromNow(60), duration_minutes: 60 }, 400, 'VALIDATION_ERROR'],
        ['neither ends_at nor duration', { parking_lot_id: lot }, 400, 'VALIDATION_ERROR'],
        ['starts in the past', { parking_lot_id: lot, starts_at: minutesFromNow(-60), ends_at: minutesFromNow(60) }, 400, 'VALIDATION_ERROR'],
        ['longer than BOOKING_MAX_HOURS (duration)', { parking_lot_id: lot, duration_minutes: (MAX_HOURS + 1) * 60 }, 400, 'VALIDATION_ERROR'],
        ['longer than BOOKING_MAX_HOURS (window)', { parking_lot_id: lot, starts_at: minutesFromNow(10), ends_at: minutesFromNow(10 + (MAX_HOURS + 1) * 60) }, 400, 'VALIDATION_ERROR'],
        ['non-ISO date', { parking_lot_id: lot, starts_at: 'tomorrow at noon', duration_minutes: 60 }, 400, 'VALIDATION_ERROR'],
        ['date without a zone', { parking_lot_id: lot, starts_at: '2031-01-01T10:00:00', duration_minutes: 60 }, 400, 'VALIDATION_ERROR'],
        ['zero duration', { parking_lot_id: lot, duration_minutes: 0 }, 400, 'VALIDATION_ERROR'],
        ['fractional duration', { parking_lot_id: lot, duration_minutes: 1.5 }, 400, 'VALIDATION_ERROR'],
        ['duration as a string', { parking_lot_id: lot, duration_minutes: '60' }, 400, 'VALIDATION_ERROR'],
        ['plate too long', { parking_lot_id: lot, duration_minutes: 60, vehicle_plate: 'X'.repeat(21) }, 400, 'VALIDATION_ERROR'],
        ['not an object', [lot], 400, 'VALIDATION_ERROR'],
        ['unknown lot', { parking_lot_id: randomUUID(), duration_minutes: 60 }, 404, 'NOT_FOUND'],
        ['closed lot', { parking_lot_id: closed, duration_minutes: 60 }, 409, 'LOT_CLOSED'],
      ];
      for (const [what, body, status, code] of cases) {
        const res = await request(server(), 'POST', '/bookings', { token, body });
        assert.equal(res.status, status, `${what}: ${JSON.stringify(res.body)}`);
        assert.equal(res.body.ok, false, what);
        assert.equal(res.body.error.code, code, `${what}: ${JSON.stringify(res.body)}`);
        assert.ok(typeof res.body.error.message === 'string' && res.body.error.message.length > 0, what);
      }
      const malformed = await request(server(), 'POST', '/bookings', { token, rawBody: '{"parking_lot_id":' });
      assert.equal(malformed.status, 400);
      assert.equal(malformed.body.error.code, 'VALIDATION_ERROR');

      assert.deepEqual(await rowsOf(userId), before);
      assert.equal(await available(lot, token), 5);
      assert.equal(await available(closed, token), 5);
    });

    it('socket: the same refusals on the ack, and nothing written', async () => {
      const lot = await createLot(server().db, { total: 5 });
      const closed = await createLot(server().db, { total: 5 });
      await server().db.asSystem((tx) => tx.query('update public.parking_lots set is_open = false where id = $1', [closed]));
      const userId = newUserId();
      const { socket } = await connect(server().url, server().token(userId));
      const cases: [string, unknown, string][] = [
        ['no payload', undefined, 'VALIDATION_ERROR'],
        ['missing lot', { duration_minutes: 60 }, 'VALIDATION_ERROR'],
        ['non-uuid lot', { parking_lot_id: 42, duration_minutes: 60 }, 'VALIDATION_ERROR'],
        ['ends before starts', { parking_lot_id: lot, starts_at: minutesFromNow(60), ends_at: minutesFromNow(30) }, 'VALIDATION_ERROR'],
        ['both', { parking_lot_id: lot, ends_at: minutesFromNow(60), duration_minutes: 60 }, 'VALIDATION_ERROR'],
        ['neither', { parking_lot_id: lot }, 'VALIDATION_ERROR'],
        ['past', { parking_lot_id: lot, starts_at: minutesFromNow(-60), duration_minutes: 30 }, 'VALIDATION_ERROR'],
        ['too long', { parking_lot_id: lot, duration_minutes: (MAX_HOURS + 1) * 60 }, 'VALIDATION_ERROR'],
        ['non-ISO', { parking_lot_id: lot, ends_at: '31/12/2031', }, 'VALIDATION_ERROR'],
        ['unknown lot', { parking_lot_id: randomUUID(), duration_minutes: 60 }, 'NOT_FOUND'],
        ['closed lot', { parking_lot_id: closed, duration_minutes: 60 }, 'LOT_CLOSED'],
      ];
      for (const [what, payload, code] of cases) {
        const res = payload === undefined ? await call(socket, 'create_booking') : await call(socket, 'create_booking', payload);
        assert.equal(res.ok, false, `${what}: ${JSON.stringify(res)}`);
        assert.equal(res.error.code, code, `${what}: ${JSON.stringify(res)}`);
      }
      for (const [event, payload] of [
        ['get_booking_status', { booking_id: 42 }],
        ['cancel_booking', {}],
        ['cancel_booking', { booking_id: randomUUID(), reason: 'r'.repeat(501) }],
      ] as const) {
        const res = await call(socket, event, payload);
        assert.equal(res.error.code, 'VALIDATION_ERROR', `${event} ${JSON.stringify(payload)}`);
      }
      // A string that is not a booking id names no booking (the documentation's '456').
      assert.equal((await call(socket, 'get_booking_status', { booking_id: '456' })).error.code, 'NOT_FOUND');
      assert.equal((await call(socket, 'cancel_booking', { booking_id: '456' })).error.code, 'NOT_FOUND');
      assert.deepEqual(await rowsOf(userId), { bookings: 0, notifications: 0, events: 0 });
    });
  });

  describe('isolation between users', () => {
    let lot: string;
    const userA = newUserId();
    const userB = newUserId();
    let tokenA: string;
    let tokenB: string;
    let bookingA: { id: string; amount_cents: number };
    let bookingB: { id: string; amount_cents: number };
    let sql: pg.Client;

    /** BEGIN; role and claims set locally (as Supabase's REST layer does); fn; ROLLBACK. */
    async function asClaims<T>(claims: Claims, fn: (c: pg.Client) => Promise<T>): Promise<T> {
      await sql.query('begin');
      try {
        await sql.query(`select set_config('role', 'authenticated', true), set_config('request.jwt.claims', $1, true)`, [JSON.stringify(claims)]);
        const result = await fn(sql);
        await sql.query('rollback');
        return result;
      } catch (err) {
        await sql.query('rollback');
        throw err;
      }
    }

    async function pay(bookingId: string, amount: number) {
      const rawBody = JSON.stringify({
        id: `evt_${randomUUID()}`,
        type: 'payment.succeeded',
        data: { booking_id: bookingId, payment_id: `pay_${randomUUID()}`, amount_cents: amount },
      });
      const res = await request(server(), 'POST', '/payments/webhook', { rawBody, headers: { 'x-spotcast-signature': signPayload(TEST_WEBHOOK_SECRET, rawBody) } });
      assert.equal(res.status, 200, JSON.stringify(res.body));
    }

    before(async () => {
      sql = new pg.Client({ connectionString: testEnv().databaseUrl, application_name: 'spotcast-bookings-test' });
      await sql.connect();
      lot = await createLot(server().db, { total: 10 });
      await setRate(lot, 200);
      tokenA = server().token(userA);
      tokenB = server().token(userB);
      bookingA = await book(tokenA, lot);
      bookingB = await book(tokenB, lot);
      // Each has a payment row, so that "own rows only" has something to hide.
      const lotB = await createLot(server().db, { total: 10 });
      const paidA = await book(tokenA, lotB);
      const paidB = await book(tokenB, lotB);
      await pay(paidA.id, paidA.amount_cents);
      await pay(paidB.id, paidB.amount_cents);
    });
    after(async () => {
      await sql?.end();
    });

    it('B cannot read A’s booking over REST (404 NOT_FOUND, as if missing) nor over the socket', async () => {
      const res = await request(server(), 'GET', `/bookings/${bookingA.id}`, { token: tokenB });
      assert.equal(res.status, 404);
      assert.equal(res.body.error.code, 'NOT_FOUND');
      assert.doesNotMatch(JSON.stringify(res.body), new RegExp(userA));
      const { socket } = await connect(server().url, tokenB);
      const ack = await call(socket, 'get_booking_status', { booking_id: bookingA.id });
      assert.equal(ack.ok, false);
      assert.equal(ack.error.code, 'NOT_FOUND');
      // and the owner can
      const own = await request(server(), 'GET', `/bookings/${bookingA.id}`, { token: tokenA });
      assert.equal(own.status, 200);
    });

    it('B cannot cancel A’s booking (404 over REST, NOT_FOUND over the socket); it stays pending', async () => {
      const res = await request(server(), 'POST', `/bookings/${bookingA.id}/cancel`, { token: tokenB });
      assert.equal(res.status, 404);
      assert.equal(res.body.error.code, 'NOT_FOUND');
      const { socket } = await connect(server().url, tokenB);
      const ack = await call(socket, 'cancel_booking', { booking_id: bookingA.id });
      assert.equal(ack.ok, false);
      assert.equal(ack.error.code, 'NOT_FOUND');
      assert.equal(await dbStatus(bookingA.id), 'pending');
    });

    it('B’s list holds only B’s bookings', async () => {
      const res = await request(server(), 'GET', '/bookings', { token: tokenB });
      const ids = res.body.data.bookings.map((b: { id: string }) => b.id);
      assert.ok(ids.includes(bookingB.id));
      assert.ok(!ids.includes(bookingA.id));
      assert.ok(res.body.data.bookings.every((b: { user_id: string }) => b.user_id === userB));
    });

    it('B cannot join user:<A>, in either room form', async () => {
      const { socket } = await connect(server().url, tokenB);
      const direct = await call(socket, 'subscribe', { room: `user:${userA}` });
      assert.equal(direct.ok, false);
      assert.equal(direct.error.code, 'FORBIDDEN');
      const typed = await call(socket, 'subscribe', { type: 'user', room: userA.toUpperCase() });
      assert.equal(typed.ok, false);
      assert.equal(typed.error.code, 'FORBIDDEN');
      const own = await call(socket, 'subscribe', { room: `user:${userB}` });
      assert.equal(own.ok, true);
    });

    it('an admin can read A’s booking over REST', async () => {
      const res = await request(server(), 'GET', `/bookings/${bookingA.id}`, { token: server().token(newUserId(), 'admin') });
      assert.equal(res.status, 200);
      assert.equal(res.body.data.booking.user_id, userA);
    });

    describe('in SQL, as `authenticated` with B’s claims', () => {
      it('select A’s booking by id returns no row (and B’s own does)', async () => {
        await asClaims(userClaims(userB), async (c) => {
          assert.equal((await c.query('select * from public.bookings where id = $1', [bookingA.id])).rowCount, 0);
          assert.equal((await c.query('select * from public.bookings where id = $1', [bookingB.id])).rowCount, 1);
          const { rows } = await c.query('select distinct user_id::text from public.bookings');
          assert.deepEqual(rows.map((r) => r.user_id), [userB]);
        });
      });

      it('cancel_booking(A’s id) raises NOT_FOUND and changes nothing', async () => {
        await assert.rejects(
          asClaims(userClaims(userB), (c) => c.query('select public.cancel_booking($1)', [bookingA.id])),
          (err: { hint?: string; code?: string }) => {
            assert.equal(err.hint, 'NOT_FOUND');
            assert.equal(err.code, 'P0002');
            return true;
          },
        );
        assert.equal(await dbStatus(bookingA.id), 'pending');
      });

      it('update and insert on bookings are permission denied', async () => {
        await assert.rejects(
          asClaims(userClaims(userB), (c) => c.query(`update public.bookings set status = 'cancelled' where id = $1`, [bookingA.id])),
          permissionDenied,
        );
        await assert.rejects(
          asClaims(userClaims(userB), (c) => c.query(`update public.bookings set status = 'confirmed' where id = $1`, [bookingB.id])),
          permissionDenied,
        );
        await assert.rejects(
          asClaims(userClaims(userB), (c) =>
            c.query(
              `insert into public.bookings (user_id, parking_lot_id, starts_at, ends_at, status, amount_cents)
               values ($1, $2, now(), now() + interval '1 hour', 'confirmed', 0)`,
              [userB, lot],
            ),
          ),
          permissionDenied,
        );
        await assert.rejects(asClaims(userClaims(userB), (c) => c.query('delete from public.bookings where id = $1', [bookingB.id])), permissionDenied);
        assert.equal(await dbStatus(bookingA.id), 'pending');
        assert.equal(await dbStatus(bookingB.id), 'pending');
      });

      it('payments: only own rows are visible; writes are permission denied', async () => {
        await asClaims(userClaims(userB), async (c) => {
          const { rows } = await c.query('select user_id::text from public.payments');
          assert.ok(rows.length >= 1, 'B sees their own payment');
          assert.ok(rows.every((r) => r.user_id === userB));
        });
        await asClaims(userClaims(userA), async (c) => {
          const { rows } = await c.query('select user_id::text from public.payments');
          assert.ok(rows.length >= 1);
          assert.ok(rows.every((r) => r.user_id === userA));
        });
        await assert.rejects(
          asClaims(userClaims(userB), (c) =>
            c.query(
              `insert into public.payments (booking_id, user_id, amount_cents, status, provider_payment_id) values ($1, $2, 0, 'succeeded', 'forged')`,
              [bookingB.id, userB],
            ),
          ),
          permissionDenied,
        );
        await assert.rejects(asClaims(userClaims(userB), (c) => c.query(`update public.payments set status = 'succeeded'`)), permissionDenied);
        // The replay guard of the webhook is the server's alone.
        await asClaims(userClaims(userB), async (c) => {
          assert.equal((await c.query('select * from public.payment_webhook_events')).rowCount, 0);
        });
      });

      it('apply_payment_event (paying any booking) is permission denied to authenticated', async () => {
        await assert.rejects(
          asClaims(userClaims(userB), (c) =>
            c.query(`select public.apply_payment_event('evt_forged', 'payment.succeeded', $1, 100000, 'EUR', 'pay_forged')`, [bookingB.id]),
          ),
          permissionDenied,
        );
        await assert.rejects(
          asClaims(userClaims(userB), (c) =>
            c.query(`select public.apply_payment_event('evt_forged2', 'payment.succeeded', $1, 100000, 'EUR', 'pay_forged2')`, [bookingA.id]),
          ),
          permissionDenied,
        );
        assert.equal(await dbStatus(bookingA.id), 'pending');
        assert.equal(await dbStatus(bookingB.id), 'pending');
      });

      it('append_event and the other event writers are permission denied (no forged broadcasts)', async () => {
        await assert.rejects(
          asClaims(userClaims(userB), (c) =>
            c.query(`select public.append_event($1, 'booking_updated', array[$1], '{}'::jsonb, null)`, [`user:${userA}`]),
          ),
          permissionDenied,
        );
        await assert.rejects(
          asClaims(userClaims(userB), (c) => c.query(`select public.append_notification($1, 'Hi', 'forged', 'info', null, null)`, [userA])),
          permissionDenied,
        );
        await assert.rejects(asClaims(userClaims(userB), (c) => c.query(`select public.append_lot_event($1, 'x', null)`, [lot])), permissionDenied);
        await assert.rejects(asClaims(userClaims(userB), (c) => c.query(`select public.advance_booking($1, 'expire')`, [bookingA.id])), permissionDenied);
        await assert.rejects(
          asClaims(userClaims(userB), (c) => c.query(`insert into public.event_log (stream, seq, event, rooms, payload) values ('x', 1, 'x', '{}', '{}')`)),
          permissionDenied,
        );
      });

      it('event_log rows of user:<A> are not visible to B (A sees them)', async () => {
        const stream = `user:${userA}`;
        const asA = await asClaims(userClaims(userA), async (c) => (await c.query('select count(*)::int as n from public.event_log where stream = $1', [stream])).rows[0].n);
        assert.ok(asA > 0, 'A has events on their stream');
        await asClaims(userClaims(userB), async (c) => {
          assert.equal((await c.query('select count(*)::int as n from public.event_log where stream = $1', [stream])).rows[0].n, 0);
          const { rows } = await c.query(`select distinct stream from public.event_log where stream like 'user:%'`);
          assert.deepEqual(rows.map((r) => r.stream), [`user:${userB}`]);
        });
      });

      /** A refusal for breaking a rule (not some unrelated failure) is an acceptable answer. */
      // The limits live in booking_settings, which only the service writes; create_booking takes no
      // hold or maximum from its caller, so a user calling it directly (supabase-js rpc) cannot pick them.
      it('create_booking called directly has no hold or maximum parameter to abuse', async () => {
        const lot2 = await createLot(server().db, { total: 2 });
        await assert.rejects(
          asClaims(userClaims(userB), (c) => c.query(`select public.create_booking($1, null, null, 86400, null, null, 24, 60)`, [lot2])),
          (err: { code?: string }) => err.code === '42883',
        );
        const booking = await asClaims(userClaims(userB), async (c) => {
          const { rows } = await c.query(`select public.create_booking($1, null, null, 60) as r`, [lot2]);
          return rows[0].r.booking;
        });
        const holdSeconds = (Date.parse(booking.hold_expires_at) - Date.parse(booking.created_at)) / 1000;
        assert.ok(Math.abs(holdSeconds - HOLD_SECONDS) < 2, `hold of ${holdSeconds} s, configured ${HOLD_SECONDS} s`);
      });

      it('create_booking called directly is held to the configured maximum length', async () => {
        const lot2 = await createLot(server().db, { total: 2 });
        await assert.rejects(
          asClaims(userClaims(userB), (c) => c.query(`select public.create_booking($1, null, null, $2)`, [lot2, (MAX_HOURS + 1) * 60])),
          (err: { hint?: string }) => err.hint === 'VALIDATION_ERROR',
        );
      });

      it('booking_settings cannot be read or changed by users', async () => {
        await assert.rejects(
          asClaims(userClaims(userB), (c) => c.query('update public.booking_settings set hold_seconds = 86400')),
          (err: { code?: string }) => err.code === '42501',
        );
        await assert.rejects(
          asClaims(userClaims(userB), (c) => c.query('select public.configure_bookings(86400, 744, 100000, 3650)')),
          (err: { code?: string }) => err.code === '42501',
        );
      });
    });
  });
});

/**
 * The waitlist on one real server (Postgres, sockets, the booking jobs): joining a full window,
 * offers when space frees (cancellation, expiry, more capacity), positions live on the user's
 * stream, leaving, priorities granted by admins only. The race across nodes, with a node killed
 * mid-offer, is in waitlist-cluster.test.ts.
 */
import assert from 'node:assert/strict';
import { call, connect, newUserId, nextEvent, record } from './helpers/clients.js';
import { closeClients, newClient } from './client/support.js';
import { createLot, payBooking } from './helpers/fixtures.js';
import { request } from './helpers/http.js';
import { waitUntil } from './helpers/measure.js';
import { useTestServer } from './helpers/server.js';

const OFFER_SECONDS = 2;

describe('waitlist', function () {
  this.timeout(60_000);
  const server = useTestServer({ WAITLIST_OFFER_SECONDS: String(OFFER_SECONDS), JOBS_SWEEP_INTERVAL_MS: '200' });
  const s = () => server();
  const at = (minutes: number) => new Date(Date.now() + minutes * 60_000).toISOString();

  /** A lot of `total` spaces, every one held by a booking of the next hour; returns the lot and those bookings. */
  async function fullLot(total: number) {
    const lot = await createLot(s().db, { total });
    const bookings: { id: string; token: string; userId: string }[] = [];
    for (let i = 0; i < total; i++) {
      const userId = newUserId();
      const token = s().token(userId);
      const res = await request(s(), 'POST', '/bookings', { token, body: { parking_lot_id: lot, duration_minutes: 60 } });
      assert.equal(res.status, 201, JSON.stringify(res.body));
      bookings.push({ id: res.body.data.booking.id, token, userId });
    }
    return { lot, bookings };
  }
  /** A window inside every booking of fullLot. */
  const window = () => ({ starts_at: at(5), ends_at: at(35) });

  async function join(lot: string, userId = newUserId()) {
    const token = s().token(userId);
    const res = await request(s(), 'POST', '/waitlist', { token, body: { parking_lot_id: lot, ...window() } });
    assert.equal(res.status, 201, JSON.stringify(res.body));
    return { userId, token, entry: res.body.data.entry };
  }
  /** The most spaces held at once in an entry's window: never above the lot's capacity. */
  const peak = async (lot: string, w: { starts_at: string; ends_at: string }) =>
    (await s().db.asSystem((tx) => tx.query('select public.lot_peak_holds($1, $2, $3) as n', [lot, w.starts_at, w.ends_at]))).rows[0].n;
  const entryOf = async (id: string) =>
    (await s().db.asSystem((tx) => tx.query('select * from public.waitlist_entries where id = $1', [id]))).rows[0];

  it('joining: refused while the window has space (SPACE_AVAILABLE), accepted once it is full (LOT_FULL), idempotent per window', async () => {
    const lot = await createLot(s().db, { total: 1 });
    const token = s().token(newUserId());
    const early = await request(s(), 'POST', '/waitlist', { token, body: { parking_lot_id: lot, duration_minutes: 30 } });
    assert.equal(early.status, 409);
    assert.equal(early.body.error.code, 'SPACE_AVAILABLE');
    const booked = await request(s(), 'POST', '/bookings', { token: s().token(newUserId()), body: { parking_lot_id: lot, duration_minutes: 60 } });
    assert.equal(booked.status, 201);
    const refused = await request(s(), 'POST', '/bookings', { token, body: { parking_lot_id: lot, ...window() } });
    assert.equal(refused.body.error.code, 'LOT_FULL');

    const { socket } = await connect(s().url, token);
    const joined = await call(socket, 'join_waitlist', { parking_lot_id: lot, ...window() });
    assert.equal(joined.ok, true, JSON.stringify(joined));
    assert.equal(joined.data.replayed, false);
    assert.equal(joined.data.entry.status, 'waiting');
    assert.equal(joined.data.entry.position, 1);
    assert.equal(joined.data.entry.priority, 0);
    const again = await call(socket, 'join_waitlist', { parking_lot_id: lot, starts_at: joined.data.entry.starts_at, ends_at: joined.data.entry.ends_at });
    assert.equal(again.data.replayed, true);
    assert.equal(again.data.entry.id, joined.data.entry.id);

    const bad = await call(socket, 'join_waitlist', { parking_lot_id: lot, starts_at: at(10), ends_at: at(5) });
    assert.equal(bad.error.code, 'VALIDATION_ERROR');
    const tooLong = await request(s(), 'POST', '/waitlist', { token, body: { parking_lot_id: lot, starts_at: at(5), ends_at: at(60 * 30) } });
    assert.equal(tooLong.body.error.code, 'VALIDATION_ERROR');
    const listed = await request(s(), 'GET', '/waitlist', { token });
    assert.deepEqual(listed.body.data.entries.map((e: any) => e.id), [joined.data.entry.id]);
    // Another user's list does not show it.
    const other = await request(s(), 'GET', '/waitlist', { token: s().token(newUserId()) });
    assert.deepEqual(other.body.data.entries, []);
  });

  it('a cancellation offers the space to the first waiter (a hold, a notification, waitlist_updated); the others move up live', async () => {
    const { lot, bookings } = await fullLot(2);
    const first = await join(lot);
    const second = await join(lot);
    const third = await join(lot);
    assert.deepEqual([first, second, third].map((w) => w.entry.position), [1, 2, 3]);
    const { socket: s1 } = await connect(s().url, first.token);
    const { socket: s3 } = await connect(s().url, third.token);
    const offered = nextEvent(s1, 'booking_updated', (p) => p.action === 'offered');
    const note = nextEvent(s1, 'notification', (p) => p.title === 'A space freed up');
    const entryOffered = nextEvent(s1, 'waitlist_updated', (p) => p.status === 'offered');
    const thirdMoved = nextEvent(s3, 'waitlist_updated', (p) => p.entry_id === third.entry.id);

    const cancel = await request(s(), 'POST', `/bookings/${bookings[0]!.id}/cancel`, { token: bookings[0]!.token, body: {} });
    assert.equal(cancel.status, 200);
    const [o, n, e, moved] = await Promise.all([offered, note, entryOffered, thirdMoved]);
    assert.equal(o.booking.user_id, first.userId);
    assert.equal(o.booking.status, 'pending');
    assert.equal(o.booking.starts_at, first.entry.starts_at);
    assert.equal(o.booking.ends_at, first.entry.ends_at);
    const holdMs = Date.parse(o.booking.hold_expires_at) - Date.parse(o.booking.created_at);
    assert.ok(Math.abs(holdMs - OFFER_SECONDS * 1000) < 50, `hold of ${holdMs} ms`);
    assert.equal(n.data.booking_id, o.booking_id);
    assert.equal(e.entry_id, first.entry.id);
    assert.equal(e.offer_booking_id, o.booking_id);
    assert.equal(e.position, null);
    assert.equal(moved.position, 2);
    assert.equal(moved.status, 'waiting');
    assert.equal((await entryOf(second.entry.id)).position, 1);
    // Its history (013) says why the booking exists: an offer, made by the cancellation's caller.
    const { rows: history } = await s().db.query<{ reason: string; to_status: string; actor_id: string }>(
      'select reason, to_status, actor_id from public.booking_history where booking_id = $1 order by id',
      [o.booking_id],
    );
    assert.deepEqual(history, [{ reason: 'offered', to_status: 'pending', actor_id: bookings[0]!.userId }]);

    // Paid: accepted, and the lot stays exactly full.
    const accepted = nextEvent(s1, 'waitlist_updated', (p) => p.status === 'accepted');
    await payBooking(s(), o.booking);
    assert.equal((await accepted).entry_id, first.entry.id);
    assert.equal(await peak(lot, first.entry), 2);
  });

  it('an offer that expires unpaid lapses and passes to the next waiter', async () => {
    const { lot, bookings } = await fullLot(1);
    const first = await join(lot);
    const second = await join(lot);
    const { socket: s1 } = await connect(s().url, first.token);
    const { socket: s2 } = await connect(s().url, second.token);
    const lapsed = nextEvent(s1, 'waitlist_updated', (p) => p.status === 'lapsed', 15_000);
    const secondOffer = nextEvent(s2, 'booking_updated', (p) => p.action === 'offered', 15_000);
    await request(s(), 'POST', `/bookings/${bookings[0]!.id}/cancel`, { token: bookings[0]!.token, body: {} });
    const [l, o2] = await Promise.all([lapsed, secondOffer]);
    assert.equal(l.entry_id, first.entry.id);
    const firstOffer = (await entryOf(first.entry.id)).offer_booking_id;
    const { rows } = await s().db.asSystem((tx) => tx.query('select status from public.bookings where id = $1', [firstOffer]));
    assert.equal(rows[0].status, 'expired');
    assert.equal(o2.booking.user_id, second.userId);
    assert.equal((await entryOf(second.entry.id)).status, 'offered');
  });

  it('leaving: a waiting entry leaves and those behind move up; leaving with an open offer releases it to the next', async () => {
    const { lot, bookings } = await fullLot(1);
    const a = await join(lot);
    const b = await join(lot);
    const c = await join(lot);
    const { socket: sc } = await connect(s().url, c.token);
    const cMoved = nextEvent(sc, 'waitlist_updated', (p) => p.position === 2);
    // Nobody else may remove it (reported as missing).
    const foreign = await request(s(), 'DELETE', `/waitlist/${b.entry.id}`, { token: a.token });
    assert.equal(foreign.status, 404);
    const left = await request(s(), 'DELETE', `/waitlist/${b.entry.id}`, { token: b.token });
    assert.equal(left.status, 200, JSON.stringify(left.body));
    assert.equal(left.body.data.entry.status, 'left');
    await cMoved;
    const twice = await request(s(), 'DELETE', `/waitlist/${b.entry.id}`, { token: b.token });
    assert.equal(twice.body.error.code, 'INVALID_TRANSITION');

    await request(s(), 'POST', `/bookings/${bookings[0]!.id}/cancel`, { token: bookings[0]!.token, body: {} });
    await waitUntil(async () => (await entryOf(a.entry.id)).status === 'offered', 5000, 'the offer to a');
    const cOffer = nextEvent(sc, 'booking_updated', (p) => p.action === 'offered');
    const { socket: sa } = await connect(s().url, a.token);
    const leave = await call(sa, 'leave_waitlist', { entry_id: a.entry.id });
    assert.equal(leave.ok, true, JSON.stringify(leave));
    assert.equal((await cOffer).booking.user_id, c.userId);
    const offer = (await entryOf(a.entry.id)).offer_booking_id;
    const { rows } = await s().db.asSystem((tx) => tx.query('select status from public.bookings where id = $1', [offer]));
    assert.equal(rows[0].status, 'cancelled');
  });

  it('priorities: only an admin grants one (REST, socket, SQL); the entry moves ahead and everyone affected hears it', async () => {
    const { lot } = await fullLot(1);
    const a = await join(lot);
    const b = await join(lot);
    const { socket: sb } = await connect(s().url, b.token);
    const userTry = await call(sb, 'set_waitlist_priority', { entry_id: b.entry.id, priority: 5 });
    assert.equal(userTry.error.code, 'FORBIDDEN');
    const userRest = await request(s(), 'PUT', `/admin/waitlist/${b.entry.id}/priority`, { token: b.token, body: { priority: 5 } });
    assert.equal(userRest.status, 403);
    await assert.rejects(
      s().db.asUser({ userId: b.userId, role: 'user', orgId: null, claims: { sub: b.userId, role: 'authenticated', app_metadata: { role: 'user' } }, expiresAt: 0, token: '' }, (tx) => tx.query('select public.set_waitlist_priority($1, 5)', [b.entry.id])),
      /Only admins/,
    );
    assert.equal((await entryOf(b.entry.id)).priority, 0);

    const { socket: sa } = await connect(s().url, a.token);
    const aMoved = nextEvent(sa, 'waitlist_updated', (p) => p.position === 2);
    const bMoved = nextEvent(sb, 'waitlist_updated', (p) => p.position === 1 && p.priority === 5);
    const adminToken = s().token(newUserId(), 'admin');
    const { socket: admin } = await connect(s().url, adminToken);
    const adminHears = record(admin, 'waitlist_updated');
    const granted = await call(admin, 'set_waitlist_priority', { entry_id: b.entry.id, priority: 5 });
    assert.equal(granted.ok, true, JSON.stringify(granted));
    assert.equal(granted.data.entry.position, 1);
    await Promise.all([aMoved, bMoved]);
    await waitUntil(() => adminHears.length === 2, 5000, 'the admin to hear both moves');

    const queue = await request(s(), 'GET', `/admin/waitlist?parking_lot_id=${lot}`, { token: adminToken });
    assert.deepEqual(queue.body.data.entries.map((e: any) => [e.id, e.position]), [[b.entry.id, 1], [a.entry.id, 2]]);
    const viaSocket = await call(admin, 'get_admin_waitlist', { parking_lot_id: lot });
    assert.deepEqual(viaSocket.data.entries.map((e: any) => e.id), [b.entry.id, a.entry.id]);
    assert.equal((await request(s(), 'GET', `/admin/waitlist?parking_lot_id=${lot}`, { token: a.token })).status, 403);
    assert.equal((await call(sa, 'get_admin_waitlist', { parking_lot_id: lot })).error.code, 'FORBIDDEN');
  });

  it('a booking cancelled outside spotcast (SQL, the dashboard) offers its space too, delivered by the relay', async () => {
    const { lot, bookings } = await fullLot(1);
    const waiter = await join(lot);
    const { socket } = await connect(s().url, waiter.token);
    const offered = nextEvent(socket, 'booking_updated', (p) => p.action === 'offered', 10_000);
    const moved = nextEvent(socket, 'waitlist_updated', (p) => p.status === 'offered', 10_000);
    await s().db.asSystem((tx) => tx.query("update public.bookings set status = 'cancelled' where id = $1", [bookings[0]!.id]));
    const [o, m] = await Promise.all([offered, moved]);
    assert.equal(o.booking.user_id, waiter.userId);
    assert.equal(m.offer_booking_id, o.booking_id);
    // Announced once: the offer's insert is not also reported as a direct edit.
    const { rows } = await s().db.asSystem((tx) =>
      tx.query("select payload->>'action' as action from public.event_log where stream = $1 and event = 'booking_updated' order by seq", [`user:${waiter.userId}`]),
    );
    assert.deepEqual(rows.map((r) => r.action), ['offered']);
    assert.equal(await peak(lot, waiter.entry), 1);
  });

  it('@spotcast/client keeps the user\'s entries live in client.waitlist: joined, moved up, offered', async () => {
    const { lot, bookings } = await fullLot(1);
    const ahead = await join(lot);
    const userId = newUserId();
    const client = newClient(s().url, () => s().token(userId));
    try {
      client.connect();
      await waitUntil(() => client.state.get().status === 'connected', 10_000, 'the client to connect');
      const joined = await client.request('join_waitlist', { parking_lot_id: lot, ...window() });
      assert.equal(joined.ok, true, JSON.stringify(joined));
      const id = joined.ok ? joined.data.entry.id : '';
      const mine = () => client.waitlist.get().get(id);
      await waitUntil(() => mine()?.position === 2, 5000, 'position 2 in client.waitlist');
      await request(s(), 'DELETE', `/waitlist/${ahead.entry.id}`, { token: ahead.token });
      await waitUntil(() => mine()?.position === 1, 5000, 'position 1 after the one ahead left');
      await request(s(), 'POST', `/bookings/${bookings[0]!.id}/cancel`, { token: bookings[0]!.token, body: {} });
      await waitUntil(() => mine()?.status === 'offered', 5000, 'the offer in client.waitlist');
      const offer = mine()!.offer_booking_id!;
      await waitUntil(() => client.bookings.get().get(offer)?.status === 'pending', 5000, 'the offered hold among the client\'s bookings');
      assert.deepEqual([...client.waitlist.get().keys()], [id], 'only the user\'s own entries');
    } finally {
      closeClients();
    }
  });

  it('an admin ending an outage (fewer spaces out of service) offers the spaces it frees, in queue order', async () => {
    const lot = await createLot(s().db, { total: 3 });
    const adminToken = s().token(newUserId(), 'admin');
    const put = await request(s(), 'PUT', `/realtime/parking-lots/${lot}/availability`, { token: adminToken, body: { out_of_service: 3 } });
    assert.equal(put.status, 200, JSON.stringify(put.body));
    const waiters = [await join(lot), await join(lot), await join(lot)];
    const back = await request(s(), 'PUT', `/realtime/parking-lots/${lot}/availability`, { token: adminToken, body: { out_of_service: 1 } });
    assert.equal(back.status, 200, JSON.stringify(back.body));
    assert.equal(await peak(lot, waiters[0]!.entry), 2, 'the two spaces went to offers in the same transaction');
    const statuses = await Promise.all(waiters.map(async (w) => (await entryOf(w.entry.id)).status));
    assert.deepEqual(statuses, ['offered', 'offered', 'waiting']);
    assert.equal((await entryOf(waiters[2]!.entry.id)).position, 1);
  });
});

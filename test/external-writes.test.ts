/**
 * Writes made outside spotcast (issue 11 §4), on one node: supabase-js calling create_booking,
 * and rows edited directly (the dashboard, SQL). Postgres notifies the node at commit and it
 * announces them. The node's sweeper waits ten minutes here, so every event below that arrives
 * was announced by the relay, not by the safety net.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { call, closeAll, connect, newUserId, nextEvent } from './helpers/clients.js';
import { adminClaims, bookDirectly, direct, streamEvents } from './helpers/direct.js';
import { createLot } from './helpers/fixtures.js';
import { useTestServer, type TestServer } from './helpers/server.js';
import { waitUntil } from './helpers/measure.js';

/** pg's error for a refusal raised by spotcast's SQL: its stable code rides in the hint. */
const refusedWith = (code: string) => (err: unknown) => {
  assert.equal((err as { hint?: string }).hint, code, String(err));
  return true;
};

describe('writes made outside spotcast, one node', function () {
  this.timeout(60_000);
  const server = useTestServer({
      OUTBOX_SWEEP_GRACE_MS: '600000',
      OUTBOX_SWEEP_INTERVAL_MS: '60000',
      // Only the timers a booking's planned transitions arm can expire a hold here.
      JOBS_SWEEP_INTERVAL_MS: '3600000',
      BOOKING_HOLD_SECONDS: '2',
    });

  async function watch(lotId: string, userId = newUserId()) {
    const { socket } = await connect(server().url, server().token(userId));
    const ack = await call(socket, 'subscribe', { room: `parking_lot:${lotId}`, type: 'parking' });
    assert.equal(ack.ok, true, JSON.stringify(ack));
    return socket;
  }

  it('a booking made by calling create_booking directly (as supabase-js does) reaches the lot and the user at once', async () => {
    const lot = await createLot(server().db, { total: 3 });
    const userId = newUserId();
    const watcher = await watch(lot);
    const { socket: mine } = await connect(server().url, server().token(userId));
    const lotEvent = nextEvent(watcher, 'parking_updated', (p) => p.parking_lot_id === lot);
    const bookingEvent = nextEvent(mine, 'booking_updated');
    const { booking } = await bookDirectly(userId, lot);

    const [parking, updated] = await Promise.all([lotEvent, bookingEvent]);
    assert.deepEqual([parking.action, parking.available_spaces, parking.actor_role], ['booking_created', 2, 'user']);
    assert.equal('actor_id' in parking, false, 'a lot stream never names who booked');
    assert.deepEqual([updated.booking_id, updated.action, updated.actor_id, updated.actor_role], [booking.id, 'created', userId, 'user']);
    // Announced once: by the relay (the log had no origin for it), never by the triggers as well.
    const events = await streamEvents(`user:${userId}`);
    assert.deepEqual(events.map((e) => [e.event, e.action ?? null, e.origin]), [['booking_updated', 'created', null], ['notification', null, null]]);
    await waitUntil(async () => (await streamEvents(`user:${userId}`)).every((e) => e.dispatched), 5000, 'the relay to mark them dispatched');
  });

  it('a hold made directly expires on time: its transitions are planned like those of one made through spotcast', async () => {
    const lot = await createLot(server().db, { total: 3 });
    const userId = newUserId();
    const { socket } = await connect(server().url, server().token(userId));
    const expired = nextEvent(socket, 'booking_updated', (p) => p.action === 'expired', 15_000);
    const { booking } = await bookDirectly(userId, lot);
    const p = await expired;
    assert.deepEqual([p.booking_id, p.status, p.actor_role, p.actor_id], [booking.id, 'expired', 'system', null]);
  });

  it('a lot\'s spaces edited directly are announced as updated_directly, with the availability after the edit', async () => {
    const lot = await createLot(server().db, { total: 10 });
    const watcher = await watch(lot);
    const next = nextEvent(watcher, 'parking_updated', (p) => p.parking_lot_id === lot);
    await direct(null, (c) => c.query('update public.parking_lots set out_of_service = 4 where id = $1', [lot]));
    const p = await next;
    assert.deepEqual([p.action, p.out_of_service, p.available_spaces, p.actor_role], ['updated_directly', 4, 6, 'system']);
    // Columns no one watches (the rate) change nothing in the stream.
    await direct(null, (c) => c.query('update public.parking_lots set hourly_rate_cents = 999 where id = $1', [lot]));
    assert.deepEqual((await streamEvents(`parking_lot:${lot}`)).map((e) => e.action), ['updated_directly']);
  });

  it('a booking\'s status changed directly reaches its owner and frees the space for the lot', async () => {
    const lot = await createLot(server().db, { total: 2 });
    const userId = newUserId();
    const watcher = await watch(lot);
    const { socket: mine } = await connect(server().url, server().token(userId));
    const created = nextEvent(watcher, 'parking_updated', (p) => p.action === 'booking_created');
    const { booking } = await bookDirectly(userId, lot);
    assert.equal((await created).available_spaces, 1);

    const changed = nextEvent(mine, 'booking_updated', (p) => p.action === 'changed_directly');
    const freed = nextEvent(watcher, 'parking_updated', (p) => p.action === 'booking_changed_directly');
    await direct(null, (c) => c.query(`update public.bookings set status = 'cancelled' where id = $1`, [booking.id]));
    const [b, l] = await Promise.all([changed, freed]);
    assert.deepEqual([b.booking_id, b.status, b.booking.hold_expires_at, b.actor_id, b.actor_role], [booking.id, 'cancelled', null, null, 'system']);
    assert.equal(l.available_spaces, 2);
    // In one transaction, in order: the booking's event, then the lot's.
    const seqs = await Promise.all([streamEvents(`user:${userId}`), streamEvents(`parking_lot:${lot}`)]);
    assert.deepEqual(seqs[0].map((e) => e.action ?? e.event), ['created', 'notification', 'changed_directly']);
    assert.deepEqual(seqs[1].map((e) => e.action), ['booking_created', 'booking_changed_directly']);
  });

  it('a direct insert or status change that would overbook is refused (LOT_FULL), and nothing is written or announced', async () => {
    const lot = await createLot(server().db, { total: 1 });
    const userId = newUserId();
    await bookDirectly(userId, lot);
    const insert = (c: import('pg').Client) =>
      c.query(
        `insert into public.bookings (user_id, parking_lot_id, starts_at, ends_at, status, amount_cents)
         values ($1, $2, now(), now() + interval '1 hour', 'confirmed', 0)`,
        [newUserId(), lot],
      );
    await assert.rejects(direct(null, insert), refusedWith('LOT_FULL'));
    const { rows } = await direct(null, (c) => c.query('select count(*)::int as n from public.bookings where parking_lot_id = $1', [lot]));
    assert.equal(rows[0].n, 1);
    assert.deepEqual((await streamEvents(`parking_lot:${lot}`)).map((e) => e.action), ['booking_created']);
  });

  it('a direct edit that leaves fewer bookable spaces than bookings hold is refused (SPACES_HELD)', async () => {
    const lot = await createLot(server().db, { total: 2 });
    await bookDirectly(newUserId(), lot);
    await bookDirectly(newUserId(), lot);
    await assert.rejects(direct(null, (c) => c.query('update public.parking_lots set total_spaces = 1 where id = $1', [lot])), refusedWith('SPACES_HELD'));
    // Closing it takes no space away from anyone: allowed, and announced.
    await direct(null, (c) => c.query('update public.parking_lots set is_open = false where id = $1', [lot]));
    const actions = (await streamEvents(`parking_lot:${lot}`)).map((e) => e.action);
    assert.deepEqual(actions, ['booking_created', 'booking_created', 'updated_directly']);
  });

  it('a notification an admin inserts through the Data API is delivered live, saying which admin', async () => {
    const admin = randomUUID();
    const userId = newUserId();
    const { socket } = await connect(server().url, server().token(userId));
    const next = nextEvent(socket, 'notification');
    await direct(adminClaims(admin), (c) => c.query(`insert into public.notifications (user_id, title, message) values ($1, 'Gate closed', 'Use the north gate')`, [userId]));
    const n = await next;
    assert.deepEqual([n.title, n.message, n.room, n.actor_id, n.actor_role], ['Gate closed', 'Use the north gate', `user:${userId}`, admin, 'admin']);
  });

  it('an event written while the listening session was gone is found when it is back (catch-up), not at the sweep', async () => {
    const lot = await createLot(server().db, { total: 10 });
    const watcher = await watch(lot);
    const listeners = () =>
      direct(null, async (c) => (await c.query(`select pid from pg_stat_activity where application_name = 'spotcast listener' and datname = current_database()`)).rows.map((r) => r.pid as number));
    const [before] = await listeners();
    assert.ok(before, 'the node listens on a session of its own');
    const next = nextEvent(watcher, 'parking_updated', (p) => p.parking_lot_id === lot, 15_000);
    // The session goes (a failover, an idle-session kill); the edit commits before it is back.
    await direct(null, async (c) => {
      await c.query('select pg_terminate_backend($1, 5000)', [before]);
      await c.query('update public.parking_lots set occupied_unbooked = 3 where id = $1', [lot]);
    });
    assert.deepEqual([(await next).action, (await next).available_spaces], ['updated_directly', 7]);
    const after = await listeners();
    assert.equal(after.length, 1);
    assert.notEqual(after[0], before);
  });

  it('an event logged through PostgREST with the x-spotcast-node header is left to that node (no second emit)', async () => {
    const lot = await createLot(server().db, { total: 3 });
    const userId = newUserId();
    await direct({ sub: userId, role: 'authenticated' }, (c) => c.query('select public.create_booking($1, null, null, 60)', [lot]), {
      headers: { 'x-spotcast-node': 'node-elsewhere', authorization: 'Bearer …' },
    });
    const events = await streamEvents(`parking_lot:${lot}`);
    assert.deepEqual(events.map((e) => [e.action, e.origin, e.dispatched]), [['booking_created', 'node-elsewhere', false]]);
    // No notification for it, and a relay pass leaves it alone: it is node-elsewhere's to emit
    // (or, if that node is gone, the sweeper's).
    server().app.relay.wake();
    await server().app.relay.idle();
    assert.equal((await streamEvents(`parking_lot:${lot}`))[0]!.dispatched, false);
  });
});

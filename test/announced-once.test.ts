/**
 * spotcast's own commands announce each change exactly once, with who caused it: the triggers for
 * direct table edits (migrations/011_direct_changes.sql) leave the commands' changes alone. A
 * booking's whole life — made, paid, cancelled (refund due), another made and expired — and an
 * admin's availability edit, compared event by event with what the log holds and what the owner
 * and a lot watcher received.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { signPayload, SIGNATURE_HEADER } from '../server/features/payments/signature.js';
import { call, closeAll, connect, newUserId, record } from './helpers/clients.js';
import { direct, streamEvents, userClaims } from './helpers/direct.js';
import { createLot } from './helpers/fixtures.js';
import { useTestServer, TEST_WEBHOOK_SECRET, type TestServer } from './helpers/server.js';
import { waitUntil } from './helpers/measure.js';
import { request } from './helpers/http.js';

describe('commands are announced once, saying who caused them', function () {
  this.timeout(60_000);
  const server = useTestServer({ BOOKING_HOLD_SECONDS: '1' });

  async function pay(bookingId: string): Promise<void> {
    const body = JSON.stringify({ id: `evt_${randomUUID()}`, type: 'payment.succeeded', data: { booking_id: bookingId, payment_id: `pay_${randomUUID()}`, amount_cents: 0 } });
    const res = await request(server(), 'POST', '/payments/webhook', { rawBody: body, headers: { [SIGNATURE_HEADER]: signPayload(TEST_WEBHOOK_SECRET, body) } });
    assert.equal(res.status, 200, JSON.stringify(res.body));
  }

  it('a booking\'s life and an availability edit: each event once, in order, with its actor', async () => {
    const lot = await createLot(server().db, { total: 5 });
    const userId = newUserId();
    const adminId = newUserId();
    const { socket: mine } = await connect(server().url, server().token(userId));
    const { socket: watcher } = await connect(server().url, server().token(newUserId()));
    const { socket: admin } = await connect(server().url, server().token(adminId, 'admin'));
    assert.equal((await call(watcher, 'subscribe', { room: `parking_lot:${lot}` })).ok, true);
    const got = { booking: record(mine, 'booking_updated'), notification: record(mine, 'notification'), payment: record(mine, 'payment_updated'), lot: record(watcher, 'parking_updated') };

    // Starts in an hour: paid, it is confirmed and can still be cancelled (it does not count as held now).
    const first = await call(mine, 'create_booking', { parking_lot_id: lot, starts_at: new Date(Date.now() + 3_600_000).toISOString(), duration_minutes: 60 });
    assert.equal(first.ok, true, JSON.stringify(first));
    const b1 = first.data.booking.id;
    await pay(b1);
    const cancel = await call(mine, 'cancel_booking', { booking_id: b1 });
    assert.equal(cancel.ok, true, JSON.stringify(cancel));
    const second = await request(server(), 'POST', '/bookings', { token: server().token(userId), body: { parking_lot_id: lot, duration_minutes: 30 } });
    assert.equal(second.status, 201);
    const b2 = second.body.data.booking.id;
    await waitUntil(() => got.booking.some((p) => p.booking_id === b2 && p.status === 'expired'), 10_000, 'the second hold to expire');
    const edit = await call(admin, 'set_parking_availability', { parking_lot_id: lot, available_spaces: 2 });
    assert.equal(edit.ok, true, JSON.stringify(edit));

    const expectedUser = [
      ['booking_updated', 'created', b1, 'user'],
      ['notification', null, b1, 'user'],
      ['payment_updated', 'succeeded', b1, 'system'],
      ['booking_updated', 'confirmed', b1, 'system'],
      ['notification', null, b1, 'system'],
      ['booking_updated', 'cancelled', b1, 'user'],
      ['notification', null, b1, 'user'],
      ['payment_updated', 'refund_due', b1, 'user'],
      ['booking_updated', 'created', b2, 'user'],
      ['notification', null, b2, 'user'],
      ['booking_updated', 'expired', b2, 'system'],
      ['notification', null, b2, 'system'],
    ];
    const bookingOf = (p: any) => p.booking_id ?? p.data?.booking_id;
    const logged = await streamEvents(`user:${userId}`);
    assert.deepEqual(logged.map((e) => [e.event, e.action, bookingOf(e.payload), e.payload.actor_role]), expectedUser);
    assert.deepEqual(logged.map((e) => e.seq), expectedUser.map((_, i) => i + 1));
    // The owner's stream names the actor: the owner, or none for the system.
    assert.deepEqual(logged.map((e) => e.payload.actor_id), expectedUser.map((x) => (x[3] === 'user' ? userId : null)));

    const expectedLot = [
      ['booking_created', 'user', 5],
      ['booking_cancelled', 'user', 5],
      ['booking_created', 'user', 4],
      ['booking_expired', 'system', 5],
      ['availability_updated', 'admin', 2],
    ];
    const lotLog = await streamEvents(`parking_lot:${lot}`);
    assert.deepEqual(lotLog.map((e) => [e.action, e.payload.actor_role, e.payload.available_spaces]), expectedLot);
    assert.ok(lotLog.every((e) => !('actor_id' in e.payload)), 'a lot stream never names the actor');

    // What the clients received: every logged event, each once (the same ids and seqs).
    await waitUntil(() => got.lot.length >= expectedLot.length && got.booking.length + got.notification.length + got.payment.length >= expectedUser.length, 5000, 'every event to arrive');
    const received = [...got.booking, ...got.notification, ...got.payment].map((p) => p.seq).sort((a, b) => a - b);
    assert.deepEqual(received, expectedUser.map((_, i) => i + 1));
    assert.deepEqual(got.lot.map((p) => [p.action, p.actor_role, p.available_spaces]), expectedLot);
    assert.deepEqual(got.booking.map((p) => p.actor_id), got.booking.map((p) => (p.actor_role === 'user' ? userId : null)));
  });

  it('booking_activity (the admin console) names the actor of each transition; a user sees only their own', async () => {
    const lot = await createLot(server().db, { total: 5 });
    const userId = newUserId();
    const adminId = newUserId();
    const made = await request(server(), 'POST', '/bookings', { token: server().token(userId), body: { parking_lot_id: lot, duration_minutes: 60 } });
    const bookingId = made.body.data.booking.id;
    const cancelled = await request(server(), 'POST', `/bookings/${bookingId}/cancel`, { token: server().token(adminId, 'admin'), body: { reason: 'test' } });
    assert.equal(cancelled.status, 200, JSON.stringify(cancelled.body));
    const activity = await request(server(), 'GET', '/realtime/booking-activity?limit=1000', { token: server().token(newUserId(), 'admin') });
    const mineOnly = activity.body.data.activity.filter((r: any) => r.booking_id === bookingId).map((r: any) => [r.action, r.actor_id, r.actor_role]);
    assert.deepEqual(mineOnly, [
      ['cancelled', adminId, 'admin'],
      ['created', userId, 'user'],
    ]);
    // The same function over supabase-js rpc: a user gets their own stream, nobody else's.
    const asUser = async (sub: string) =>
      direct(userClaims(sub), async (c) => (await c.query('select public.booking_activity(1000) as r')).rows[0].r as any[]);
    assert.deepEqual((await asUser(userId)).map((r) => [r.booking_id, r.action, r.actor_id]), [
      [bookingId, 'cancelled', adminId],
      [bookingId, 'created', userId],
    ]);
    assert.deepEqual(await asUser(newUserId()), []);
  });
});

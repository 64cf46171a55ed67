/**
 * "Pay (test)" (POST /demo/pay): in the development default only, a pending booking of the
 * caller is paid through the real signed webhook, and the lifecycle that follows reaches the
 * owner's socket live: payment_updated, the confirmation, the activation. Elsewhere the route
 * does not exist.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mintToken } from '../server/platform/auth/tokens.js';
import { call, closeAll, connect, nextEvent } from './helpers/clients.js';
import { createLot } from './helpers/fixtures.js';
import { startTestServer, TEST_SECRET, type TestServer } from './helpers/server.js';
import { request } from './helpers/http.js';

describe('demo: Pay (test), the signed webhook from the demo page', function () {
  this.timeout(30_000);
  let demo: TestServer;
  let lotId: string;

  before(async () => {
    const demoTokens = { user: mintToken({ secret: TEST_SECRET, userId: randomUUID() }), admin: mintToken({ secret: TEST_SECRET, userId: randomUUID(), appRole: 'admin' }) };
    demo = await startTestServer({}, { demoTokens });
    lotId = await createLot(demo.db, { total: 10 });
  });
  afterEach(closeAll);
  after(() => demo?.stop());

  /** A user's socket and a pending booking of theirs starting now. */
  async function pendingBooking() {
    const userId = randomUUID();
    const token = demo.token(userId);
    const { socket } = await connect(demo.url, token);
    const created = await call(socket, 'create_booking', { parking_lot_id: lotId, duration_minutes: 60 });
    assert.equal(created.ok, true, JSON.stringify(created));
    assert.equal(created.data.booking.status, 'pending');
    return { userId, token, socket, booking: created.data.booking };
  }

  it('pays a pending booking: payment_updated, booking confirmed, then active, live on the owner\'s socket', async () => {
    const { token, socket, booking } = await pendingBooking();
    const payment = nextEvent(socket, 'payment_updated', (p) => p.booking_id === booking.id);
    const confirmed = nextEvent(socket, 'booking_updated', (p) => p.booking_id === booking.id && p.status === 'confirmed');
    const active = nextEvent(socket, 'booking_updated', (p) => p.booking_id === booking.id && p.status === 'active', 10_000);
    const offered = await request(demo, 'GET', '/demo/pay', { token });
    assert.deepEqual(offered.body, { ok: true, data: { outcomes: ['succeeded', 'failed'] } });

    const res = await request(demo, 'POST', '/demo/pay', { token, body: { booking_id: booking.id } });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal(res.body.data.payment_status, 'succeeded');
    assert.equal(res.body.data.booking_status, 'confirmed');
    const p = await payment;
    assert.equal(p.status, 'succeeded');
    assert.equal(p.payment.amount_cents, booking.amount_cents);
    await confirmed;
    await active;
    const again = await request(demo, 'POST', '/demo/pay', { token, body: { booking_id: booking.id } });
    assert.equal(again.status, 409);
    assert.equal(again.body.error.code, 'INVALID_TRANSITION');
  });

  it('outcome failed: the payment fails, the booking stays pending, the owner is told', async () => {
    const { token, socket, booking } = await pendingBooking();
    const payment = nextEvent(socket, 'payment_updated', (p) => p.booking_id === booking.id);
    const notice = nextEvent(socket, 'notification', (n) => n.title === 'Payment failed');
    const res = await request(demo, 'POST', '/demo/pay', { token, body: { booking_id: booking.id, outcome: 'failed' } });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal((await payment).status, 'failed');
    await notice;
    const status = await call(socket, 'get_booking_status', { booking_id: booking.id });
    assert.equal(status.data.booking.status, 'pending');
  });

  it("refuses another user's booking (404), no token (401) and a bad body (400), changing nothing", async () => {
    const { booking, token } = await pendingBooking();
    const other = await request(demo, 'POST', '/demo/pay', { token: demo.token(randomUUID()), body: { booking_id: booking.id } });
    assert.equal(other.status, 404);
    assert.equal(other.body.error.code, 'NOT_FOUND');
    const anonymous = await request(demo, 'POST', '/demo/pay', { body: { booking_id: booking.id } });
    assert.equal(anonymous.status, 401);
    for (const body of [{}, { booking_id: 'x' }, { booking_id: booking.id, outcome: 'refunded' }]) {
      const bad = await request(demo, 'POST', '/demo/pay', { token, body });
      assert.equal(bad.status, 400, JSON.stringify(body));
      assert.equal(bad.body.error.code, 'VALIDATION_ERROR');
    }
    const still = await request(demo, 'GET', `/bookings/${booking.id}`, { token });
    assert.equal(still.body.data.booking.status, 'pending');
  });

  it('does not exist without the demo tokens (production, or any non-demo setup): 404', async () => {
    const plain = await startTestServer();
    try {
      const token = plain.token(randomUUID());
      for (const method of ['GET', 'POST']) {
        const res = await request(plain, method, '/demo/pay', { token, ...(method === 'POST' ? { body: { booking_id: randomUUID() } } : {}) });
        assert.equal(res.status, 404, `${method} /demo/pay`);
      }
    } finally {
      await plain.stop();
    }
  });
});

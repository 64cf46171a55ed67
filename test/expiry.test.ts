import assert from 'node:assert/strict';
import { signPayload } from '../server/features/payments/signature.js';
import { call, closeAll, connect, newUserId, nextEvent, record } from './helpers/clients.js';
import { createLot } from './helpers/fixtures.js';
import { requireRedis } from './helpers/global-setup.js';
import { testQueue, type TestQueue } from './helpers/jobs.js';
import { startTestServer, TEST_WEBHOOK_SECRET, type TestServer } from './helpers/server.js';
import { sleep, waitUntil } from './helpers/measure.js';
import { request } from './helpers/http.js';

/** Books a space with a 1 s hold (the servers here run BOOKING_HOLD_SECONDS=1). */
async function holdOne(server: TestServer, lot: string, userId = newUserId()) {
  const res = await request(server, 'POST', '/bookings', { token: server.token(userId), body: { parking_lot_id: lot, duration_minutes: 60 } });
  assert.equal(res.status, 201, JSON.stringify(res.body));
  return { booking: res.body.data.booking as { id: string; hold_expires_at: string; amount_cents: number }, userId };
}

async function pay(server: TestServer, bookingId: string, amount: number) {
  const body = JSON.stringify({ id: `evt_${bookingId}`, type: 'payment.succeeded', data: { booking_id: bookingId, payment_id: `pay_${bookingId}`, amount_cents: amount } });
  const res = await fetch(`${server.url}/payments/webhook`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-spotcast-signature': signPayload(TEST_WEBHOOK_SECRET, body) },
    body,
  });
  assert.equal(res.status, 200, await res.text());
}

async function status(server: TestServer, bookingId: string): Promise<string> {
  const { rows } = await server.db.asSystem((tx) => tx.query('select status from public.bookings where id = $1', [bookingId]));
  return rows[0].status;
}

async function expiredEvents(server: TestServer, bookingId: string): Promise<number> {
  const { rows } = await server.db.asSystem((tx) =>
    tx.query(`select count(*)::int as n from public.event_log where payload->>'booking_id' = $1 and payload->>'action' = 'expired'`, [bookingId]),
  );
  return rows[0].n;
}

/** The lot watcher sees the space come back: parking_updated with action booking_expired. */
function expiryAnnounced(socket: Parameters<typeof nextEvent>[0], lot: string) {
  return nextEvent(socket, 'parking_updated', (p) => p.parking_lot_id === lot && p.action === 'booking_expired', 6000);
}

describe('hold expiry on BullMQ (real Redis)', function () {
  this.timeout(30_000);
  let q: TestQueue;
  let server: TestServer;

  before(async function () {
    const redisUrl = requireRedis(this);
    q = testQueue(redisUrl);
    // The sweep runs hourly here, so what expires a hold in these tests is its delayed job.
    server = await startTestServer({ BOOKING_HOLD_SECONDS: '1', JOBS_SWEEP_INTERVAL_MS: '3600000' }, { scheduler: q.scheduler() });
  });
  after(async () => {
    await server?.stop();
    await q?.close();
  });
  afterEach(closeAll);

  it('releases an unpaid hold when it runs out and announces the freed space', async () => {
    const lot = await createLot(server.db, { total: 1 });
    const { socket } = await connect(server.url, server.token(newUserId()));
    await call(socket, 'subscribe', { room: `parking_lot:${lot}` });
    const { booking } = await holdOne(server, lot);
    const deadline = Date.parse(booking.hold_expires_at);

    const event = await expiryAnnounced(socket, lot);
    const arrivedAt = Date.now();
    assert.equal(event.available_spaces, 1);
    assert.ok(arrivedAt >= deadline, 'not released before its deadline');
    assert.equal(await status(server, booking.id), 'expired');
    // The waiting limit above is the "about a second": a generous bound, not a benchmark.
    console.log(`      (expiry announced ${arrivedAt - deadline} ms after the deadline)`);
  });

  it('does not expire a hold that was paid before its deadline', async () => {
    const lot = await createLot(server.db, { total: 1 });
    const { socket } = await connect(server.url, server.token(newUserId()));
    await call(socket, 'subscribe', { room: `parking_lot:${lot}` });
    const seen = record(socket, 'parking_updated');
    const { booking } = await holdOne(server, lot);
    await pay(server, booking.id, booking.amount_cents);

    // Wait until the expire job has run (it is gone from the queue), then a little more.
    await waitUntil(async () => (await q.queue.getJob(`expire-${booking.id}`)) === undefined, 6000, 'the expire job to run');
    await sleep(200);
    // Paid, and its window started: the activation job made it active.
    assert.equal(await status(server, booking.id), 'active');
    assert.equal(await expiredEvents(server, booking.id), 0);
    assert.ok(!seen.some((p) => p.action === 'booking_expired'));
  });

  it('keeps one job per booking and transition, and a doubled or late job changes nothing', async () => {
    const lot = await createLot(server.db, { total: 2 });
    const { booking } = await holdOne(server, lot);
    const work = { transition: 'expire' as const, bookingId: booking.id, at: new Date(Date.now() + 60_000) };
    await server.app.scheduler.schedule([work, work]);
    const jobs = (await q.queue.getJobs(['delayed', 'waiting', 'active', 'completed'])).filter((j) => j.data.bookingId === booking.id);
    assert.equal(jobs.length, 1, 'scheduling the same work again keeps one job');

    await waitUntil(async () => (await status(server, booking.id)) === 'expired', 6000, 'the hold to expire');
    // The same transition again, twice at once, as a late retry and a sweep would run it.
    const again = await Promise.all([server.app.bookingJobs.advance(booking.id, 'expire'), server.app.bookingJobs.advance(booking.id, 'expire')]);
    assert.deepEqual(again, [false, false]);
    assert.equal(await expiredEvents(server, booking.id), 1);
  });

  it('still expires the hold when the node that created it is gone', async () => {
    const lot = await createLot(server.db, { total: 1 });
    const creator = await startTestServer({ BOOKING_HOLD_SECONDS: '1', JOBS_SWEEP_INTERVAL_MS: '3600000' }, { scheduler: q.scheduler() });
    const { booking } = await holdOne(creator, lot);
    await creator.stop();

    const { socket } = await connect(server.url, server.token(newUserId()));
    await call(socket, 'subscribe', { room: `parking_lot:${lot}` });
    const event = await expiryAnnounced(socket, lot);
    assert.equal(event.available_spaces, 1);
    assert.equal(await status(server, booking.id), 'expired');
  });

  it("expires the hold on time on its node's own timer when its BullMQ job is lost", async () => {
    const lot = await createLot(server.db, { total: 1 });
    const { socket } = await connect(server.url, server.token(newUserId()));
    await call(socket, 'subscribe', { room: `parking_lot:${lot}` });
    const { booking } = await holdOne(server, lot);
    const job = await q.queue.getJob(`expire-${booking.id}`);
    assert.ok(job, 'the expire job was scheduled in Redis too');
    await job.remove();

    // The sweep is hourly here: only the timer of the node that made the hold can release it.
    const event = await expiryAnnounced(socket, lot);
    assert.equal(event.available_spaces, 1);
    assert.ok(Date.now() >= Date.parse(booking.hold_expires_at), 'not released before its deadline');
    assert.equal(await status(server, booking.id), 'expired');
    assert.equal(await expiredEvents(server, booking.id), 1);
  });

  it('catches a hold whose job was lost (Redis flushed) and whose node is gone with the periodic sweep', async () => {
    const lot = await createLot(server.db, { total: 1 });
    const creator = await startTestServer({ BOOKING_HOLD_SECONDS: '1', JOBS_SWEEP_INTERVAL_MS: '3600000' }, { scheduler: q.scheduler() });
    const sweeping = await startTestServer({ BOOKING_HOLD_SECONDS: '1', JOBS_SWEEP_INTERVAL_MS: '500' }, { scheduler: q.scheduler() });
    try {
      const { booking } = await holdOne(creator, lot);
      const job = await q.queue.getJob(`expire-${booking.id}`);
      assert.ok(job, 'the expire job was scheduled');
      await job.remove();
      // With the job gone from Redis and the creator's timer gone with it, only a sweep is left.
      await creator.stop();
      await waitUntil(async () => (await status(sweeping, booking.id)) === 'expired', 8000, 'the sweep to expire the hold');
      assert.equal(await expiredEvents(sweeping, booking.id), 1);
    } finally {
      await creator.stop();
      await sweeping.stop();
    }
  });
});

describe('hold expiry without Redis (in-process jobs)', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer({ BOOKING_HOLD_SECONDS: '1', JOBS_SWEEP_INTERVAL_MS: '3600000' });
  });
  after(() => server.stop());
  afterEach(closeAll);

  it('releases the hold and announces it', async () => {
    assert.equal(server.app.scheduler.kind, 'in-process');
    const lot = await createLot(server.db, { total: 1 });
    const { socket } = await connect(server.url, server.token(newUserId()));
    await call(socket, 'subscribe', { room: `parking_lot:${lot}` });
    const { booking } = await holdOne(server, lot);
    const event = await expiryAnnounced(socket, lot);
    assert.equal(event.available_spaces, 1);
    assert.equal(await status(server, booking.id), 'expired');
  });

  it("announces the space taken when a paid booking's window starts (activation)", async () => {
    const lot = await createLot(server.db, { total: 2 });
    const userId = newUserId();
    const starts_at = new Date(Date.now() + 1500).toISOString();
    const res = await request(server, 'POST', '/bookings', { token: server.token(userId), body: { parking_lot_id: lot, starts_at, duration_minutes: 30 } });
    assert.equal(res.status, 201);
    await pay(server, res.body.data.booking.id, res.body.data.booking.amount_cents);
    const { socket } = await connect(server.url, server.token(newUserId()));
    await call(socket, 'subscribe', { room: `parking_lot:${lot}` });
    const activated = await nextEvent(socket, 'parking_updated', (p) => p.action === 'booking_activated', 6000);
    assert.equal(activated.available_spaces, 1, 'the space is held from its start');
    assert.equal(await status(server, res.body.data.booking.id), 'active');
  });

  it('finds due bookings after a restart (the sweep on start)', async () => {
    const lot = await createLot(server.db, { total: 1 });
    const { booking } = await holdOne(server, lot);
    await server.stop();
    await sleep(1100);
    server = await startTestServer({ BOOKING_HOLD_SECONDS: '1', JOBS_SWEEP_INTERVAL_MS: '3600000' });
    await waitUntil(async () => (await status(server, booking.id)) === 'expired', 5000, 'the start-up sweep to expire the hold');
  });
});

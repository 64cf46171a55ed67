/**
 * An unpaid hold's window starting or ending changes what a lot holds now without any status
 * change: the lot's watchers hear it (parking_updated, action hold_started / hold_ended) at that
 * instant, on this node's timer, on BullMQ from another node, or from the periodic sweep; a late or
 * doubled job changes nothing, and a hold paid in between is announced by its activation instead.
 */
import assert from 'node:assert/strict';
import { BOOKING_TRANSITIONS } from '../server/contract/index.js';
import { followUps } from '../server/features/bookings/follow-ups.js';
import type { Booking } from '../server/features/bookings/types.js';
import { call, closeAll, connect, newUserId, nextEvent, record } from './helpers/clients.js';
import { createLot, payBooking } from './helpers/fixtures.js';
import { requireRedis } from './helpers/global-setup.js';
import { testQueue, type TestQueue } from './helpers/jobs.js';
import { startTestServer, type TestServer } from './helpers/server.js';
import { sleep } from './helpers/measure.js';
import { request } from './helpers/http.js';

/** Holds last 10 s here: long enough for a window to start or end inside one. No background sweep unless asked. */
const HOLD = { BOOKING_HOLD_SECONDS: '10', JOBS_SWEEP_INTERVAL_MS: '3600000' };
const inMs = (ms: number) => new Date(Date.now() + ms).toISOString();

async function book(server: TestServer, lot: string, window: Record<string, unknown>): Promise<Booking> {
  const res = await request(server, 'POST', '/bookings', { token: server.token(newUserId()), body: { parking_lot_id: lot, ...window } });
  assert.equal(res.status, 201, JSON.stringify(res.body));
  return res.body.data.booking;
}

async function watch(server: TestServer, lot: string) {
  const { socket } = await connect(server.url, server.token(newUserId()));
  assert.equal((await call(socket, 'subscribe', { room: `parking_lot:${lot}` })).ok, true);
  return socket;
}

const edge = (socket: Awaited<ReturnType<typeof watch>>, lot: string, action: 'hold_started' | 'hold_ended') =>
  nextEvent(socket, 'parking_updated', (p) => p.parking_lot_id === lot && p.action === action, 8000);

async function loggedEdges(server: TestServer, lot: string): Promise<string[]> {
  const { rows } = await server.db.query<{ action: string }>(
    `select payload->>'action' as action from public.event_log where stream = $1 and payload->>'action' like 'hold_%' order by seq`,
    [`parking_lot:${lot}`],
  );
  return rows.map((r) => r.action);
}

async function status(server: TestServer, bookingId: string): Promise<string> {
  const { rows } = await server.db.query<{ status: string }>('select status from public.bookings where id = $1', [bookingId]);
  return rows[0]!.status;
}

describe("an unpaid hold's window edges (in-process jobs)", function () {
  this.timeout(20_000);
  let server: TestServer;
  before(async () => {
    server = await startTestServer(HOLD);
  });
  after(() => server.stop());
  afterEach(closeAll);

  it('a hold starting in 1 s: at its start the watchers hear the lower available_spaces', async () => {
    const lot = await createLot(server.db, { total: 2 });
    const socket = await watch(server, lot);
    const created = nextEvent(socket, 'parking_updated', (p) => p.action === 'booking_created');
    const booking = await book(server, lot, { starts_at: inMs(1000), duration_minutes: 30 });
    assert.equal((await created).available_spaces, 2, 'not held before its window starts');

    const started = await edge(socket, lot, 'hold_started');
    assert.ok(Date.now() >= Date.parse(booking.starts_at), 'not announced before its start');
    assert.equal(started.available_spaces, 1);
    assert.equal(started.held, 1);
    assert.equal(await status(server, booking.id), 'pending', 'the status does not change');

    // What the watchers were told is what anyone asking now is told.
    const now = await request(server, 'GET', `/realtime/parking-availability?parking_lot_id=${lot}`, { token: server.token(newUserId()) });
    assert.equal(now.body.data.lots[0].available_spaces, 1);
  });

  it('a hold whose short window ends before the hold runs out: the watchers hear the space come back, then nothing more', async () => {
    const lot = await createLot(server.db, { total: 1 });
    const socket = await watch(server, lot);
    const booking = await book(server, lot, { ends_at: inMs(1200) });
    const ended = await edge(socket, lot, 'hold_ended');
    assert.ok(Date.now() >= Date.parse(booking.ends_at), 'not announced before its end');
    assert.equal(ended.available_spaces, 1);
    assert.equal(await status(server, booking.id), 'pending', 'still an unpaid hold (until it expires)');

    // A late or doubled job, as a retry and the sweep would run it: nothing more is announced.
    assert.deepEqual(await Promise.all([server.app.bookingJobs.advance(booking.id, 'hold_end'), server.app.bookingJobs.advance(booking.id, 'hold_end')]), [false, false]);
    assert.deepEqual(await loggedEdges(server, lot), ['hold_ended']);
  });

  it('a hold paid before its start is announced by its activation, not twice', async () => {
    const lot = await createLot(server.db, { total: 3 });
    const socket = await watch(server, lot);
    const seen = record(socket, 'parking_updated');
    const booking = await book(server, lot, { starts_at: inMs(1200), duration_minutes: 30 });
    await payBooking(server, booking);
    const activated = await nextEvent(socket, 'parking_updated', (p) => p.action === 'booking_activated', 8000);
    assert.equal(activated.available_spaces, 2);
    await sleep(300); // the hold_start timer fired at the same instant: give it time to (not) speak
    assert.deepEqual(await loggedEdges(server, lot), []);
    assert.ok(!seen.some((p) => p.action === 'hold_started'));
  });

  it('plans exactly the edges the database recorded, for every kind of window', async () => {
    const lot = await createLot(server.db, { total: 10 });
    const windows = [
      { duration_minutes: 30 }, // starts now: its creation announced it
      { starts_at: inMs(60_000), duration_minutes: 30 }, // starts within the hold
      { starts_at: inMs(3_600_000), duration_minutes: 30 }, // starts after the hold: expiry or activation speaks
      { starts_at: inMs(2000), ends_at: inMs(5000) }, // starts and ends within the hold
      { ends_at: inMs(9000) }, // ends within the hold
    ];
    for (const window of windows) {
      const booking = await book(server, lot, window);
      const { rows } = await server.db.query<{ transition: string; due_at: Date }>(
        'select transition, due_at from public.hold_window_edges where booking_id = $1 order by transition',
        [booking.id],
      );
      const planned = followUps(booking).filter((w) => w.transition !== 'expire');
      assert.deepEqual(
        planned.map((w) => w.transition).sort(),
        rows.map((r) => r.transition),
        `window ${JSON.stringify(window)}`,
      );
      for (const row of rows) assert.equal(planned.find((w) => w.transition === row.transition)!.at.getTime(), row.due_at.getTime() + 1);
    }
  });

  it("advance_booking knows every transition of the contract's BOOKING_TRANSITIONS, and only those", async () => {
    for (const transition of BOOKING_TRANSITIONS) {
      const { rows } = await server.db.query('select public.advance_booking($1, $2) as r', [newUserId(), transition]);
      assert.equal(rows[0]?.r, null, `${transition} on a booking that does not exist: nothing to do`);
    }
    await assert.rejects(server.db.query('select public.advance_booking($1, $2)', [newUserId(), 'hold']), /Unknown transition/);
  });

  it('the periodic sweep announces an edge whose node (and timer) is gone', async () => {
    const lot = await createLot(server.db, { total: 2 });
    const creator = await startTestServer(HOLD);
    const sweeping = await startTestServer({ ...HOLD, JOBS_SWEEP_INTERVAL_MS: '300' });
    try {
      const socket = await watch(sweeping, lot);
      const booking = await book(creator, lot, { starts_at: inMs(1500), duration_minutes: 30 });
      await creator.stop();
      const started = await edge(socket, lot, 'hold_started');
      assert.equal(started.available_spaces, 1);
      assert.equal(await status(sweeping, booking.id), 'pending');
      assert.deepEqual(await loggedEdges(sweeping, lot), ['hold_started']);
    } finally {
      await creator.stop();
      await sweeping.stop();
    }
  });
});

describe("an unpaid hold's window edges on BullMQ (real Redis)", function () {
  this.timeout(20_000);
  let q: TestQueue;
  let server: TestServer;
  before(async function () {
    q = testQueue(requireRedis(this));
    server = await startTestServer(HOLD, { scheduler: q.scheduler() });
  });
  after(async () => {
    await server?.stop();
    await q?.close();
  });
  afterEach(closeAll);

  it('queues hold_start-<id> and hold_end-<id> beside the timers; the watchers hear each edge once', async () => {
    const lot = await createLot(server.db, { total: 1 });
    const socket = await watch(server, lot);
    const booking = await book(server, lot, { starts_at: inMs(1000), ends_at: inMs(2000) });
    for (const transition of ['hold_start', 'hold_end'] as const) {
      const job = await q.queue.getJob(`${transition}-${booking.id}`);
      assert.equal(job?.name, transition, `the ${transition} job is queued under its deterministic id`);
      assert.equal(job?.data.bookingId, booking.id);
    }

    assert.equal((await edge(socket, lot, 'hold_started')).available_spaces, 0);
    assert.equal((await edge(socket, lot, 'hold_ended')).available_spaces, 1);
    // Whichever ran first (this node's timer or a BullMQ worker), the other copy finds nothing to do.
    assert.deepEqual(await Promise.all([server.app.bookingJobs.advance(booking.id, 'hold_start'), server.app.bookingJobs.advance(booking.id, 'hold_end')]), [false, false]);
    assert.deepEqual(await loggedEdges(server, lot), ['hold_started', 'hold_ended']);
  });
});

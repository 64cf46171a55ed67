import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { call, closeAll, connect, newUserId, nextEvent, record } from './helpers/clients.js';
import { createLot } from './helpers/fixtures.js';
import { freePort } from './helpers/env.js';
import { testEnv } from './helpers/global-setup.js';
import { startTestServer, TEST_SECRET, type TestServer } from './helpers/server.js';
import { waitUntil } from './helpers/measure.js';
import { request } from './helpers/http.js';
import { startServerProcess } from './helpers/processes.js';

/** A real server process whose bookings die between commit and emit (FAULT_INJECTION). */
async function startDoomedNode(port: number): Promise<ChildProcess> {
  const node = startServerProcess({
    NODE_ENV: 'test',
    PORT: String(port),
    HOST: '127.0.0.1',
    DATABASE_URL: testEnv().databaseUrl,
    JWT_SECRET: TEST_SECRET,
    PAYMENT_WEBHOOK_SECRET: 'doomed-node-webhook-secret',
    SEED_DEMO_DATA: 'false',
    FAULT_INJECTION: 'exit-after-commit',
    LOG_LEVEL: 'warn',
  });
  await waitUntil(
    async () => {
      if (node.child.exitCode !== null) throw new Error(`doomed node exited early:\n${node.output()}`);
      return fetch(`http://127.0.0.1:${port}/health/live`).then((r) => r.ok, () => false);
    },
    30_000,
    'the doomed node to listen',
  );
  return node.child;
}

describe('event log: nothing committed is lost', function () {
  this.timeout(60_000);
  let survivor: TestServer;
  before(async () => {
    survivor = await startTestServer({ OUTBOX_SWEEP_INTERVAL_MS: '200', OUTBOX_SWEEP_GRACE_MS: '500' });
  });
  after(() => survivor.stop());
  afterEach(closeAll);

  it('delivers the events of a booking whose node died between commit and emit (the sweeper, on another node)', async () => {
    const lot = await createLot(survivor.db, { total: 3 });
    const userId = newUserId();
    const token = survivor.token(userId);
    // The user and a lot watcher are connected to the surviving node.
    const { socket: mine } = await connect(survivor.url, token);
    const { socket: watcher } = await connect(survivor.url, survivor.token(newUserId()));
    await call(watcher, 'subscribe', { room: `parking_lot:${lot}` });
    const bookingEvent = nextEvent(mine, 'booking_updated', () => true, 15_000);
    const lotEvent = nextEvent(watcher, 'parking_updated', (p) => p.action === 'booking_created', 15_000);

    const port = await freePort();
    const doomed = await startDoomedNode(port);
    const exited = new Promise<NodeJS.Signals | null>((r) => doomed.once('exit', (_code, signal) => r(signal)));
    const res = await fetch(`http://127.0.0.1:${port}/bookings`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify({ parking_lot_id: lot, duration_minutes: 30 }),
    }).then(
      () => 'answered',
      () => 'connection lost',
    );
    assert.equal(res, 'connection lost', 'the node died before answering');
    assert.equal(await exited, 'SIGKILL');

    // The booking committed although nobody was told...
    const { rows } = await survivor.db.asSystem((tx) =>
      tx.query('select id, status from public.bookings where user_id = $1', [userId]),
    );
    assert.equal(rows.length, 1);
    assert.equal(rows[0].status, 'pending');

    // ...and the survivor's sweeper delivers every one of its events, with their ids.
    const [booking, parking] = await Promise.all([bookingEvent, lotEvent]);
    assert.equal(booking.booking_id, rows[0].id);
    assert.equal(booking.room, `user:${userId}`);
    assert.equal(parking.available_spaces, 2);
    const eventsOf = () =>
      survivor.db.asSystem((tx) =>
        tx.query(`select id::float8 as id, seq::float8 as seq, dispatched_at from public.event_log
                   where stream in ($1, $2) order by id`, [`user:${userId}`, `parking_lot:${lot}`]),
      );
    // The sweeper emits inside its claiming transaction and marks on commit, a moment later.
    await waitUntil(async () => (await eventsOf()).rows.every((r) => r.dispatched_at !== null), 5000, 'the sweeper to mark them');
    const logged = await eventsOf();
    assert.ok(logged.rows.length >= 3, 'booking_updated, parking_updated and the notification were logged');
    assert.ok(logged.rows.some((r) => r.id === booking.event_id && r.seq === booking.seq));
    assert.ok(logged.rows.some((r) => r.id === parking.event_id && r.seq === parking.seq));
    assert.ok(survivor.app.sweeper.stats.redelivered >= 3);
  });

  it('a re-delivered event carries the same id and sequence number, so clients can drop it', async () => {
    const lot = await createLot(survivor.db, { total: 3 });
    const userId = newUserId();
    const { socket } = await connect(survivor.url, survivor.token(userId));
    const seen = record(socket, 'booking_updated');
    const res = await request(survivor, 'POST', '/bookings', { token: survivor.token(userId), body: { parking_lot_id: lot, duration_minutes: 30 } });
    assert.equal(res.status, 201);
    await waitUntil(() => seen.length === 1);
    await survivor.app.dispatcher.flushMarks();

    // As if this node had emitted but lost the database before marking: the sweeper re-emits.
    await survivor.db.asSystem((tx) => tx.query('update public.event_log set dispatched_at = null where stream = $1', [`user:${userId}`]));
    await waitUntil(() => seen.length === 2, 10_000, 'the sweeper to re-emit');
    assert.equal(seen[1].event_id, seen[0].event_id);
    assert.equal(seen[1].seq, seen[0].seq);
    assert.equal(seen[1].booking_id, seen[0].booking_id);
  });

  it('numbers each room\'s events without gaps, in commit order', async () => {
    const lot = await createLot(survivor.db, { total: 50 });
    const { socket } = await connect(survivor.url, survivor.token(newUserId()));
    await call(socket, 'subscribe', { room: `parking_lot:${lot}` });
    const seen = record(socket, 'parking_updated');
    await Promise.all(
      Array.from({ length: 20 }, () =>
        request(survivor, 'POST', '/bookings', { token: survivor.token(newUserId()), body: { parking_lot_id: lot, duration_minutes: 30 } }),
      ),
    );
    await waitUntil(() => seen.length >= 20);
    const seqs = seen.map((p) => p.seq).sort((a, b) => a - b);
    assert.deepEqual(seqs, Array.from({ length: 20 }, (_, i) => seqs[0] + i));
    // Availability falls by one per booking in sequence order.
    const bySeq = [...seen].sort((a, b) => a.seq - b.seq).map((p) => p.available_spaces);
    assert.deepEqual(bySeq, Array.from({ length: 20 }, (_, i) => 49 - i));
  });
});

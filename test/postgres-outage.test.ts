/**
 * A Postgres outage degrades the server, it does not break it. On a Postgres cluster of the
 * suite's own (stopped and started again on the same folder and port, then frozen and thawed),
 * one real server keeps its process and its sockets: while the database is gone every request
 * that needs it answers SERVICE_UNAVAILABLE (503) within a bounded time instead of hanging,
 * liveness stays 200 and readiness says 503 naming the database, and the activity log keeps its
 * rows. When Postgres returns, the same server serves again without a restart, writes the
 * buffered activity rows, has lost nothing committed before the outage, and its sweeper delivers
 * an event whose "dispatched" mark was in flight when Postgres went away.
 */
import assert from 'node:assert/strict';
import pg from 'pg';
import { pino } from 'pino';
import type { Socket } from 'socket.io-client';
import { runMigrations } from '../server/platform/db/migrate.js';
import { closeAll, connect, newUserId, nextEvent, record } from './helpers/clients.js';
import { createLot } from './helpers/fixtures.js';
import { OwnPostgres } from './helpers/own-postgres.js';
import { request, type HttpAnswer } from './helpers/http.js';
import { startTestServer, type TestServer } from './helpers/server.js';
import { sleep, waitUntil } from './helpers/measure.js';

/** An answer must come well before this; the pool's connectionTimeoutMillis is 5 s. */
const ANSWER_BOUND_MS = 12_000;
/** How long the client waits before calling it a hang. */
const CLIENT_TIMEOUT_MS = 20_000;
/** Advisory lock key the test holds to keep a "dispatched" mark in flight (see the trigger below). */
const HOLD_MARKS_KEY = 4_242_001;

type OwnServer = TestServer;

/** The usual test server, on the test's own Postgres. */
const startOwnServer = (databaseUrl: string): Promise<OwnServer> => startTestServer({ DATABASE_URL: databaseUrl });

interface Answer {
  ack: any;
  ms: number;
  /** Set when no acknowledgement came within the client's timeout. */
  hung?: string;
}

/** emitWithAck, timed; a missing answer is reported, not thrown, so a hang is named in the assertion. */
async function timedCall(socket: Socket, event: string, payload: unknown, timeoutMs = CLIENT_TIMEOUT_MS): Promise<Answer> {
  const started = Date.now();
  try {
    const ack = await socket.timeout(timeoutMs).emitWithAck(event, payload);
    return { ack, ms: Date.now() - started };
  } catch (err) {
    return { ack: undefined, ms: Date.now() - started, hung: `${event}: no answer within ${timeoutMs} ms (${String(err)})` };
  }
}


function assertUnavailable(what: string, a: Answer): void {
  assert.equal(a.hung, undefined, `${what} hung while Postgres is down: ${a.hung}`);
  assert.deepEqual(
    { ok: a.ack?.ok, code: a.ack?.error?.code },
    { ok: false, code: 'SERVICE_UNAVAILABLE' },
    `${what} while Postgres is down answered ${JSON.stringify(a.ack)}`,
  );
  assert.ok(a.ms < ANSWER_BOUND_MS, `${what} answered only after ${a.ms} ms`);
}

function assertHttpUnavailable(what: string, r: HttpAnswer): void {
  assert.equal(r.error, undefined, `${what}: no HTTP answer (${r.error}) after ${r.ms} ms`);
  assert.equal(r.status, 503, `${what}: ${r.status} ${JSON.stringify(r.body)}`);
  assert.match(r.headers.get('content-type') ?? '', /application\/json/, `${what} content type`);
  assert.equal(r.body?.ok, false, JSON.stringify(r.body));
  assert.equal(r.body?.error?.code, 'SERVICE_UNAVAILABLE', `${what}: ${JSON.stringify(r.body)}`);
  assert.ok(r.ms < ANSWER_BOUND_MS, `${what} answered only after ${r.ms} ms`);
}

describe('Postgres outage: a server on a Postgres of its own, stopped and started again', function () {
  this.timeout(240_000);

  let own: OwnPostgres | undefined;
  let server: OwnServer | undefined;
  /** The test's own view of the database (not the server's pool). */
  let probe: pg.Pool | undefined;
  /** Holds HOLD_MARKS_KEY while a mark must stay in flight; dies with Postgres. */
  let holder: pg.Client | undefined;
  const faults: string[] = [];
  type Listener = (...args: any[]) => void;
  const savedListeners: Partial<Record<'uncaughtException' | 'unhandledRejection', Listener[]>> = {};
  const onUncaught = (err: unknown) => faults.push(`uncaughtException: ${(err as Error)?.stack ?? String(err)}`);
  const onRejection = (reason: unknown) => faults.push(`unhandledRejection: ${(reason as Error)?.stack ?? String(reason)}`);

  let userId: string;
  let lot: string;
  /** A lot whose booking is committed right before the outage, its mark held in flight. */
  let heldLot: string;
  let user: Socket;
  let watcher: Socket;
  let heldWatcher: Socket;
  const disconnects: string[] = [];
  /** parking_updated on the held lot, each with the time it arrived. */
  const heldLotEvents: { p: any; at: number }[] = [];
  let userEvents: any[] = [];

  let before1: { bookingId: string; eventIds: number[] };
  let held: { bookingId: string; eventIds: number[] };
  let socketIdsDuringOutage: string[] = [];
  let failedDuringOutage = 0;
  let pendingDuringOutage = 0;
  let connectedDuringOutage: Socket | undefined;
  let downAt = 0;
  let upAt = 0;
  const figures: string[] = [];

  /** Faults recorded before the current test began: each test reports only its own. */
  let faultMark = 0;
  const noFaults = (all = false) => {
    const seen = all ? faults : faults.slice(faultMark);
    assert.deepEqual(seen, [], `the process had ${seen.length} uncaught error(s) (in production: a crash):\n${seen.join('\n')}`);
  };
  beforeEach(() => {
    faultMark = faults.length;
  });

  before(async function () {
    this.timeout(180_000);
    // Take the process's error events over for the suite (mocha's own handlers would fail whichever
    // test is running and move on while its body still runs): each is recorded, and the test in
    // which it fires, and the last test, fail listing it.
    for (const event of ['uncaughtException', 'unhandledRejection'] as const) {
      savedListeners[event] = process.listeners(event as 'uncaughtException') as Listener[];
      process.removeAllListeners(event);
    }
    process.on('uncaughtException', onUncaught);
    process.on('unhandledRejection', onRejection);
    own = await OwnPostgres.create();
    await runMigrations(own.url, pino({ level: 'silent' }));
    probe = new pg.Pool({ connectionString: own.url, max: 3, connectionTimeoutMillis: 3000 });
    probe.on('error', () => undefined);
    // Test-only fault injection in this suite's own database: while the test holds HOLD_MARKS_KEY,
    // an UPDATE that marks an event dispatched waits for it, i.e. the mark is "in flight".
    await probe.query(`
      create function public.test_hold_dispatch_marks() returns trigger language plpgsql as $$
      begin
        if old.dispatched_at is null and new.dispatched_at is not null then
          perform pg_advisory_xact_lock_shared(${HOLD_MARKS_KEY});
        end if;
        return new;
      end $$;
      create trigger test_hold_dispatch_marks before update on public.event_log
        for each row execute function public.test_hold_dispatch_marks();`);
    server = await startOwnServer(own.url);
    lot = await createLot(server.db, { total: 20 });
    heldLot = await createLot(server.db, { total: 20 });
    userId = newUserId();
    user = (await connect(server.url, server.token(userId))).socket;
    watcher = (await connect(server.url, server.token(newUserId()))).socket;
    heldWatcher = (await connect(server.url, server.token(newUserId()))).socket;
    for (const [name, s] of [['user', user], ['watcher', watcher], ['heldWatcher', heldWatcher]] as const) {
      s.on('disconnect', (reason) => disconnects.push(`${name}: ${reason}`));
    }
    assert.equal((await timedCall(watcher, 'subscribe', { room: `parking_lot:${lot}` })).ack?.ok, true);
    assert.equal((await timedCall(heldWatcher, 'subscribe', { room: `parking_lot:${heldLot}` })).ack?.ok, true);
    heldWatcher.on('parking_updated', (p) => heldLotEvents.push({ p, at: Date.now() }));
    userEvents = record(user, 'booking_updated');
  });

  after(async function () {
    this.timeout(90_000);
    process.off('uncaughtException', onUncaught);
    process.off('unhandledRejection', onRejection);
    for (const [event, listeners] of Object.entries(savedListeners)) {
      for (const l of listeners) process.on(event as 'uncaughtException', l);
    }
    closeAll();
    connectedDuringOutage?.close();
    own?.thaw();
    await holder?.end().catch(() => undefined);
    if (server) {
      await Promise.race([server.stop(), sleep(30_000)]).catch(() => undefined);
    }
    await probe?.end().catch(() => undefined);
    await own?.destroy();
    if (figures.length) console.log(figures.map((f) => `      [figures] ${f}`).join('\n'));
  });

  const s = () => server!;
  const eventIdsOf = async (bookingId: string, lotId: string) =>
    (
      await probe!.query<{ id: string; stream: string; seq: string; dispatched_at: Date | null }>(
        `select id, stream, seq, dispatched_at from public.event_log
          where payload->>'booking_id' = $1 or (stream = $2 and payload->>'action' = 'booking_created')
          order by id`,
        [bookingId, `parking_lot:${lotId}`],
      )
    ).rows;

  it('while Postgres is up: a booking succeeds and clients get its events', async () => {
    const booked = nextEvent(user, 'booking_updated', (p) => p.booking?.parking_lot_id === lot, 10_000);
    const lotEvent = nextEvent(watcher, 'parking_updated', (p) => p.parking_lot_id === lot && p.action === 'booking_created', 10_000);
    const a = await timedCall(user, 'create_booking', { parking_lot_id: lot, duration_minutes: 60 });
    assert.equal(a.hung, undefined, a.hung);
    assert.equal(a.ack.ok, true, JSON.stringify(a.ack));
    const bookingId: string = a.ack.data.booking.id;
    assert.equal((await booked).booking_id, bookingId);
    assert.equal((await lotEvent).available_spaces, 19);
    const avail = await timedCall(user, 'get_parking_availability', { parking_lot_id: lot });
    assert.equal(avail.ack?.ok, true, JSON.stringify(avail.ack));
    assert.equal(avail.ack.data.lots[0].available_spaces, 19);
    // Its events are logged and (within the mark interval) marked dispatched.
    await waitUntil(async () => {
      const rows = await eventIdsOf(bookingId, lot);
      return rows.length >= 2 && rows.every((r) => r.dispatched_at !== null);
    }, 10_000, 'the booking events to be marked dispatched');
    before1 = { bookingId, eventIds: (await eventIdsOf(bookingId, lot)).map((r) => Number(r.id)) };
    noFaults();
  });

  it('requests in flight when Postgres stops (a booking waiting on the lot lock, a "dispatched" mark) fail cleanly, no crash', async () => {
    holder = new pg.Client({ connectionString: own!.url, application_name: 'test-holder' });
    holder.on('error', () => undefined);
    await holder.connect();
    // Keeps the dispatcher's next mark UPDATE waiting (the trigger above): the mark is in flight.
    await holder.query('select pg_advisory_lock($1)', [HOLD_MARKS_KEY]);

    // A booking committed right before the outage: delivered live, its mark now held.
    const live = nextEvent(heldWatcher, 'parking_updated', (p) => p.parking_lot_id === heldLot && p.action === 'booking_created', 10_000);
    const a = await timedCall(user, 'create_booking', { parking_lot_id: heldLot, duration_minutes: 60 });
    assert.equal(a.ack?.ok, true, JSON.stringify(a));
    const liveEvent = await live;
    held = { bookingId: a.ack.data.booking.id, eventIds: [] };
    const waiting = async (pattern: string) =>
      ((await probe!.query(`select 1 from pg_stat_activity where wait_event_type = 'Lock' and query like $1`, [pattern])).rowCount ?? 0) > 0;
    await waitUntil(() => waiting('update public.event_log set dispatched_at%'), 5000, 'the dispatched mark to be in flight');
    const rows = await eventIdsOf(held.bookingId, heldLot);
    assert.ok(rows.length >= 2, JSON.stringify(rows));
    assert.ok(rows.every((r) => r.dispatched_at === null), 'not marked yet');
    held.eventIds = rows.map((r) => Number(r.id));
    assert.ok(held.eventIds.includes(liveEvent.event_id), 'the live event is one of the logged ones');

    // A user's booking in flight: it waits for the lot row, which the test holds.
    await holder.query('begin');
    await holder.query('select 1 from public.parking_lots where id = $1 for update', [lot]);
    const inFlight = timedCall(watcher, 'create_booking', { parking_lot_id: lot, duration_minutes: 30 });
    await waitUntil(() => waiting('%select public.create_booking(%'), 5000, 'the booking to wait on the lot lock');

    await own!.stop();
    downAt = Date.now();
    assert.equal(own!.running, false);
    const answer = await inFlight;
    failedDuringOutage++;
    assertUnavailable('create_booking in flight when Postgres stopped', answer);
    await sleep(500); // the dispatcher's failed mark, the pool's dead connections
    noFaults();
  });

  it('while Postgres is down: socket events that need it answer SERVICE_UNAVAILABLE within a bounded time', async () => {
    const sockets: [string, Socket, string, unknown][] = [
      ['get_parking_availability (one lot)', user, 'get_parking_availability', { parking_lot_id: lot }],
      ['get_parking_availability (all lots)', watcher, 'get_parking_availability', {}],
      ['create_booking', user, 'create_booking', { parking_lot_id: lot, duration_minutes: 30 }],
      ['get_booking_status', user, 'get_booking_status', { booking_id: before1.bookingId }],
      ['subscribe (a lot room)', heldWatcher, 'subscribe', { room: `parking_lot:${lot}` }],
    ];
    for (const [what, socket, event, payload] of sockets) {
      assertUnavailable(what, await timedCall(socket, event, payload));
      failedDuringOutage++;
    }
    // More at once than the pool has connections: each still answers, none waits forever.
    const burst = await Promise.all(
      Array.from({ length: 25 }, (_, i) =>
        timedCall(i % 2 ? user : watcher, i % 3 ? 'get_parking_availability' : 'create_booking', i % 3 ? { parking_lot_id: lot } : { parking_lot_id: lot, duration_minutes: 30 }),
      ),
    );
    burst.forEach((a, i) => assertUnavailable(`burst call ${i}`, a));
    failedDuringOutage += burst.length;
    figures.push(`Postgres down: slowest socket answer in a burst of 25: ${Math.max(...burst.map((a) => a.ms))} ms`);
    noFaults();
  });

  it('while Postgres is down: REST answers 503 JSON SERVICE_UNAVAILABLE; /health/live 200, /health/ready 503 naming the database', async () => {
    const token = s().token(userId);
    assertHttpUnavailable('GET /realtime/parking-availability', await request(s().url, 'GET', '/realtime/parking-availability', { token }));
    assertHttpUnavailable('POST /bookings', await request(s().url, 'POST', '/bookings', { token, body: { parking_lot_id: lot, duration_minutes: 30 } }));
    assertHttpUnavailable('GET /bookings', await request(s().url, 'GET', '/bookings', { token }));
    assertHttpUnavailable(`GET /bookings/:id`, await request(s().url, 'GET', `/bookings/${before1.bookingId}`, { token }));

    const live = await request(s().url, 'GET', '/health/live', { timeoutMs: 5000 });
    assert.equal(live.status, 200, JSON.stringify(live));
    assert.equal(live.body.ok, true);
    const ready = await request(s().url, 'GET', '/health/ready', { timeoutMs: 10_000 });
    assert.equal(ready.status, 503, JSON.stringify(ready));
    assert.equal(ready.body.ok, false);
    assert.equal(ready.body.data.status, 'not_ready');
    assert.equal(ready.body.data.checks.database.ok, false, JSON.stringify(ready.body));
    assert.equal(typeof ready.body.data.checks.database.error, 'string');
    assert.ok(ready.ms < 5000, `/health/ready took ${ready.ms} ms`);
    noFaults();
  });

  it('while Postgres is down: the process survives its background work, sockets stay connected, activity rows stay buffered', async () => {
    // Let the sweeper (1 s), the job sweep (5 s) and the activity flush (100 ms) fail a few times.
    await sleep(Math.max(0, 6000 - (Date.now() - downAt)));
    assert.equal(own!.running, false, 'Postgres is still down');
    for (const [name, socket] of [['user', user], ['watcher', watcher], ['heldWatcher', heldWatcher]] as const) {
      assert.equal(socket.connected, true, `${name} is still connected`);
    }
    assert.deepEqual(disconnects, []);
    // A new client can still connect (authentication needs no database).
    const fresh = await connect(s().url, s().token(newUserId()), { timeoutMs: 10_000 });
    connectedDuringOutage = fresh.socket;
    assertUnavailable('get_parking_availability from a client connected during the outage', await timedCall(fresh.socket, 'get_parking_availability', {}));
    failedDuringOutage++;
    socketIdsDuringOutage = [user.id!, watcher.id!, heldWatcher.id!, fresh.socket.id!];
    await sleep(500); // a few failed flushes
    pendingDuringOutage = s().app.activity.pending;
    assert.ok(pendingDuringOutage >= failedDuringOutage + 1, `activity rows buffered: ${pendingDuringOutage}, events that failed: ${failedDuringOutage}`);
    noFaults();
  });

  it('Postgres returns: the same server serves again, /health/ready is 200', async () => {
    await own!.start();
    upAt = Date.now();
    let first: Answer | undefined;
    let attempts = 0;
    await waitUntil(
      async () => {
        attempts++;
        first = await timedCall(user, 'get_parking_availability', { parking_lot_id: lot }, 10_000);
        if (first.ack?.ok) return true;
        await sleep(100);
        return false;
      },
      30_000,
      'get_parking_availability to succeed again',
    );
    const socketRecoveryMs = Date.now() - upAt;
    assert.equal(first!.ack.data.lots[0].available_spaces, 19, 'the booking before the outage still holds its space; none made during it');

    let ready: HttpAnswer | undefined;
    await waitUntil(async () => (ready = await request(s().url, 'GET', '/health/ready', { timeoutMs: 10_000 })).status === 200, 30_000, '/health/ready 200');
    assert.equal(ready!.body.data.checks.database.ok, true);
    assert.equal(ready!.body.data.checks.migrations.ok, true);
    const readyMs = Date.now() - upAt;

    const token = s().token(userId);
    const rest = await request(s().url, 'GET', '/realtime/parking-availability', { token });
    assert.equal(rest.status, 200, JSON.stringify(rest));
    const list = await request(s().url, 'GET', '/bookings', { token });
    assert.equal(list.status, 200, JSON.stringify(list));
    assert.deepEqual(new Set(list.body.data.bookings.map((b: any) => b.id)), new Set([before1.bookingId, held.bookingId]));
    figures.push(
      `Postgres was down ${Math.round((upAt - downAt) / 100) / 10} s; after it was back: first socket answer ok in ${socketRecoveryMs} ms ` +
        `(${attempts} attempt(s)), /health/ready 200 in ${readyMs} ms`,
    );
    noFaults();
  });

  it('the activity rows buffered during the outage are written', async () => {
    await s().app.activity.flush();
    await waitUntil(() => s().app.activity.pending === 0, 10_000, 'the activity buffer to drain');
    const { rows } = await probe!.query<{ n: string }>(
      `select count(*) as n from public.realtime_event_log where socket_id = any($1) and error_code = 'SERVICE_UNAVAILABLE'`,
      [socketIdsDuringOutage],
    );
    assert.ok(Number(rows[0]!.n) >= failedDuringOutage, `one row per event that failed during the outage: ${rows[0]!.n} rows, ${failedDuringOutage} failed events`);
    const conn = await probe!.query(`select 1 from public.realtime_connection_log where socket_id = $1`, [socketIdsDuringOutage[3]]);
    assert.equal(conn.rowCount, 1, 'the connection made during the outage is logged');
    figures.push(`activity rows buffered during the outage: ${pendingDuringOutage}, written after it`);
  });

  it('nothing committed before the outage is lost: both bookings and their events are there', async () => {
    for (const [what, b, lotId] of [['booking before the outage', before1, lot], ['booking right before the outage', held, heldLot]] as const) {
      const booking = await probe!.query(`select status, user_id from public.bookings where id = $1`, [b.bookingId]);
      assert.equal(booking.rowCount, 1, `${what} exists`);
      assert.equal(booking.rows[0].status, 'pending');
      assert.equal(booking.rows[0].user_id, userId);
      const events = await eventIdsOf(b.bookingId, lotId);
      assert.deepEqual(events.map((e) => Number(e.id)), b.eventIds, `${what}: its events are in event_log`);
    }
    // Nothing was booked during the outage.
    const { rows } = await probe!.query<{ n: string }>(`select count(*) as n from public.bookings where user_id = $1`, [userId]);
    assert.equal(Number(rows[0]!.n), 2);
  });

  it('the event whose mark was in flight when Postgres stopped is delivered again by the sweeper', async () => {
    const lotEventId = held.eventIds.find((id) => heldLotEvents.some((e) => e.p.event_id === id))!;
    assert.ok(lotEventId, 'the lot event was delivered live before the outage');
    const copies = () => heldLotEvents.filter((e) => e.p.event_id === lotEventId);
    await waitUntil(
      async () => (await eventIdsOf(held.bookingId, heldLot)).every((r) => r.dispatched_at !== null),
      20_000,
      'the sweeper to mark the events dispatched',
    );
    // Live once before the outage, once more from the sweeper after it (clients drop it by seq).
    await waitUntil(() => copies().length >= 2, 10_000, 'the re-emitted parking_updated');
    assert.ok(copies()[0]!.at < downAt, 'the first copy came live, before the outage');
    assert.ok(copies()[1]!.at >= upAt, 'the second copy came from the sweeper, after Postgres was back');
    figures.push(`sweeper re-delivered the held event ${copies()[1]!.at - upAt} ms after Postgres was back`);
    const bookingEventId = held.eventIds.find((id) => id !== lotEventId && userEvents.some((e) => e.event_id === id));
    if (bookingEventId) {
      await waitUntil(() => userEvents.filter((e) => e.event_id === bookingEventId).length >= 2, 10_000, 'the re-emitted booking_updated');
    }
    assert.ok(s().app.sweeper.stats.redelivered >= held.eventIds.length, `sweeper redelivered ${s().app.sweeper.stats.redelivered}`);
    noFaults();
  });

  it('after recovery a new booking succeeds and its events reach the clients', async () => {
    const lotEvent = nextEvent(watcher, 'parking_updated', (p) => p.parking_lot_id === lot && p.action === 'booking_created', 10_000);
    const a = await timedCall(user, 'create_booking', { parking_lot_id: lot, duration_minutes: 60 });
    assert.equal(a.ack?.ok, true, JSON.stringify(a));
    assert.equal((await lotEvent).available_spaces, 18);
    assert.deepEqual(disconnects, [], 'no client was disconnected by the outage');
    noFaults();
  });

  it('Postgres hangs (all its processes stopped): requests still answer within a bounded time, and recover when it resumes', async () => {
    // The pool holds idle connections now (it served the requests above): those are what hang.
    const pids = own!.freeze();
    const frozenAt = Date.now();
    try {
      const [avail, book, status] = await Promise.all([
        timedCall(user, 'get_parking_availability', { parking_lot_id: lot }),
        timedCall(watcher, 'create_booking', { parking_lot_id: lot, duration_minutes: 30 }),
        timedCall(heldWatcher, 'get_parking_availability', {}),
      ]);
      const rest = await request(s().url, 'GET', '/realtime/parking-availability', { token: s().token(userId), timeoutMs: CLIENT_TIMEOUT_MS });
      const ready = await request(s().url, 'GET', '/health/ready', { timeoutMs: 10_000 });
      const live = await request(s().url, 'GET', '/health/live', { timeoutMs: 5000 });
      figures.push(
        `Postgres frozen (${pids.length} processes SIGSTOPped): get_parking_availability ${avail.hung ? 'NO ANSWER' : `${avail.ms} ms ${JSON.stringify(avail.ack?.error ?? avail.ack?.ok)}`}, ` +
          `create_booking ${book.hung ? 'NO ANSWER' : `${book.ms} ms ${JSON.stringify(book.ack?.error ?? book.ack?.ok)}`}, ` +
          `REST ${rest.status || rest.error} in ${rest.ms} ms, /health/ready ${ready.status} in ${ready.ms} ms`,
      );
      assert.equal(live.status, 200, JSON.stringify(live));
      assert.equal(ready.status, 503, JSON.stringify(ready));
      assert.equal(ready.body.data.checks.database.ok, false);
      assertUnavailable('get_parking_availability (one lot) with Postgres frozen', avail);
      assertUnavailable('create_booking with Postgres frozen', book);
      assertUnavailable('get_parking_availability (all lots) with Postgres frozen', status);
      assertHttpUnavailable('GET /realtime/parking-availability with Postgres frozen', rest);
    } finally {
      own!.thaw();
      figures.push(`Postgres was frozen for ${Math.round((Date.now() - frozenAt) / 100) / 10} s`);
    }
    const thawedAt = Date.now();
    await waitUntil(
      async () => (await timedCall(user, 'get_parking_availability', { parking_lot_id: lot }, 10_000)).ack?.ok === true,
      30_000,
      'get_parking_availability to succeed after Postgres resumes',
    );
    figures.push(`after Postgres resumed: socket answer ok in ${Date.now() - thawedAt} ms`);
    noFaults();
  });

  it('no uncaught exception or unhandled rejection in the whole run, and the sockets are still connected', () => {
    noFaults(true);
    assert.deepEqual(disconnects, []);
  });
});

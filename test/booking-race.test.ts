/**
 * Guarantee 1 (no overbooking) under real concurrency: hundreds of clients, over Socket.IO and
 * REST at once, race for the last spaces of a lot against the real server and the real database.
 * Also: half-open windows (touching is not overlapping), and idempotency keys reused concurrently.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { closeAll, connect, newUserId, record, type Client } from './helpers/clients.js';
import { createLot } from './helpers/fixtures.js';
import { startTestServer, type TestServer } from './helpers/server.js';
import { sleep, waitUntil } from './helpers/measure.js';
import { request } from './helpers/http.js';

const HOUR = 3_600_000;

/** One create attempt's answer, the same shape whichever transport carried it. */
interface Answer {
  transport: 'socket' | 'rest';
  /** HTTP status for REST; undefined for socket acks. */
  status?: number;
  ok: boolean;
  data?: { booking: { id: string; user_id: string; parking_lot_id: string; starts_at: string; ends_at: string; status: string }; replayed: boolean };
  error?: { code: string; message: string };
}

/** A racer: a user with a token and, for the socket transport, a connected socket of their own. */
interface Racer {
  userId: string;
  token: string;
  socket?: Client;
}

/** The top of a whole hour tomorrow (or later), so windows are in the future and deterministic. */
function tomorrowAtWholeHour(extraHours = 0): Date {
  const t = new Date(Date.now() + 24 * HOUR + extraHours * HOUR);
  t.setUTCMinutes(0, 0, 0);
  return t;
}

/** A compact histogram of what came back, for assertion messages. */
function summary(answers: Answer[]): string {
  const counts = new Map<string, number>();
  for (const a of answers) {
    const key = a.ok ? `${a.transport}:ok${a.status ? `(${a.status})` : ''}` : `${a.transport}:${a.error?.code}${a.status ? `(${a.status})` : ''}`;
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  return JSON.stringify(Object.fromEntries(counts));
}

describe('booking races (no overbooking under concurrency)', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer();
  });
  after(() => server.stop());
  afterEach(async function () {
    this.timeout(30_000);
    closeAll();
    await waitUntil(() => server.app.io.of('/').sockets.size === 0, 20_000, 'all sockets closed');
  });

  /** Connects `count` racers (distinct users), `batch` sockets at a time. */
  async function socketRacers(count: number, batch = 50): Promise<Racer[]> {
    const racers: Racer[] = [];
    for (let i = 0; i < count; i += batch) {
      const chunk = await Promise.all(
        Array.from({ length: Math.min(batch, count - i) }, async () => {
          const userId = newUserId();
          const token = server.token(userId);
          const { socket } = await connect(server.url, token, { timeoutMs: 15_000 });
          return { userId, token, socket };
        }),
      );
      racers.push(...chunk);
    }
    return racers;
  }

  function restRacers(count: number): Racer[] {
    return Array.from({ length: count }, () => {
      const userId = newUserId();
      return { userId, token: server.token(userId) };
    });
  }

  /** Interleaves two lists so socket and REST attempts are fired mixed, not one block after the other. */
  function interleave<T>(a: T[], b: T[]): T[] {
    const out: T[] = [];
    for (let i = 0; i < Math.max(a.length, b.length); i++) {
      if (i < a.length) out.push(a[i]!);
      if (i < b.length) out.push(b[i]!);
    }
    return out;
  }

  /** `create_booking` over the racer's socket, acknowledged; a generous ack timeout for the race. */
  async function viaSocket(socket: Client, body: Record<string, unknown>): Promise<Answer> {
    const ack = await socket.timeout(60_000).emitWithAck('create_booking', body);
    return { transport: 'socket', ...ack };
  }

  async function viaRest(token: string, body: Record<string, unknown>, headers?: Record<string, string>): Promise<Answer> {
    const res = await request(server, 'POST', '/bookings', { token, body, ...(headers ? { headers } : {}) });
    return { transport: 'rest', status: res.status, ...res.body };
  }

  function attempt(racer: Racer, body: Record<string, unknown>): Promise<Answer> {
    return racer.socket ? viaSocket(racer.socket, body) : viaRest(racer.token, body);
  }

  async function available(lot: string): Promise<number> {
    const res = await request(server, 'GET', `/realtime/parking-availability?parking_lot_id=${lot}`, { token: server.token(newUserId()) });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    return res.body.data.lots[0].available_spaces;
  }

  async function holdingBookings(lot: string): Promise<{ id: string; user_id: string; starts_at: Date; ends_at: Date }[]> {
    const { rows } = await server.db.asSystem((tx) =>
      tx.query(
        `select id, user_id, starts_at, ends_at from public.bookings
          where parking_lot_id = $1 and status in ('pending', 'confirmed', 'active') order by starts_at, id`,
        [lot],
      ),
    );
    return rows;
  }

  /** The most bookings holding the lot at any one instant, computed independently of the server's SQL. */
  function peakOverlap(bookings: { starts_at: Date; ends_at: Date }[]): number {
    const edges = bookings.flatMap((b) => [
      { t: b.starts_at.getTime(), d: 1 },
      { t: b.ends_at.getTime(), d: -1 },
    ]);
    edges.sort((x, y) => x.t - y.t || x.d - y.d); // half-open: an end before a start at the same instant
    let n = 0;
    let peak = 0;
    for (const e of edges) peak = Math.max(peak, (n += e.d));
    return peak;
  }

  async function lastLotSeq(lot: string): Promise<number> {
    const { rows } = await server.db.asSystem((tx) =>
      tx.query(`select coalesce(max(seq), 0)::int as seq from public.event_log where stream = $1`, [`parking_lot:${lot}`]),
    );
    return rows[0].seq;
  }

  /** Every refusal must be LOT_FULL (409 over REST); returns the successes. */
  function expectOnlyLotFull(answers: Answer[]): Answer[] {
    const wins = answers.filter((a) => a.ok);
    for (const a of answers.filter((x) => !x.ok)) {
      assert.equal(a.error?.code, 'LOT_FULL', `a refusal other than LOT_FULL: ${JSON.stringify(a)}; all answers: ${summary(answers)}`);
      assert.equal(typeof a.error?.message, 'string');
      if (a.transport === 'rest') assert.equal(a.status, 409, JSON.stringify(a));
    }
    for (const w of wins) {
      assert.equal(w.data?.replayed, false, JSON.stringify(w));
      assert.equal(w.data?.booking.status, 'pending');
      if (w.transport === 'rest') assert.equal(w.status, 201, JSON.stringify(w));
    }
    return wins;
  }

  it('500 clients (half Socket.IO, half REST) race for the last 5 spaces: exactly 5 win, the rest get LOT_FULL, everyone ends at 0', async function () {
    this.timeout(120_000);
    const TOTAL = 8;
    const FREE = 5;
    const lot = await createLot(server.db, { total: TOTAL });

    // Other users take all but the last 5 spaces.
    for (let i = 0; i < TOTAL - FREE; i++) {
      const res = await request(server, 'POST', '/bookings', { token: server.token(newUserId()), body: { parking_lot_id: lot, duration_minutes: 60 } });
      assert.equal(res.status, 201, JSON.stringify(res.body));
    }
    assert.equal(await available(lot), FREE);

    // Watchers of the lot, subscribed before the race.
    const watchers = await Promise.all([0, 1, 2].map(() => connect(server.url, server.token(newUserId()))));
    const seen: any[][] = [];
    for (const { socket } of watchers) {
      const sub = await socket.timeout(5000).emitWithAck('subscribe', { room: `parking_lot:${lot}` });
      assert.equal(sub.ok, true, JSON.stringify(sub));
      seen.push(record(socket, 'parking_updated'));
    }
    const seqBefore = await lastLotSeq(lot);

    const sockets = await socketRacers(250);
    const rest = restRacers(250);
    const racers = interleave(sockets, rest);
    assert.equal(new Set(racers.map((r) => r.userId)).size, 500);

    // Open the REST racers' keep-alive connections first, as their sockets are already open, so
    // neither transport starts the race with a head start.
    await Promise.all(rest.map((r) => request(server, 'GET', '/realtime/connection-status', { token: r.token })));

    const body = { parking_lot_id: lot, duration_minutes: 60 };
    const started = performance.now();
    const answers = await Promise.all(racers.map((r) => attempt(r, body)));
    const elapsedMs = performance.now() - started;

    const wins = expectOnlyLotFull(answers);
    console.log(
      `      race: ${answers.length} attempts in ${elapsedMs.toFixed(0)} ms ` +
        `(${((answers.length / elapsedMs) * 1000).toFixed(0)} attempts/s, ${((wins.length / elapsedMs) * 1000).toFixed(1)} bookings/s); ${summary(answers)}`,
    );
    assert.equal(wins.length, FREE, `expected exactly ${FREE} successes: ${summary(answers)}`);
    assert.equal(answers.length - wins.length, 500 - FREE);

    // Each winner got a booking of their own in that lot.
    const winIds = new Set(wins.map((w) => w.data!.booking.id));
    assert.equal(winIds.size, FREE);
    const racerIds = new Set(racers.map((r) => r.userId));
    for (const w of wins) {
      assert.equal(w.data!.booking.parking_lot_id, lot);
      assert.ok(racerIds.has(w.data!.booking.user_id));
    }
    assert.equal(new Set(wins.map((w) => w.data!.booking.user_id)).size, FREE);

    // What a user sees, and what the database holds.
    assert.equal(await available(lot), 0);
    const holding = await holdingBookings(lot);
    assert.equal(holding.length, TOTAL);
    assert.ok(peakOverlap(holding) <= TOTAL, `bookings overlap ${peakOverlap(holding)} deep in a lot of ${TOTAL}`);
    for (const id of winIds) assert.ok(holding.some((b) => b.id === id), `winning booking ${id} is not holding the lot`);

    // Every watcher hears every change, in a gap-free sequence, ending at 0 spaces.
    const finalSeq = await lastLotSeq(lot);
    assert.equal(finalSeq, seqBefore + FREE, 'one parking_updated per successful booking, none for refusals');
    for (const [i, events] of seen.entries()) {
      await waitUntil(() => events.some((e) => e.seq === finalSeq), 10_000, `watcher ${i} to receive parking_updated seq ${finalSeq}`);
      const bySeq = new Map<number, any>();
      for (const e of events) {
        assert.equal(e.parking_lot_id, lot);
        assert.equal(e.room, `parking_lot:${lot}`);
        // A duplicate (re-emitted by the sweeper) must be the same event.
        if (bySeq.has(e.seq)) assert.equal(bySeq.get(e.seq).event_id, e.event_id, `two different events with seq ${e.seq}`);
        bySeq.set(e.seq, e);
      }
      const ordered = [...bySeq.values()].sort((a, b) => a.seq - b.seq);
      const seqs = ordered.map((e) => e.seq);
      assert.equal(seqs[0], seqBefore + 1, `watcher ${i} missed the first event: ${JSON.stringify(seqs)}`);
      for (let k = 1; k < seqs.length; k++) assert.equal(seqs[k], seqs[k - 1]! + 1, `watcher ${i}: gap or disorder in ${JSON.stringify(seqs)}`);
      assert.equal(ordered.at(-1)!.seq, finalSeq);
      assert.equal(ordered.at(-1)!.available_spaces, 0, `watcher ${i}'s last parking_updated says ${ordered.at(-1)!.available_spaces} spaces`);
      assert.deepEqual(
        ordered.map((e) => e.available_spaces),
        [4, 3, 2, 1, 0],
        `watcher ${i}: availability by seq`,
      );
      for (const e of ordered) assert.equal(e.action, 'booking_created');
    }
  });

  describe('windows', () => {
    it('100 concurrent attempts whose windows all share one hour, on a lot of 2: exactly 2 win', async function () {
      this.timeout(60_000);
      const lot = await createLot(server.db, { total: 2 });
      const common = tomorrowAtWholeHour();
      const racers = interleave(await socketRacers(50), restRacers(50));
      // Windows of different lengths, every one covering [common, common + 1h).
      const bodies = racers.map((_, i) => ({
        parking_lot_id: lot,
        starts_at: new Date(common.getTime() - (i % 4) * 30 * 60_000).toISOString(),
        ends_at: new Date(common.getTime() + HOUR + (i % 5) * 15 * 60_000).toISOString(),
      }));

      const answers = await Promise.all(racers.map((r, i) => attempt(r, bodies[i]!)));
      const wins = expectOnlyLotFull(answers);
      assert.equal(wins.length, 2, summary(answers));
      const holding = await holdingBookings(lot);
      assert.equal(holding.length, 2);
      assert.ok(peakOverlap(holding) <= 2);
      // Nothing holds a space now, so the lot is free now.
      assert.equal(await available(lot), 2);
    });

    it('on a lot of 1, 25 concurrent attempts for each of 4 back-to-back hours: one wins per hour (touching windows do not overlap)', async function () {
      this.timeout(60_000);
      const lot = await createLot(server.db, { total: 1 });
      const t = tomorrowAtWholeHour(3);
      const windows = [0, 1, 2, 3].map((h) => ({ starts_at: new Date(t.getTime() + h * HOUR).toISOString(), ends_at: new Date(t.getTime() + (h + 1) * HOUR).toISOString() }));
      const racers = interleave(await socketRacers(50), restRacers(50));
      const bodies = racers.map((_, i) => ({ parking_lot_id: lot, ...windows[i % 4]! }));

      const answers = await Promise.all(racers.map((r, i) => attempt(r, bodies[i]!)));
      const wins = expectOnlyLotFull(answers);
      assert.equal(wins.length, 4, summary(answers));
      const won = wins.map((w) => Date.parse(w.data!.booking.starts_at)).sort((a, b) => a - b);
      assert.deepEqual(
        won,
        windows.map((w) => Date.parse(w.starts_at)),
        'exactly one booking per hour',
      );
      for (const w of wins) assert.equal(Date.parse(w.data!.booking.ends_at) - Date.parse(w.data!.booking.starts_at), HOUR);

      const holding = await holdingBookings(lot);
      assert.equal(holding.length, 4);
      assert.equal(peakOverlap(holding), 1);

      // A window across the boundary of two booked hours overlaps both: refused, over both transports.
      const straddle = { parking_lot_id: lot, starts_at: new Date(t.getTime() + 30 * 60_000).toISOString(), ends_at: new Date(t.getTime() + 90 * 60_000).toISOString() };
      const refusedRest = await viaRest(server.token(newUserId()), straddle);
      assert.equal(refusedRest.status, 409, JSON.stringify(refusedRest));
      assert.equal(refusedRest.error?.code, 'LOT_FULL');
      const { socket } = await connect(server.url, server.token(newUserId()));
      const refusedSocket = await viaSocket(socket, straddle);
      assert.deepEqual({ ok: refusedSocket.ok, code: refusedSocket.error?.code }, { ok: false, code: 'LOT_FULL' });
      // The hours just before and just after the booked block touch it and are free.
      const before = await viaRest(server.token(newUserId()), {
        parking_lot_id: lot,
        starts_at: new Date(t.getTime() - HOUR).toISOString(),
        ends_at: t.toISOString(),
      });
      assert.equal(before.status, 201, JSON.stringify(before));
      const after = await viaSocket(socket, { parking_lot_id: lot, starts_at: windows[3]!.ends_at, duration_minutes: 60 });
      assert.equal(after.ok, true, JSON.stringify(after));
      assert.equal((await holdingBookings(lot)).length, 6);
      assert.equal(peakOverlap(await holdingBookings(lot)), 1);
      // All in the future: the one space is free now.
      assert.equal(await available(lot), 1);
    });
  });

  describe('idempotency keys under concurrency', () => {
    it('one user sends 50 concurrent creates with one key (socket, REST body, Idempotency-Key header): one booking, one event', async function () {
      this.timeout(60_000);
      const lot = await createLot(server.db, { total: 10 });
      const userId = newUserId();
      const token = server.token(userId);
      const { socket } = await connect(server.url, token);
      const created = record(socket, 'booking_updated');
      const key = `race-${randomUUID()}`;
      const before = await available(lot);
      assert.equal(before, 10);

      const body = { parking_lot_id: lot, duration_minutes: 60 };
      const answers = await Promise.all(
        Array.from({ length: 50 }, (_, i) => {
          if (i % 3 === 0) return viaSocket(socket, { ...body, idempotency_key: key });
          if (i % 3 === 1) return viaRest(token, { ...body, idempotency_key: key });
          return viaRest(token, body, { 'Idempotency-Key': key });
        }),
      );

      for (const a of answers) assert.equal(a.ok, true, `${JSON.stringify(a)}; all: ${summary(answers)}`);
      const ids = new Set(answers.map((a) => a.data!.booking.id));
      assert.equal(ids.size, 1, `different bookings for one key: ${JSON.stringify([...ids])}`);
      const [bookingId] = ids;
      const fresh = answers.filter((a) => a.data!.replayed === false);
      assert.equal(fresh.length, 1, `expected one first answer, got ${fresh.length}: ${summary(answers)}`);
      for (const a of answers) {
        assert.equal(a.data!.booking.user_id, userId);
        if (a.transport === 'rest') assert.equal(a.status, a.data!.replayed ? 200 : 201, JSON.stringify(a));
      }

      const { rows } = await server.db.asSystem((tx) =>
        tx.query(
          `select (select count(*)::int from public.bookings where user_id = $1 and idempotency_key = $2) as keyed,
                  (select count(*)::int from public.bookings where user_id = $1) as all_of_user,
                  (select count(*)::int from public.event_log
                    where stream = 'user:' || $1 and event = 'booking_updated' and payload->>'action' = 'created') as created_events`,
          [userId, key],
        ),
      );
      assert.deepEqual(rows[0], { keyed: 1, all_of_user: 1, created_events: 1 });
      assert.equal(await available(lot), before - 1);

      // The owner hears of it once (a sweeper re-emit would repeat the same event_id, which a client drops).
      await waitUntil(() => created.some((e) => e.booking_id === bookingId && e.action === 'created'), 5000, 'booking_updated created');
      await sleep(1500);
      const distinct = new Set(created.filter((e) => e.action === 'created').map((e) => e.event_id));
      assert.equal(distinct.size, 1, `booking_updated 'created' events: ${JSON.stringify(created.map((e) => [e.event_id, e.seq, e.booking_id]))}`);
      assert.ok(created.every((e) => e.booking_id === bookingId));
    });

    it('the key is per user: 10 users sending the same key at once each get a booking of their own', async function () {
      this.timeout(30_000);
      const lot = await createLot(server.db, { total: 20 });
      const key = `shared-${randomUUID()}`;
      const users = Array.from({ length: 10 }, () => newUserId());
      const sockets = await Promise.all(users.slice(0, 5).map((u) => connect(server.url, server.token(u))));
      const answers = await Promise.all(
        users.map((u, i) =>
          i < 5
            ? viaSocket(sockets[i]!.socket, { parking_lot_id: lot, duration_minutes: 30, idempotency_key: key })
            : viaRest(server.token(u), { parking_lot_id: lot, duration_minutes: 30 }, { 'Idempotency-Key': key }),
        ),
      );
      for (const a of answers) {
        assert.equal(a.ok, true, JSON.stringify(a));
        assert.equal(a.data!.replayed, false);
        if (a.transport === 'rest') assert.equal(a.status, 201);
      }
      assert.deepEqual(
        answers.map((a) => a.data!.booking.user_id),
        users,
        'each user gets their own booking back',
      );
      assert.equal(new Set(answers.map((a) => a.data!.booking.id)).size, 10);
      const { rows } = await server.db.asSystem((tx) => tx.query('select count(distinct user_id)::int as users, count(*)::int as n from public.bookings where idempotency_key = $1', [key]));
      assert.deepEqual(rows[0], { users: 10, n: 10 });
      assert.equal(await available(lot), 10);

      // A replay by one of them still returns that user's own booking, not another's.
      const again = await viaRest(server.token(users[7]!), { parking_lot_id: lot, duration_minutes: 30, idempotency_key: key });
      assert.equal(again.status, 200);
      assert.equal(again.data!.replayed, true);
      assert.equal(again.data!.booking.id, answers[7]!.data!.booking.id);
    });
  });
});

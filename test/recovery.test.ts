import assert from 'node:assert/strict';
import { call, closeAll, connect, newUserId, nextEvent, record } from './helpers/clients.js';
import { createLot } from './helpers/fixtures.js';
import { useTestServer, type TestServer } from './helpers/server.js';
import { sleep, waitUntil } from './helpers/measure.js';
import { request } from './helpers/http.js';

describe('recovery after a disconnect (last_seq)', () => {
  const server = useTestServer({ REPLAY_MAX_EVENTS: '100' });

  const book = (lot: string, userId = newUserId()) =>
    request(server(), 'POST', '/bookings', { token: server().token(userId), body: { parking_lot_id: lot, duration_minutes: 30 } });

  /** Subscribes, waits for one event, and returns the last seq seen: what a frontend would store. */
  async function lastSeqAfterOneBooking(lot: string): Promise<number> {
    const { socket } = await connect(server().url, server().token(newUserId()));
    await call(socket, 'subscribe', { room: `parking_lot:${lot}` });
    const first = nextEvent(socket, 'parking_updated');
    assert.equal((await book(lot)).status, 201);
    const seq = (await first).seq as number;
    socket.close();
    return seq;
  }

  it('replays the events missed in a lot room, in order, when subscribe carries last_seq', async () => {
    const lot = await createLot(server().db, { total: 40 });
    const lastSeq = await lastSeqAfterOneBooking(lot);
    for (let i = 0; i < 12; i++) assert.equal((await book(lot)).status, 201);

    const { socket } = await connect(server().url, server().token(newUserId()));
    const seen = record(socket, 'parking_updated');
    const res = await call(socket, 'subscribe', { room: `parking_lot:${lot}`, last_seq: lastSeq });
    assert.equal(res.ok, true);
    assert.deepEqual(res.data.replay, { room: `parking_lot:${lot}`, replayed: 12, snapshot: false, seq: lastSeq + 12 });
    await waitUntil(() => seen.length === 12);
    assert.deepEqual(seen.map((p) => p.seq), Array.from({ length: 12 }, (_, i) => lastSeq + 1 + i));
    assert.deepEqual(seen.map((p) => p.available_spaces), Array.from({ length: 12 }, (_, i) => 38 - i));

    // Live events keep coming after the replay, continuing the sequence.
    const live = nextEvent(socket, 'parking_updated');
    await book(lot);
    assert.equal((await live).seq, lastSeq + 13);
  });

  it('resumes several rooms from the handshake (auth.last_seq) and says what it did', async () => {
    const lot = await createLot(server().db, { total: 10 });
    const userId = newUserId();
    const token = server().token(userId);
    const { socket: first } = await connect(server().url, token);
    const created = nextEvent(first, 'booking_updated');
    await request(server(), 'POST', '/bookings', { token, body: { parking_lot_id: lot, duration_minutes: 30 } });
    const userSeq = (await created).seq as number;
    first.close();
    // While away: the user's booking is cancelled by an admin, and someone else books in the lot.
    const { rows } = await server().db.asSystem((tx) => tx.query('select id from public.bookings where user_id = $1', [userId]));
    await request(server(), 'POST', `/bookings/${rows[0].id}/cancel`, { token: server().token(newUserId(), 'admin'), body: {} });
    await book(lot);

    const { io } = await import('socket.io-client');
    const socket = io(server().url, {
      auth: { token, last_seq: { [`user:${userId}`]: userSeq, [`parking_lot:${lot}`]: 0 } },
      transports: ['websocket'],
      reconnection: false,
      forceNew: true,
    });
    const bookingEvents = record(socket, 'booking_updated');
    const lotEvents = record(socket, 'parking_updated');
    const resumed = await nextEvent(socket, 'resumed');
    socket.close();
    assert.deepEqual(resumed.failed, []);
    const byRoom = Object.fromEntries(resumed.rooms.map((r: { room: string }) => [r.room, r]));
    assert.equal(byRoom[`parking_lot:${lot}`].replayed, 3, 'created, cancelled, and the other booking');
    assert.equal(byRoom[`parking_lot:${lot}`].snapshot, false);
    assert.ok(byRoom[`user:${userId}`].replayed >= 2, 'the cancellation and its notification');
    assert.ok(bookingEvents.some((p) => p.action === 'cancelled' && p.seq > userSeq));
    assert.deepEqual(lotEvents.map((p) => p.seq), [1, 2, 3]);
  });

  it('sends a snapshot, flagged as such, when the gap is older than the event log keeps', async () => {
    const lot = await createLot(server().db, { total: 10 });
    const lastSeq = await lastSeqAfterOneBooking(lot);
    for (let i = 0; i < 3; i++) await book(lot);
    // Retention removed the oldest events the client missed.
    await server().db.asSystem((tx) => tx.query('delete from public.event_log where stream = $1 and seq <= $2', [`parking_lot:${lot}`, lastSeq + 1]));

    const { socket } = await connect(server().url, server().token(newUserId()));
    const replayed = record(socket, 'parking_updated');
    const snapshot = nextEvent(socket, 'room_snapshot');
    const res = await call(socket, 'subscribe', { room: `parking_lot:${lot}`, last_seq: lastSeq });
    assert.deepEqual(res.data.replay, { room: `parking_lot:${lot}`, replayed: 0, snapshot: true, seq: lastSeq + 3 });
    const snap = await snapshot;
    assert.equal(snap.snapshot, true);
    assert.equal(snap.seq, lastSeq + 3);
    assert.equal(snap.lots[0].available_spaces, 6);
    assert.deepEqual(replayed, [], 'no partial replay');
  });

  it('sends a snapshot when the client is ahead of the log (the database was reset) or the gap is too long', async () => {
    const lot = await createLot(server().db, { total: 200 });
    for (let i = 0; i < 3; i++) await book(lot);
    const { socket } = await connect(server().url, server().token(newUserId()));
    const ahead = await call(socket, 'subscribe', { room: `parking_lot:${lot}`, last_seq: 999 });
    assert.equal(ahead.data.replay.snapshot, true);
    assert.equal(ahead.data.replay.seq, 3);

    for (let i = 0; i < 101; i++) await book(lot);
    const long = await call(socket, 'subscribe', { room: `parking_lot:${lot}`, last_seq: 2 });
    assert.equal(long.data.replay.snapshot, true, 'more than REPLAY_MAX_EVENTS (100) missed');
  });

  it('answers parking_updates with a snapshot of all lots (it has no single stream)', async () => {
    const { socket } = await connect(server().url, server().token(newUserId()));
    const snapshot = nextEvent(socket, 'room_snapshot');
    const res = await call(socket, 'subscribe', { type: 'parking_updates', last_seq: 5 });
    assert.equal(res.data.replay.snapshot, true);
    assert.ok((await snapshot).lots.length >= 1);
  });

  it("replays nothing of another user's room: FORBIDDEN, and a bad handshake resume is an error, not a crash", async () => {
    const victim = newUserId();
    const lot = await createLot(server().db);
    await book(lot, victim);
    const { socket } = await connect(server().url, server().token(newUserId()));
    const leaked = record(socket, 'booking_updated');
    const res = await call(socket, 'subscribe', { room: `user:${victim}`, last_seq: 0 });
    assert.equal(res.error.code, 'FORBIDDEN');
    await sleep(200);
    assert.deepEqual(leaked, []);

    const { io } = await import('socket.io-client');
    const bad = io(server().url, { auth: { token: server().token(newUserId()), last_seq: 'all of it' }, transports: ['websocket'], reconnection: false, forceNew: true });
    const error = await nextEvent(bad, 'error');
    assert.equal(error.code, 'VALIDATION_ERROR');
    assert.equal(bad.connected, true);
    const refusedRoom = io(server().url, {
      auth: { token: server().token(newUserId()), last_seq: { [`user:${victim}`]: 0, admin: 0, 'parking_lot:nope': 1 } },
      transports: ['websocket'],
      reconnection: false,
      forceNew: true,
    });
    const resumed = await nextEvent(refusedRoom, 'resumed');
    assert.deepEqual(resumed.rooms, []);
    assert.deepEqual(resumed.failed.map((f: { code: string }) => f.code).sort(), ['FORBIDDEN', 'FORBIDDEN', 'NOT_FOUND']);
    bad.close();
    refusedRoom.close();
  });
});

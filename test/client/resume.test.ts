/**
 * @spotcast/client against real servers: the sequence protocol. A room starts from a snapshot and
 * its seq; a hole is filled from last_seq; a re-delivery is dropped; a node that restarts (a
 * relay stands at its address) is rejoined by itself, with what was missed replayed once; a gap
 * older than the log gets a snapshot. Oracles: the seqs delivered, each exactly once, and the
 * state the client shows, against what the server committed.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { toLoggedEvents } from '../../server/outbox/logged-event.js';
import { createLot } from '../helpers/fixtures.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { closeClients, collect, connected, newClient, Relay, stateWhen, statuses } from './support.js';
import { waitUntil } from '../helpers/measure.js';
import { request } from '../helpers/http.js';

describe('client: resume by seq, against real servers', function () {
  this.timeout(40_000);
  let server: TestServer;
  const admin = randomUUID();

  before(async () => {
    server = await startTestServer();
  });
  afterEach(closeClients);
  after(() => server?.stop());

  const setFree = async (s: TestServer, lotId: string, free: number) => {
    const res = await request(s, 'PUT', `/realtime/parking-lots/${lotId}/availability`, { token: s.token(admin, 'admin'), body: { available_spaces: free } });
    assert.equal(res.status, 200, JSON.stringify(res.body));
  };
  const head = async (stream: string) => {
    const { rows } = await server.db.asSystem((tx) => tx.query<{ last_seq: string }>('select last_seq from public.stream_sequences where stream = $1', [stream]));
    return Number(rows[0]?.last_seq ?? 0);
  };
  const serverSockets = (s: TestServer, userId: string) => [...s.app.io.of('/').sockets.values()].filter((x) => x.data.principal.userId === userId);

  /** A connected client of a new user, holding one lot's room, its state loaded. */
  async function watching(url: string, s: TestServer, lotId: string) {
    const userId = randomUUID();
    const client = newClient(url, () => s.token(userId));
    client.subscribe(`parking_lot:${lotId}`);
    client.connect();
    await connected(client);
    await waitUntil(() => client.lots.get().has(lotId) && client.lastSeq(`parking_lot:${lotId}`) !== undefined, 5000, "the lot's snapshot");
    return { client, userId, room: `parking_lot:${lotId}` };
  }

  it("subscribe: the room's state and seq come first, without replaying its history", async () => {
    const lotId = await createLot(server.db, { total: 30 });
    for (const free of [29, 28, 27]) await setFree(server, lotId, free);
    const userId = randomUUID();
    const client = newClient(server.url, () => server.token(userId));
    const updates = collect(client, 'parking_updated');
    client.subscribe(`parking_lot:${lotId}`);
    client.connect();
    await waitUntil(() => client.lastSeq(`parking_lot:${lotId}`) !== undefined, 5000, 'the snapshot');
    assert.equal(client.lastSeq(`parking_lot:${lotId}`), await head(`parking_lot:${lotId}`));
    assert.equal(client.lots.get().get(lotId)?.available_spaces, 27);
    assert.deepEqual(updates, [], 'no old events');
    await setFree(server, lotId, 26);
    await waitUntil(() => updates.length === 1, 5000, 'the live event');
    assert.equal(client.lots.get().get(lotId)?.available_spaces, 26);
  });

  it('a hole in a room is filled from last_seq: every seq delivered once', async () => {
    const lotId = await createLot(server.db, { total: 20 });
    const { client, userId, room } = await watching(server.url, server, lotId);
    const start = client.lastSeq(room)!;
    const updates = collect(client, 'parking_updated');
    // The server loses the socket's membership for one event (as a missed delivery would).
    const [socket] = serverSockets(server, userId);
    await socket!.leave(room);
    await setFree(server, lotId, 15);
    await socket!.join(room);
    await setFree(server, lotId, 12);
    await waitUntil(() => client.lastSeq(room) === start + 2, 5000, 'the hole to be filled');
    assert.deepEqual(updates.map((u) => u.seq).sort((a, b) => a - b), [start + 1, start + 2]);
    assert.deepEqual(updates.map((u) => u.available_spaces).sort((a, b) => a - b), [12, 15]);
    assert.equal(client.lots.get().get(lotId)?.available_spaces, 12, 'the newest state, whatever the arrival order');
  });

  it('a re-delivery (as the sweeper sends it) is dropped', async () => {
    const lotId = await createLot(server.db, { total: 20 });
    const { client, room } = await watching(server.url, server, lotId);
    const updates = collect(client, 'parking_updated');
    await setFree(server, lotId, 10);
    await waitUntil(() => updates.length === 1, 5000, 'the event');
    const seq = updates[0]!.seq;
    const { rows } = await server.db.asSystem((tx) =>
      tx.query('select id, stream, seq, event, rooms, payload from public.event_log where stream = $1 and seq = $2', [room, seq]),
    );
    server.app.dispatcher.emit(toLoggedEvents(rows));
    // One more event after it, on the same socket: once it is here, the re-delivery was handled.
    await setFree(server, lotId, 9);
    await waitUntil(() => updates.some((u) => u.seq === seq + 1), 5000, 'the next event');
    assert.deepEqual(updates.map((u) => u.seq), [seq, seq + 1]);
  });

  it('a node restart: the client comes back at the same address and gets what it missed, once', async () => {
    const first = await startTestServer();
    let second: TestServer | undefined;
    const relay = await Relay.start(first.port);
    try {
      const lotId = await createLot(server.db, { total: 10 });
      const { client, userId } = await watching(relay.url, first, lotId);
      const seen = statuses(client);
      const created = await client.request('create_booking', { parking_lot_id: lotId, duration_minutes: 60 });
      assert.ok(created.ok, JSON.stringify(created));
      const bookingId = created.data.booking.id;
      await waitUntil(() => client.bookings.get().get(bookingId)?.status === 'pending', 5000, 'the booking in the store');
      const bookingEvents = collect(client, 'booking_updated');
      const lotEvents = collect(client, 'parking_updated');
      const notifications = collect(client, 'notification');
      const ownRoom = `user:${userId}`;
      const userSeq = client.lastSeq(ownRoom)!;

      // The node goes; while nothing serves that address, an admin cancels the booking and a lot changes.
      relay.to(undefined);
      await first.stop();
      await stateWhen(client, (s) => s.status === 'reconnecting', 'reconnecting');
      second = await startTestServer();
      const cancelled = await request(second, 'POST', `/bookings/${bookingId}/cancel`, { token: second.token(admin, 'admin'), body: { reason: 'Gate maintenance' } });
      assert.equal(cancelled.status, 200, JSON.stringify(cancelled.body));
      await setFree(second, lotId, 4);
      relay.to(second.port);

      await stateWhen(client, (s) => s.status === 'connected' && s.connections === 2, 'connected to the new node');
      await waitUntil(() => client.lastSeq(ownRoom) === userSeq + 2 && client.lots.get().get(lotId)?.available_spaces === 4, 10_000, 'the missed events');
      assert.deepEqual(seen, ['connected', 'reconnecting', 'connected']);
      assert.equal(client.bookings.get().get(bookingId)?.status, 'cancelled');
      assert.deepEqual(bookingEvents.map((e) => [e.booking_id, e.status]), [[bookingId, 'cancelled']]);
      assert.deepEqual(notifications.map((n) => n.seq), [userSeq + 2], 'the cancellation notice, once');
      assert.deepEqual(lotEvents.at(-1)?.available_spaces, 4);
      assert.equal(new Set(lotEvents.map((e) => e.seq)).size, lotEvents.length, 'no seq twice');
    } finally {
      closeClients();
      await relay.close();
      await first.stop();
      await second?.stop();
    }
  });

  it('a gap older than the log keeps: a room snapshot replaces the state, and the room goes on from its seq', async () => {
    const short = await startTestServer({ REPLAY_MAX_EVENTS: '2' });
    const relay = await Relay.start(short.port);
    try {
      const lotId = await createLot(server.db, { total: 50 });
      const { client, room } = await watching(relay.url, short, lotId);
      const updates = collect(client, 'parking_updated');
      const snapshots = collect(client, 'room_snapshot');
      relay.to(undefined);
      relay.cut();
      await stateWhen(client, (s) => s.status === 'reconnecting', 'reconnecting');
      for (const free of [40, 30, 20]) await setFree(short, lotId, free);
      relay.to(short.port);
      await waitUntil(() => snapshots.some((s) => s.room === room), 10_000, 'the snapshot');
      assert.equal(client.lots.get().get(lotId)?.available_spaces, 20);
      assert.equal(client.lastSeq(room), await head(room));
      assert.deepEqual(updates, [], 'three missed events: a snapshot instead of a replay');
      await setFree(short, lotId, 19);
      await waitUntil(() => updates.length === 1, 5000, 'the next live event');
      assert.equal(client.lastSeq(room), await head(room));
    } finally {
      closeClients();
      await relay.close();
      await short.stop();
    }
  });

  it('subscribe() holders share one subscription; the last release leaves the room on the server', async () => {
    const lotId = await createLot(server.db, { total: 5 });
    const userId = randomUUID();
    const client = newClient(server.url, () => server.token(userId));
    client.connect();
    await connected(client);
    const room = `parking_lot:${lotId}`;
    const [socket] = serverSockets(server, userId);
    const incoming: string[] = [];
    socket!.onAny((event: string, payload: { room?: string }) => payload?.room?.toLowerCase() === room && incoming.push(event));
    const releaseA = client.subscribe(room);
    const releaseB = client.subscribe(room.toUpperCase().replace('PARKING_LOT', 'parking_lot'));
    await waitUntil(() => socket!.rooms.has(room) && client.lots.get().has(lotId), 5000, 'joined');
    releaseA();
    releaseA();
    await new Promise((r) => setImmediate(r));
    assert.ok(socket!.rooms.has(room), 'B still holds it');
    releaseB();
    await waitUntil(() => !socket!.rooms.has(room), 5000, 'the server to let the room go');
    assert.deepEqual(incoming, ['subscribe', 'unsubscribe'], 'one subscription for two holders');
    assert.equal(client.lastSeq(room), undefined);
  });
});

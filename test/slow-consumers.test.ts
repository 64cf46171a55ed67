/**
 * Clients that do not take what the server sends them: a WebSocket whose TCP socket is no longer
 * read, and a long-polling session that never polls. Past SOCKET_MAX_PENDING_BYTES the server
 * disconnects them as slow consumers (metric, connection log) instead of queueing without end,
 * while a client that reads the same volume stays connected. Asserted on the server's own
 * accounting, never on timings.
 */
import assert from 'node:assert/strict';
import { call, closeAll, connect, newUserId, record } from './helpers/clients.js';
import { createLot } from './helpers/fixtures.js';
import { metricValue } from './helpers/metric.js';
import { appendLotEvents, eventPacket, PollingSession, RawWebSocketClient } from './helpers/raw-engine.js';
import { startTestServer, type TestServer } from './helpers/server.js';
import { waitUntil } from './helpers/measure.js';

const MAX_PENDING = 256 * 1024;

describe('slow consumers (SOCKET_MAX_PENDING_BYTES 256 KiB)', function () {
  this.timeout(60_000);
  let server: TestServer;
  let lot: string;
  let head: number;
  const raw: RawWebSocketClient[] = [];
  before(async () => {
    server = await startTestServer({ SOCKET_MAX_PENDING_BYTES: String(MAX_PENDING), REPLAY_MAX_EVENTS: '1000' });
    lot = await createLot(server.db);
    // 150 events of ~1.2 kB: one replay is ~180 kB, under the cap; many of them are not.
    head = await appendLotEvents(server.db, lot, 150, 1000);
  });
  after(() => server.stop());
  afterEach(() => {
    for (const c of raw.splice(0)) c.close();
    closeAll();
  });

  const socketsOf = (userId: string) => [...server.app.io.of('/').sockets.values()].filter((s) => s.data.principal.userId === userId);
  const slowDisconnects = (transport: string) => metricValue(server.app, 'spotcast_slow_consumer_disconnects_total', { transport });

  it('disconnects a WebSocket client that stopped reading, once its backlog passes the cap; a reading client with the same load stays', async () => {
    const reader = await connect(server.url, server.token(newUserId()));
    const got = record(reader.socket, 'parking_updated');
    const before = await slowDisconnects('websocket');

    const userId = newUserId();
    const stalled = await RawWebSocketClient.connect(server.url, server.token(userId));
    raw.push(stalled);
    stalled.stopReading();
    // 60 replays of 180 kB: ~11 MB for a client that reads nothing (the kernel's buffers take a few MB).
    for (let i = 0; i < 60 && !stalled.closed; i++) stalled.emit('subscribe', { room: `parking_lot:${lot}`, last_seq: 0 }, i);
    await waitUntil(async () => (await slowDisconnects('websocket')) === before + 1, 30_000, 'the slow consumer to be disconnected');
    await waitUntil(() => socketsOf(userId).length === 0, 5000, 'its socket to be gone');

    // The reader asks for the same replays, one after the other, and keeps its connection.
    for (let i = 0; i < 10; i++) {
      const res = await call(reader.socket, 'subscribe', { room: `parking_lot:${lot}`, last_seq: 0 });
      assert.equal(res.data.replay.replayed, head, JSON.stringify(res));
    }
    await waitUntil(() => got.length === 10 * head, 10_000, 'every replayed event at the reader');
    assert.equal(reader.socket.connected, true);
    assert.equal(await slowDisconnects('websocket'), before + 1, 'the reading client was disconnected too');

    await server.app.activity.flush();
    const { rows } = await server.db.asSystem((tx) =>
      tx.query(`select disconnect_reason from public.realtime_connection_log where user_id = $1 and disconnected_at is not null`, [userId]),
    );
    assert.deepEqual(rows.map((r) => r.disconnect_reason), ['slow consumer']);
  });

  it('disconnects a long-polling session that never polls; what it was owed is dropped with the session', async () => {
    const before = await slowDisconnects('polling');
    const userId = newUserId();
    const session = await PollingSession.open(server.url);
    assert.equal(await session.authenticate(server.token(userId)), 200);
    await waitUntil(() => socketsOf(userId).length === 1, 5000, 'the socket to connect');
    // Four replays in one request: ~720 kB queued for a client that has not polled since.
    const subscribe = (i: number) => eventPacket('subscribe', { room: `parking_lot:${lot}`, last_seq: 0 }, i);
    assert.equal(await session.send(subscribe(1), subscribe(2), subscribe(3), subscribe(4)), 200);
    await waitUntil(async () => (await slowDisconnects('polling')) === before + 1, 10_000, 'the slow consumer to be disconnected');
    await waitUntil(() => socketsOf(userId).length === 0, 5000, 'its socket to be gone');
    const next = await session.poll();
    assert.equal(next.status, 400, next.packets.join('\n').slice(0, 200));
  });

  it('a socket that reads but was sent more than the cap at once (one burst) is not disconnected for it', async () => {
    // A replay burst is written at once and judged afterwards by what the client has not taken.
    const bigLot = await createLot(server.db);
    const bigHead = await appendLotEvents(server.db, bigLot, 400, 1000); // ~480 kB in one replay
    const before = await slowDisconnects('websocket');
    const { socket } = await connect(server.url, server.token(newUserId()));
    const got = record(socket, 'parking_updated');
    const res = await call(socket, 'subscribe', { room: `parking_lot:${bigLot}`, last_seq: 0 });
    assert.equal(res.data.replay.replayed, bigHead);
    await waitUntil(() => got.length === bigHead, 10_000, 'the whole replay');
    assert.equal((await call(socket, 'get_parking_availability', { parking_lot_id: bigLot })).ok, true);
    assert.equal(await slowDisconnects('websocket'), before);
  });
});

describe('a server-side disconnect of a client that does not read (SOCKET_MAX_PENDING_BYTES 64 MiB)', function () {
  this.timeout(60_000);
  let server: TestServer;
  const raw: RawWebSocketClient[] = [];
  before(async () => {
    server = await startTestServer({ SOCKET_MAX_PENDING_BYTES: String(64 * 1024 * 1024) });
  });
  after(async () => {
    for (const c of raw.splice(0)) c.close();
    await server.stop();
  });

  it('ends its connection within a moment, though its queue was never taken', async () => {
    const lot = await createLot(server.db);
    await appendLotEvents(server.db, lot, 150, 1000);
    const userId = newUserId();
    const stalled = await RawWebSocketClient.connect(server.url, server.token(userId));
    raw.push(stalled);
    stalled.stopReading();
    // ~9 MB: more than the kernel's buffers take, so engine.io holds a queue for it.
    for (let i = 0; i < 50; i++) stalled.emit('subscribe', { room: `parking_lot:${lot}`, last_seq: 0 }, i);
    const [socket] = await waitFor(() => [...server.app.io.of('/').sockets.values()].filter((s) => s.data.principal.userId === userId));
    const conn = socket!.conn as unknown as { id: string; writeBuffer: unknown[] };
    await waitUntil(() => conn.writeBuffer.length > 0, 20_000, 'engine.io to hold a queue for the stalled client');
    // As a rate limit or an expired token would.
    socket!.disconnect(true);
    await waitUntil(() => !(conn.id in (server.app.io.engine as unknown as { clients: Record<string, unknown> }).clients), 10_000, 'its Engine.IO session to end');
  });
});

async function waitFor<T>(read: () => T[]): Promise<T[]> {
  let found: T[] = [];
  await waitUntil(() => (found = read()).length > 0, 5000, 'the socket');
  return found;
}

/**
 * What a hostile or careless client could do with legitimate calls, and the limits that stop it.
 */
import assert from 'node:assert/strict';
import { io, type Socket } from 'socket.io-client';
import { call, closeAll, connect, newUserId, nextEvent, record, refusal } from './helpers/clients.js';
import { createLot } from './helpers/fixtures.js';
import { appendLotEvents } from './helpers/raw-engine.js';
import { useTestServer, type TestServer } from './helpers/server.js';
import { waitUntil } from './helpers/measure.js';
import { request } from './helpers/http.js';

describe('abuse of legitimate calls', () => {
  const server = useTestServer({
      BOOKING_MAX_PENDING_PER_USER: '2',
      BOOKING_MAX_DAYS_AHEAD: '30',
      RATE_LIMIT_CONNECTIONS: '3/60',
      RATE_LIMIT_REPLAY_EVENTS: '500/60',
    });

  it('one user cannot hold a whole lot without paying: TOO_MANY_HOLDS past the cap, room again after a cancel', async () => {
    const lot = await createLot(server().db, { total: 8 });
    const token = server().token(newUserId());
    const book = () => request(server(), 'POST', '/bookings', { token, body: { parking_lot_id: lot, duration_minutes: 30 } });
    const first = await book();
    assert.equal((await book()).status, 201);
    const third = await book();
    assert.equal(third.status, 409);
    assert.equal(third.body.error.code, 'TOO_MANY_HOLDS');
    // Another user is not affected.
    assert.equal((await request(server(), 'POST', '/bookings', { token: server().token(newUserId()), body: { parking_lot_id: lot, duration_minutes: 30 } })).status, 201);
    await request(server(), 'POST', `/bookings/${first.body.data.booking.id}/cancel`, { token, body: {} });
    assert.equal((await book()).status, 201);
  });

  it('refuses a booking that starts further ahead than BOOKING_MAX_DAYS_AHEAD', async () => {
    const lot = await createLot(server().db);
    const res = await request(server(), 'POST', '/bookings', {
      token: server().token(newUserId()),
      body: { parking_lot_id: lot, starts_at: new Date(Date.now() + 31 * 86_400_000).toISOString(), duration_minutes: 60 },
    });
    assert.equal(res.status, 400);
    assert.match(res.body.error.message, /30 days ahead/);
  });

  it('limits connection attempts per client address, from X-Forwarded-For behind a trusted proxy', async () => {
    const token = server().token(newUserId());
    const via = (ip: string) => ({ 'x-forwarded-for': ip });
    // The test client is on loopback, which TRUST_PROXY trusts by default, as a local balancer would be.
    for (let i = 0; i < 3; i++) await connectVia(server().url, token, via('203.0.113.7'));
    const refused = await refusal(server().url, token, { headers: via('203.0.113.7') });
    assert.equal(refused.data?.code, 'RATE_LIMITED');
    // Another client behind the same balancer still gets in, and is logged with its own address.
    const socketId = await connectVia(server().url, token, via('198.51.100.9'));
    await server().app.activity.flush();
    const { rows } = await server().db.asSystem((tx) => tx.query('select ip from public.realtime_connection_log where socket_id = $1', [socketId]));
    assert.equal(rows[0]?.ip, '198.51.100.9');
  });

  it('counts one room once in a handshake resume, however it is spelled', async () => {
    const lot = await createLot(server().db);
    const socket = io(server().url, {
      auth: { token: server().token(newUserId()), last_seq: { [`parking_lot:${lot}`]: 0, [`parking_lot:${lot.toUpperCase()}`]: 0, [`parking_lot:${lot} `]: 0 } },
      transports: ['websocket'],
      reconnection: false,
      forceNew: true,
    });
    try {
      const resumed = await nextEvent(socket, 'resumed');
      assert.equal(resumed.rooms.length + resumed.failed.length <= 2, true, JSON.stringify(resumed));
      assert.equal(resumed.rooms.filter((r: { room: string }) => r.room === `parking_lot:${lot}`).length, 1);
    } finally {
      socket.close();
    }
  });

  it('replaying the same 200 events over and over from two sockets at once: one user gets no more than their replay budget, then a snapshot, then RATE_LIMITED', async () => {
    const lot = await createLot(server().db);
    const head = await appendLotEvents(server().db, lot, 200);
    const token = server().token(newUserId());
    // (From addresses of their own: this server allows 3 connection attempts per address.)
    const sockets = [await socketFrom(server().url, token, '192.0.2.61'), await socketFrom(server().url, token, '192.0.2.62')];
    const received = sockets.map((s) => record(s, 'parking_updated'));
    const snapshots = sockets.map((s) => record(s, 'room_snapshot'));
    const answers = await Promise.all(
      Array.from({ length: 40 }, (_, i) => call(sockets[i % 2]!, 'subscribe', { room: `parking_lot:${lot}`, last_seq: head - 200 })),
    );
    const replays = answers.filter((a) => a.ok).map((a) => a.data.replay);
    const refused = answers.filter((a) => !a.ok);
    assert.ok(refused.every((a) => a.error.code === 'RATE_LIMITED'), JSON.stringify(refused.slice(0, 3)));
    const replayed = replays.reduce((n, r) => n + r.replayed, 0);
    assert.ok(replays.every((r) => (r.snapshot && r.replayed === 0) || (!r.snapshot && r.replayed === 200)), JSON.stringify(replays));
    assert.ok(replayed >= 200 && replayed <= 500, `${replayed} events replayed to one user with a budget of 500`);
    assert.ok(refused.length > 0, 'no resume was refused once the budget was spent');
    await waitUntil(() => received[0]!.length + received[1]!.length === replayed && snapshots[0]!.length + snapshots[1]!.length === replays.filter((r) => r.snapshot).length);
    // Another user's budget is their own.
    const other = await socketFrom(server().url, server().token(newUserId()), '192.0.2.63');
    assert.equal((await call(other, 'subscribe', { room: `parking_lot:${lot}`, last_seq: 0 })).data.replay.replayed, 200);
    for (const s of [...sockets, other]) s.close();
  });

  it("an admin refreshed to a user token leaves the other users' rooms it had joined", async () => {
    const victim = newUserId();
    const me = newUserId();
    const { socket, connected } = await connect(server().url, server().token(me, 'admin'));
    assert.equal((await call(socket, 'subscribe', { room: `user:${victim}` })).ok, true);
    const inRoom = async (room: string) => (await server().app.io.in(room).fetchSockets()).some((s) => s.id === connected.socket_id);
    assert.equal(await inRoom(`user:${victim}`), true);
    assert.equal((await call(socket, 'refresh_token', { token: server().token(me, 'user') })).ok, true);
    assert.equal(await inRoom(`user:${victim}`), false);
    assert.equal(await inRoom('admin'), false);
    assert.equal(await inRoom(`user:${me}`), true, 'its own room stays');
  });
});

async function connectVia(url: string, token: string, headers: Record<string, string>): Promise<string> {
  const socket = io(url, { auth: { token }, extraHeaders: headers, transports: ['websocket'], reconnection: false, forceNew: true });
  const id = await new Promise<string>((resolve, reject) => {
    socket.once('connected', (c: { socket_id: string }) => resolve(c.socket_id));
    socket.once('connect_error', reject);
  });
  socket.close();
  return id;
}

async function socketFrom(url: string, token: string, ip: string): Promise<Socket> {
  const socket = io(url, { auth: { token }, extraHeaders: { 'x-forwarded-for': ip }, transports: ['websocket'], reconnection: false, forceNew: true });
  await new Promise((resolve, reject) => {
    socket.once('connected', resolve);
    socket.once('connect_error', reject);
  });
  return socket;
}

/**
 * The connection edge under floods that the event rate limits never see: Engine.IO sessions that
 * never authenticate (refused per address before a session exists, capped per node, closed after
 * SOCKET_CONNECT_TIMEOUT_MS), and one user holding many sockets (SOCKET_MAX_PER_USER). Every
 * assertion reads the server's own accounting: its session count, its metrics, its answers.
 */
import assert from 'node:assert/strict';
import { io, type Socket } from 'socket.io-client';
import { call, closeAll, connect, newUserId } from './helpers/clients.js';
import { metricValue } from './helpers/metric.js';
import { PollingSession, pollingHandshake } from './helpers/raw-engine.js';
import { startTestServer, type TestServer } from './helpers/server.js';
import { waitUntil } from './helpers/measure.js';

const via = (ip: string) => ({ 'x-forwarded-for': ip });
const sessions = (server: TestServer) => server.app.io.engine.clientsCount;
const opened: Socket[] = [];

/** A socket.io-client from `ip` (X-Forwarded-For from loopback is trusted by default): its greeting, or its connect_error. */
function attempt(server: TestServer, token: string, opts: { ip?: string; transports?: ('polling' | 'websocket')[] } = {}): Promise<{ connected?: any; error?: Error & { data?: any } }> {
  const socket = io(server.url, {
    auth: { token },
    transports: opts.transports ?? ['websocket'],
    reconnection: false,
    forceNew: true,
    ...(opts.ip ? { extraHeaders: via(opts.ip) } : {}),
  });
  opened.push(socket);
  return new Promise((resolve) => {
    socket.once('connected', (connected) => resolve({ connected }));
    socket.once('connect_error', (error) => {
      socket.close();
      resolve({ error });
    });
  });
}

function closeOpened(): void {
  for (const s of opened.splice(0)) s.close();
  closeAll();
}

describe('connection limits: handshakes, unauthenticated sessions, sockets per user', function () {
  this.timeout(30_000);
  afterEach(closeOpened);

  describe('handshakes per address (RATE_LIMIT_CONNECTIONS 10/60)', () => {
    let server: TestServer;
    before(async () => {
      server = await startTestServer({ RATE_LIMIT_CONNECTIONS: '10/60' });
    });
    after(() => server.stop());

    it('makes sessions for twice the budget, refuses the rest before any session exists, and still lets another address in', async () => {
      const token = server.token(newUserId());
      const before = sessions(server);
      const answers = [];
      for (let i = 0; i < 60; i++) answers.push(await pollingHandshake(server.url, via('203.0.113.50')));

      const accepted = answers.filter((a) => a.status === 200);
      const refused = answers.filter((a) => a.status !== 200);
      assert.equal(accepted.length, 20, `accepted ${accepted.length} of 60`);
      assert.deepEqual(
        answers.map((a) => a.status),
        [...Array(20).fill(200), ...Array(40).fill(403)],
        'the first 20 in, every later one refused',
      );
      for (const r of refused) {
        assert.match(JSON.parse(r.body).message, /^RATE_LIMITED: too many connection attempts/, r.body);
        assert.match(r.retryAfter ?? '(none)', /^\d+$/);
      }
      assert.equal(sessions(server) - before, 20, 'sessions the flood made');
      assert.equal(await metricValue(server.app, 'spotcast_connections_refused_total', { reason: 'RATE_LIMITED' }), 40);

      // Within the budget, a session authenticates; past it (but within twice it), its connect packet
      // is refused with the connect_error a client can read.
      const first = PollingSession.of(server.url, accepted[0]!.sid!);
      assert.equal(await first.authenticate(token), 200);
      assert.match((await first.poll()).packets.join('\n'), /^40\{"sid"/m);
      const late = PollingSession.of(server.url, accepted[15]!.sid!);
      assert.equal(await late.authenticate(token), 200);
      const answer = (await late.poll()).packets.join('\n');
      assert.match(answer, /^44\{"message":"Rate limited","data":\{"code":"RATE_LIMITED"/, answer);
      assert.equal(await metricValue(server.app, 'spotcast_connections_refused_total', { reason: 'RATE_LIMITED' }), 41);

      const other = await attempt(server, token, { ip: '198.51.100.20' });
      assert.ok(other.connected, `a client from another address was refused: ${other.error?.message} ${JSON.stringify(other.error?.data)}`);
      const flooder = await attempt(server, token, { ip: '203.0.113.50' });
      assert.ok(flooder.error, 'the flooding address got in');
    });
  });

  describe('sessions that never authenticate (SOCKET_CONNECT_TIMEOUT_MS 300)', () => {
    let server: TestServer;
    before(async () => {
      server = await startTestServer({ SOCKET_CONNECT_TIMEOUT_MS: '300' });
    });
    after(() => server.stop());

    it('are closed after the connect timeout, while an authenticated socket stays', async () => {
      const { socket } = await connect(server.url, server.token(newUserId()));
      const before = sessions(server);
      const idle = [];
      for (let i = 0; i < 5; i++) idle.push(await PollingSession.open(server.url));
      assert.equal(sessions(server), before + 5);
      await waitUntil(() => sessions(server) === before, 10_000, 'the idle sessions to be closed');
      const gone = await idle[0]!.poll();
      assert.equal(gone.status, 400);
      assert.equal(JSON.parse(gone.packets[0]!).message, 'Session ID unknown');
      assert.equal((await call(socket, 'get_parking_availability', {})).ok, true, 'the authenticated socket was closed too');
    });
  });

  describe('unauthenticated sessions per node (SOCKET_MAX_UNAUTHENTICATED 10)', () => {
    let server: TestServer;
    before(async () => {
      server = await startTestServer({ SOCKET_MAX_UNAUTHENTICATED: '10', SOCKET_CONNECT_TIMEOUT_MS: '60000' });
    });
    after(() => server.stop());

    it('holds at most 10 whatever their addresses, the oldest closed to make room, so that an ordinary client still gets in; authenticated sockets do not count', async () => {
      for (let i = 0; i < 3; i++) await connect(server.url, server.token(newUserId()));
      const answers = [];
      for (let i = 0; i < 15; i++) answers.push(await pollingHandshake(server.url, via(`203.0.113.${100 + i}`)));
      assert.deepEqual(answers.map((a) => a.status), Array(15).fill(200));
      assert.equal(sessions(server), 13, '3 sockets and 10 sessions waiting');
      assert.equal(await metricValue(server.app, 'spotcast_connections_refused_total', { reason: 'SERVER_BUSY' }), 5);
      // The five oldest are gone; the ten newest wait.
      const open = (server.app.io.engine as unknown as { clients: Record<string, unknown> }).clients;
      assert.deepEqual(answers.map((a) => a.sid! in open), [...Array(5).fill(false), ...Array(10).fill(true)]);
      for (const a of answers.slice(0, 5)) assert.equal((await PollingSession.of(server.url, a.sid!).poll()).status, 400);

      // An ordinary client from yet another address, while the cap is full: the oldest waiting session makes room.
      const ordinary = await attempt(server, server.token(newUserId()), { ip: '198.51.100.30', transports: ['polling', 'websocket'] });
      assert.ok(ordinary.connected, `refused: ${ordinary.error?.message}`);
      assert.equal(await metricValue(server.app, 'spotcast_connections_refused_total', { reason: 'SERVER_BUSY' }), 6);
      assert.equal(sessions(server), 13, '4 sockets and 9 sessions waiting');
    });
  });

  describe('sockets per user (SOCKET_MAX_PER_USER 3)', () => {
    let server: TestServer;
    before(async () => {
      server = await startTestServer({ SOCKET_MAX_PER_USER: '3' });
    });
    after(() => server.stop());

    it('refuses a fourth socket of one user with TOO_MANY_CONNECTIONS (not an authentication error), on either transport, and admits it once one closes', async () => {
      const userId = newUserId();
      const token = server.token(userId);
      const held = [];
      for (let i = 0; i < 3; i++) held.push(await attempt(server, token));
      assert.ok(held.every((h) => h.connected));
      for (const transports of [['websocket'], ['polling']] as const) {
        const fourth = await attempt(server, token, { transports: [...transports] });
        assert.equal(fourth.error?.message, 'Too many connections', `${transports[0]}: ${fourth.error?.message}`);
        assert.equal(fourth.error?.data?.code, 'TOO_MANY_CONNECTIONS');
        assert.equal(fourth.error?.data?.limit, 3);
      }
      assert.equal(await metricValue(server.app, 'spotcast_connections_refused_total', { reason: 'TOO_MANY_CONNECTIONS' }), 2);

      const other = await attempt(server, server.token(newUserId()));
      assert.ok(other.connected, 'another user was refused');
      const mine = () => [...server.app.io.of('/').sockets.values()].filter((s) => s.data.principal.userId === userId).length;
      opened[0]!.close();
      await waitUntil(() => mine() === 2, 5000, 'the closed socket to be gone');
      const again = await attempt(server, token);
      assert.ok(again.connected, `refused after one closed: ${again.error?.message}`);
      assert.equal(mine(), 3);
    });

    it('frees the place of a socket the server disconnects, too', async () => {
      const userId = newUserId();
      const token = server.token(userId);
      const sockets: Socket[] = [];
      for (let i = 0; i < 3; i++) sockets.push((await connect(server.url, token)).socket);
      const gone = new Promise((resolve) => sockets[0]!.once('disconnect', resolve));
      for (const s of server.app.io.of('/').sockets.values()) if (s.data.principal.userId === userId) { s.disconnect(true); break; }
      await gone;
      assert.ok((await attempt(server, token)).connected);
    });
  });
});

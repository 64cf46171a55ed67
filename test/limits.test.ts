/**
 * Guarantee 6, second half: a flood from one client is rate limited without hurting others.
 * Socket events (per socket and per user), bookings (per user), HTTP requests (per user) and
 * connection attempts (per IP), each with the documented refusal; and, with Redis, one user's
 * budget shared by every node.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { Redis } from 'ioredis';
import { io } from 'socket.io-client';
import { call, closeAll, connect, newUserId, refusal, type Client } from './helpers/clients.js';
import { uniqueName } from './helpers/env.js';
import { createLot } from './helpers/fixtures.js';
import { requireRedis } from './helpers/global-setup.js';
import { pollingHandshake } from './helpers/raw-engine.js';
import { request } from './helpers/http.js';
import { sleep, waitUntil } from './helpers/measure.js';
import { startTestServer, type TestServer } from './helpers/server.js';

const LOW_LIMITS = {
  RATE_LIMIT_SOCKET_EVENTS: '20/1',
  RATE_LIMIT_USER_EVENTS: '40/1',
  RATE_LIMIT_BOOKINGS: '3/60',
  RATE_LIMIT_HTTP: '10/10',
  // Generous here: this suite opens a few dozen sockets; the per-IP limit has its own server below.
  RATE_LIMIT_CONNECTIONS: '1000/10',
  RATE_LIMIT_DISCONNECT_AFTER: '50',
};

interface FloodResult {
  answers: any[];
  reason: string;
  errorsBefore: any[];
}

const FLOOD_SCRIPT = `
import { io } from 'socket.io-client';
const { url, lot, tokens, burst } = JSON.parse(process.env.FLOOD);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const results = await Promise.all(tokens.map(async (token, i) => {
  await sleep(i * 150);
  const socket = io(url, { auth: { token }, transports: ['websocket'], reconnection: false, forceNew: true });
  await new Promise((resolve, reject) => { socket.once('connected', resolve); socket.once('connect_error', reject); });
  const errors = [];
  socket.on('error', (e) => errors.push(e));
  const disconnected = new Promise((resolve) => socket.once('disconnect', (reason) => resolve({ reason, errorsBefore: [...errors] })));
  const answers = Array.from({ length: burst }, () => ({ unanswered: true }));
  for (let k = 0; k < burst; k++) socket.emit('get_parking_availability', { parking_lot_id: lot }, (res) => (answers[k] = res));
  const end = await Promise.race([disconnected, sleep(10000).then(() => ({ reason: 'still connected after 10 s', errorsBefore: [...errors] }))]);
  await sleep(200); // answers already on the wire when the disconnect came
  socket.close();
  return { answers, ...end };
}));
process.stdout.write(JSON.stringify(results), () => process.exit(0));
`;

/** Runs the flooding clients in a child process; resolves with what each of them saw. */
function flood(url: string, lot: string, tokens: string[], burst: number): Promise<FloodResult[]> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--input-type=module', '-e', FLOOD_SCRIPT], {
      env: { ...process.env, FLOOD: JSON.stringify({ url, lot, tokens, burst }) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr.on('data', (c: Buffer) => (err += c.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 40_000);
    child.once('exit', (code) => {
      clearTimeout(timer);
      if (code !== 0) return reject(new Error(`flood process exited with ${code}: ${err}`));
      try {
        resolve(JSON.parse(out) as FloodResult[]);
      } catch (e) {
        reject(new Error(`flood process printed no JSON: ${String(e)} ${out.slice(0, 500)} ${err}`));
      }
    });
  });
}

function summary(ms: number[]): string {
  if (ms.length === 0) return 'no samples';
  const s = [...ms].sort((a, b) => a - b);
  const at = (q: number) => s[Math.min(s.length - 1, Math.floor(q * s.length))]!.toFixed(1);
  return `n=${s.length} median=${at(0.5)} ms p95=${at(0.95)} ms max=${s[s.length - 1]!.toFixed(1)} ms`;
}

function assertRateLimited(answer: any, what: string): void {
  assert.equal(answer?.ok, false, `${what}: ${JSON.stringify(answer)}`);
  assert.equal(answer.error.code, 'RATE_LIMITED', `${what}: ${JSON.stringify(answer)}`);
  assert.equal(typeof answer.error.message, 'string');
  assert.equal(typeof answer.error.details?.retry_after_ms, 'number', `${what}: no details.retry_after_ms in ${JSON.stringify(answer)}`);
  assert.ok(answer.error.details.retry_after_ms > 0, `${what}: retry_after_ms ${answer.error.details.retry_after_ms}`);
}

describe('rate limits', function () {
  this.timeout(60_000);

  describe('one node with low limits', () => {
    let server: TestServer;
    before(async () => {
      server = await startTestServer(LOW_LIMITS);
    });
    after(() => server.stop());
    afterEach(async () => {
      closeAll();
      await waitUntil(() => server.app.io.of('/').sockets.size === 0);
    });

    it('refuses flooding clients with RATE_LIMITED and then disconnects them, while a well-behaved client on the same node gets every answer', async () => {
      const lot = await createLot(server.db);
      const { socket: good } = await connect(server.url, server.token(newUserId()));

      // The well-behaved client: one request about every 100 ms, before, during and after the flood.
      type Phase = 'before' | 'flood' | 'after' | 'stop';
      let phase = 'before' as Phase;
      const samples: { phase: Phase; ms: number; answer: any }[] = [];
      const ticker = (async () => {
        for (let i = 0; i < 400 && phase !== 'stop'; i++) {
          const now = phase;
          const started = performance.now();
          const answer = await call(good, 'get_parking_availability', { parking_lot_id: lot }).catch((err: unknown) => ({ noAnswer: String(err) }));
          samples.push({ phase: now, ms: performance.now() - started, answer });
          await sleep(100);
        }
      })();
      await waitUntil(() => samples.length >= 10, 10_000, 'ten answers before the flood');

      // Flooders: each a user of its own, each sending hundreds of events at once, staggered so
      // that the flood lasts long enough for the good client to ask several times during it. They
      // run in a process of their own, as real clients would: the good client's latency then
      // measures the server, not the flooders' own client-side work in this process.
      const FLOODERS = 8;
      const BURST = 300;
      phase = 'flood';
      const flooders = await flood(server.url, lot, Array.from({ length: FLOODERS }, () => server.token(newUserId())), BURST);
      phase = 'after';
      const afterStart = samples.length;
      await waitUntil(() => samples.length >= afterStart + 5, 10_000, 'answers after the flood');
      phase = 'stop';
      await ticker;

      for (const [i, f] of flooders.entries()) {
        const ok = f.answers.filter((a: any) => a?.ok === true).length;
        const limited = f.answers.filter((a: any) => a?.error?.code === 'RATE_LIMITED');
        const other = f.answers.filter((a: any) => a?.ok !== true && a?.error?.code !== 'RATE_LIMITED' && !a?.unanswered);
        // (Events it had in flight when it was disconnected stay unanswered: it flooded, it lost them.)
        assert.ok(ok < BURST, `flooder ${i}: all ${BURST} answered ok`);
        assert.ok(limited.length >= 1, `flooder ${i}: no RATE_LIMITED answer`);
        // Disconnected after RATE_LIMIT_DISCONNECT_AFTER refusals: it never hears more than that.
        assert.ok(limited.length <= 50, `flooder ${i}: ${limited.length} refusals answered before the disconnect`);
        for (const a of limited) assertRateLimited(a, `flooder ${i}`);
        assert.deepEqual(other, [], `flooder ${i}: unexpected answers`);
        assert.equal(f.reason, 'io server disconnect', `flooder ${i}: disconnected by ${f.reason}`);
        const told = f.errorsBefore.find((e) => e?.code === 'RATE_LIMITED');
        assert.ok(told, `flooder ${i}: no error event RATE_LIMITED before the disconnect (got ${JSON.stringify(f.errorsBefore)})`);
        assert.equal(typeof told.message, 'string');
      }

      const refused = samples.filter((s) => s.answer?.ok !== true);
      assert.deepEqual(refused, [], 'the well-behaved client was refused or not answered');
      const during = samples.filter((s) => s.phase === 'flood');
      assert.ok(during.length >= 3, `only ${during.length} requests of the good client fell inside the flood`);
      console.log(`      good client latency before the flood: ${summary(samples.filter((s) => s.phase === 'before').map((s) => s.ms))}`);
      console.log(`      good client latency during the flood: ${summary(during.map((s) => s.ms))}`);
      console.log(`      good client latency after the flood:  ${summary(samples.filter((s) => s.phase === 'after').map((s) => s.ms))}`);
      console.log(
        `      flood: ${FLOODERS} clients × ${BURST} events; ok/RATE_LIMITED/unanswered per flooder: ${flooders
          .map((f) => [f.answers.filter((a: any) => a?.ok).length, f.answers.filter((a: any) => a?.error?.code === 'RATE_LIMITED').length, f.answers.filter((a: any) => a?.unanswered).length].join('/'))
          .join(' ')}`,
      );
    });

    it('limits a flood of unknown event names like any other flood (refused, then disconnected)', async () => {
      // Unknown events reach no handler of their own: they must still cost rate-limit points.
      const { socket } = await connect(server.url, server.token(newUserId()));
      const gone = new Promise<string>((resolve) => socket.once('disconnect', resolve));
      const errors: any[] = [];
      socket.on('error', (e) => errors.push(e));
      for (let i = 0; i < 500; i++) socket.emit('no_such_event', { i, pad: 'x'.repeat(1000) });
      const outcome = await Promise.race([gone, sleep(5000).then(() => 'still connected 5 s after 500 unknown events')]);
      assert.equal(outcome, 'io server disconnect', `${outcome}; error events: ${errors.length}`);
      assert.ok(errors.some((e) => e?.code === 'RATE_LIMITED'), JSON.stringify(errors.slice(0, 3)));
    });

    it('lets a disconnected flooder reconnect and be served once its window has passed', async () => {
      const lot = await createLot(server.db);
      const token = server.token(newUserId());
      const { socket } = await connect(server.url, token);
      const gone = new Promise((resolve) => socket.once('disconnect', resolve));
      for (let i = 0; i < 200; i++) socket.emit('get_parking_availability', { parking_lot_id: lot });
      await gone;
      const again = await connect(server.url, token);
      await sleep(1100); // the 1 s windows of the socket and the user
      const res = await call(again.socket, 'get_parking_availability', { parking_lot_id: lot });
      assert.equal(res.ok, true, JSON.stringify(res));
    });

    it('refuses a fourth booking within a minute with RATE_LIMITED over the socket and REST, while another user still books', async () => {
      const lot = await createLot(server.db, { total: 20 });
      const userId = newUserId();
      const token = server.token(userId);
      const { socket } = await connect(server.url, token);
      for (let i = 0; i < 3; i++) {
        const res = await call(socket, 'create_booking', { parking_lot_id: lot, duration_minutes: 30 });
        assert.equal(res.ok, true, `booking ${i + 1}: ${JSON.stringify(res)}`);
      }
      assertRateLimited(await call(socket, 'create_booking', { parking_lot_id: lot, duration_minutes: 30 }), 'fourth booking (socket)');
      const rest = await request(server, 'POST', '/bookings', { token, body: { parking_lot_id: lot, duration_minutes: 30 } });
      assert.equal(rest.status, 429, JSON.stringify(rest.body));
      assertRateLimited(rest.body, 'fourth booking (REST)');

      const other = await connect(server.url, server.token(newUserId()));
      const res = await call(other.socket, 'create_booking', { parking_lot_id: lot, duration_minutes: 30 });
      assert.equal(res.ok, true, JSON.stringify(res));

      const { rows } = await server.db.asSystem((tx) => tx.query('select count(*)::int as n from public.bookings where user_id = $1', [userId]));
      assert.equal(rows[0].n, 3);
      // Reads are not bookings: the limited user can still look.
      assert.equal((await call(socket, 'get_parking_availability', { parking_lot_id: lot })).ok, true);
    });

    it('answers a refused REST booking with a Retry-After header, like every other 429', async () => {
      const lot = await createLot(server.db, { total: 20 });
      const token = server.token(newUserId());
      for (let i = 0; i < 3; i++) {
        const res = await request(server, 'POST', '/bookings', { token, body: { parking_lot_id: lot, duration_minutes: 30 } });
        assert.equal(res.status, 201, JSON.stringify(res.body));
      }
      const res = await request(server, 'POST', '/bookings', { token, body: { parking_lot_id: lot, duration_minutes: 30 } });
      assert.equal(res.status, 429);
      assert.match(res.headers.get('retry-after') ?? '(none)', /^\d+$/, 'a 429 without Retry-After');
    });

    it('answers HTTP requests beyond the per-user limit with 429, Retry-After and RATE_LIMITED; another user and the health checks are unaffected', async () => {
      const token = server.token(newUserId());
      for (let i = 0; i < 10; i++) {
        const res = await request(server, 'GET', '/realtime/parking-availability', { token });
        assert.equal(res.status, 200, `request ${i + 1}: ${JSON.stringify(res.body)}`);
      }
      const res = await request(server, 'GET', '/realtime/parking-availability', { token });
      assert.equal(res.status, 429, JSON.stringify(res.body));
      const retryAfter = res.headers.get('retry-after');
      assert.match(retryAfter ?? '(none)', /^\d+$/);
      assert.ok(Number(retryAfter) >= 1 && Number(retryAfter) <= 10, `Retry-After ${retryAfter}`);
      assert.match(res.headers.get('content-type') ?? '', /application\/json/);
      assertRateLimited(res.body, '11th request');

      const other = await request(server, 'GET', '/realtime/parking-availability', { token: server.token(newUserId()) });
      assert.equal(other.status, 200, JSON.stringify(other.body));
      assert.equal((await request(server, 'GET', '/health/live')).status, 200);
      // The limited user's sockets are a separate budget.
      const { socket } = await connect(server.url, token);
      assert.equal((await call(socket, 'get_parking_availability', {})).ok, true);
    });
  });

  describe('connection attempts per IP', () => {
    let server: TestServer;
    before(async () => {
      server = await startTestServer({ ...LOW_LIMITS, RATE_LIMIT_CONNECTIONS: '5/60' });
    });
    after(() => server.stop());
    afterEach(() => closeAll());

    it('refuses attempts beyond the limit with connect_error RATE_LIMITED; connected clients keep working', async () => {
      const sockets: Client[] = [];
      for (let i = 0; i < 5; i++) sockets.push((await connect(server.url, server.token(newUserId()))).socket);
      const err = await refusal(server.url, server.token(newUserId()));
      assert.equal(err.data?.code, 'RATE_LIMITED', `${err.message} ${JSON.stringify(err.data)}`);
      assert.equal(typeof err.data.message, 'string');
      assert.ok(err.data.retry_after_ms > 0, JSON.stringify(err.data));
      // Refused before any token work: a forged token gets the same answer, not an auth error.
      const forged = await refusal(server.url, 'not-a-token');
      assert.equal(forged.data?.code, 'RATE_LIMITED');
      for (const s of sockets) assert.equal((await call(s, 'get_parking_availability', {})).ok, true);
      // HTTP is a different budget.
      assert.equal((await request(server, 'GET', '/realtime/parking-availability', { token: server.token(newUserId()) })).status, 200);
    });

    it('refuses a burst of raw handshakes from one address past twice the limit before any session is made, also when they arrive at once', async () => {
      // 100 Engine.IO handshakes in parallel, none of which will ever authenticate.
      const before = server.app.io.engine.clientsCount;
      const answers = await Promise.all(Array.from({ length: 100 }, () => pollingHandshake(server.url, { 'x-forwarded-for': '203.0.113.77' })));
      const statuses = answers.map((a) => a.status);
      assert.equal(statuses.filter((s) => s === 200).length, 10, JSON.stringify(statuses));
      assert.equal(statuses.filter((s) => s === 403).length, 90);
      assert.equal(server.app.io.engine.clientsCount - before, 10, 'sessions made for the burst');
      // A client from another address behind the same balancer is not affected.
      const socket = io(server.url, { auth: { token: server.token(newUserId()) }, extraHeaders: { 'x-forwarded-for': '198.51.100.77' }, transports: ['websocket'], reconnection: false, forceNew: true });
      try {
        await new Promise((resolve, reject) => (socket.once('connected', resolve), socket.once('connect_error', reject)));
      } finally {
        socket.close();
      }
    });
  });

  describe('across nodes sharing one Redis', () => {
    const servers: TestServer[] = [];
    const clients: Redis[] = [];
    let prefix = '';
    afterEach(async () => {
      closeAll();
      await Promise.all(servers.splice(0).map((s) => s.stop()));
      if (clients[0] && prefix) {
        const keys = await clients[0].keys(`${prefix}:*`);
        if (keys.length) await clients[0].del(...keys);
      }
      await Promise.all(clients.splice(0).map((c) => c.quit()));
    });

    it("limits a user's sockets on both nodes together by RATE_LIMIT_USER_EVENTS", async function () {
      const url = requireRedis(this);
      prefix = uniqueName('rl_test');
      // A long window, so that the count does not depend on how fast the requests go.
      const env = { JOBS_PREFIX: prefix, RATE_LIMIT_SOCKET_EVENTS: '1000/60', RATE_LIMIT_USER_EVENTS: '20/60', RATE_LIMIT_DISCONNECT_AFTER: '1000' };
      for (let i = 0; i < 2; i++) {
        const redis = new Redis(url, { maxRetriesPerRequest: 1 });
        clients.push(redis);
        await redis.ping(); // ready before the limiter needs it (else it falls back to memory)
        servers.push(await startTestServer({ ...env, NODE_ID: `limits-node-${i}` }, { redis }));
      }
      const [a, b] = servers as [TestServer, TestServer];
      const lot = await createLot(a.db);
      const userId = newUserId();
      const onA = (await connect(a.url, a.token(userId))).socket;
      const onB = (await connect(b.url, b.token(userId))).socket;

      const answers: { node: string; res: any }[] = [];
      for (let i = 0; i < 15; i++) answers.push({ node: 'a', res: await call(onA, 'get_parking_availability', { parking_lot_id: lot }) });
      for (let i = 0; i < 15; i++) answers.push({ node: 'b', res: await call(onB, 'get_parking_availability', { parking_lot_id: lot }) });
      const okA = answers.filter((x) => x.node === 'a' && x.res.ok).length;
      const okB = answers.filter((x) => x.node === 'b' && x.res.ok).length;
      assert.equal(okA, 15, JSON.stringify(answers.filter((x) => x.node === 'a' && !x.res.ok)));
      assert.equal(okB, 5, `node b served ${okB} of the user's events after node a served 15 (limit 20 for both together)`);
      for (const x of answers.filter((y) => !y.res.ok)) assertRateLimited(x.res, `node ${x.node}`);

      // Another user on node b has a budget of their own.
      const other = (await connect(b.url, b.token(newUserId()))).socket;
      assert.equal((await call(other, 'get_parking_availability', { parking_lot_id: lot })).ok, true);
      // The budget lives in the shared Redis, under the deployment's prefix.
      const keys = await clients[0]!.keys(`${prefix}:rl:user_event*`);
      assert.ok(keys.some((k) => k.includes(userId)), `no Redis key for the user under ${prefix}:rl:user_event (found ${keys.join(', ')})`);
    });
  });
});

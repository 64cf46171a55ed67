/**
 * The metrics an operator needs beyond traffic counts: the request pool's saturation, how long a
 * committed event takes to reach its rooms, replays and snapshots served to reconnecting
 * clients, Redis errors, token-expiry disconnects, readiness and the build. Each is read from a
 * real server's GET /metrics and moves when the real thing happens.
 */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pino } from 'pino';
import type pg from 'pg';
import { ConfigError, loadConfig } from '../server/config.js';
import { createRedisClients } from '../server/platform/redis.js';
import { call, closeAll, connect, newUserId, nextEvent } from './helpers/clients.js';
import { freePort } from './helpers/env.js';
import { createLot } from './helpers/fixtures.js';
import { scrapeOf, series, value, type Scrape } from './helpers/prometheus.js';
import { startTestServer, TEST_SECRET, type TestServer } from './helpers/server.js';
import { waitUntil } from './helpers/measure.js';
import { request } from './helpers/http.js';

const NEW_METRICS: Record<string, 'gauge' | 'counter' | 'histogram'> = {
  spotcast_db_pool_connections: 'gauge',
  spotcast_delivery_latency_seconds: 'histogram',
  spotcast_replays_total: 'counter',
  spotcast_replayed_events_total: 'counter',
  spotcast_redis_errors_total: 'counter',
  spotcast_token_expiry_disconnects_total: 'counter',
  spotcast_readiness: 'gauge',
  spotcast_build_info: 'gauge',
};

describe('operations metrics', function () {
  this.timeout(60_000);
  const NODE_ID = 'ops-metrics-node';
  let server: TestServer;
  const scrape = () => scrapeOf(server);
  const delta = (before: Scrape, after: Scrape, name: string, labels: Record<string, string> = {}) => value(after, name, labels) - value(before, name, labels);
  const admin = () => server.token(newUserId(), 'admin');
  const setAvailability = async (lot: string, available: number) => {
    const res = await request(server, 'PUT', `/realtime/parking-lots/${lot}/availability`, { token: admin(), body: { available_spaces: available } });
    assert.equal(res.status, 200, JSON.stringify(res.body));
  };

  before(async () => {
    server = await startTestServer({ NODE_ID, BUILD_COMMIT: 'abc1234', OUTBOX_SWEEP_INTERVAL_MS: '60000', HEALTH_CACHE_MS: '0' });
  });
  after(async () => {
    closeAll();
    await server.stop();
  });
  afterEach(() => closeAll());

  it('declares each of them with its type and help, labelled with the node', async () => {
    const s = await scrape();
    for (const [name, type] of Object.entries(NEW_METRICS)) {
      assert.equal(s.types.get(name), type, `# TYPE ${name}`);
      assert.ok(s.help.get(name), `# HELP ${name}`);
    }
    for (const name of ['spotcast_replays_total', 'spotcast_build_info', 'spotcast_readiness', 'spotcast_db_pool_connections']) {
      assert.ok(series(s, name).length > 0, `${name} has series from the start`);
      for (const x of series(s, name)) assert.equal(x.labels.node, NODE_ID);
    }
  });

  it('spotcast_build_info is 1 with the package version and BUILD_COMMIT', async () => {
    const { version } = (await import('../package.json', { with: { type: 'json' } })).default;
    assert.deepEqual(series(await scrape(), 'spotcast_build_info'), [{ name: 'spotcast_build_info', labels: { version, commit: 'abc1234', node: NODE_ID }, value: 1 }]);
  });

  it('spotcast_db_pool_connections{state} reads the request pool: total, idle, and callers waiting for a connection', async () => {
    const pool = server.db.pool;
    const max = pool.options.max;
    const held: pg.PoolClient[] = [];
    for (let i = 0; i < max; i++) held.push(await pool.connect());
    const waiting = pool.connect();
    try {
      const s = await scrape();
      assert.equal(value(s, 'spotcast_db_pool_connections', { state: 'total' }), max);
      assert.equal(value(s, 'spotcast_db_pool_connections', { state: 'idle' }), 0);
      assert.equal(value(s, 'spotcast_db_pool_connections', { state: 'waiting' }), 1);
    } finally {
      for (const c of held) c.release();
      (await waiting).release();
    }
    const after = await scrape();
    assert.equal(value(after, 'spotcast_db_pool_connections', { state: 'waiting' }), 0);
    assert.equal(value(after, 'spotcast_db_pool_connections', { state: 'idle' }), value(after, 'spotcast_db_pool_connections', { state: 'total' }));
  });

  it('spotcast_readiness{check} is 1 for each passing check of /health/ready', async () => {
    const s = await scrape();
    assert.deepEqual(
      series(s, 'spotcast_readiness').map((x) => [x.labels.check, x.value]).sort(),
      [['database', 1], ['migrations', 1]],
    );
  });

  it('every emitted event is observed in spotcast_delivery_latency_seconds{event}, from its commit', async () => {
    const lot = await createLot(server.db, { total: 10 });
    const { socket } = await connect(server.url, server.token(newUserId()));
    assert.equal((await call(socket, 'subscribe', { room: `parking_lot:${lot}` })).ok, true);
    const before = await scrape();
    const started = Date.now();
    const arrived = nextEvent(socket, 'parking_updated', (p) => p.parking_lot_id === lot && p.available_spaces === 7);
    await setAvailability(lot, 7);
    await arrived;
    const elapsed = (Date.now() - started) / 1000;
    const after = await scrape();
    const ev = { event: 'parking_updated' };
    assert.equal(delta(before, after, 'spotcast_delivery_latency_seconds_count', ev), delta(before, after, 'spotcast_emitted_events_total', ev));
    assert.ok(delta(before, after, 'spotcast_delivery_latency_seconds_count', ev) >= 1);
    // Committed and emitted within this test's own request: no longer than the test waited.
    assert.ok(delta(before, after, 'spotcast_delivery_latency_seconds_sum', ev) <= elapsed * delta(before, after, 'spotcast_delivery_latency_seconds_count', ev));
  });

  it('an event the sweeper re-delivers a minute after its commit is observed as more than 60 s', async () => {
    const lot = await createLot(server.db, { total: 10 });
    await setAvailability(lot, 9);
    await server.app.dispatcher.flushMarks();
    await server.db.asSystem((tx) =>
      tx.query(
        `update public.event_log set dispatched_at = null, created_at = now() - interval '61 seconds'
          where id = (select max(id) from public.event_log where stream = $1)`,
        [`parking_lot:${lot}`],
      ),
    );
    const before = await scrape();
    assert.ok((await server.app.sweeper.sweep()) >= 1);
    const after = await scrape();
    const ev = { event: 'parking_updated' };
    assert.ok(delta(before, after, 'spotcast_delivery_latency_seconds_count', ev) >= 1);
    assert.ok(delta(before, after, 'spotcast_delivery_latency_seconds_sum', ev) >= 61);
    // Over the largest finite bucket but one: counted in le=+Inf, not in le=60.
    assert.ok(delta(before, after, 'spotcast_delivery_latency_seconds_bucket', { ...ev, le: '+Inf' }) > delta(before, after, 'spotcast_delivery_latency_seconds_bucket', { ...ev, le: '60' }));
  });

  it('a resumed room counts in spotcast_replays_total{outcome} (replayed or snapshot) and its events in spotcast_replayed_events_total', async () => {
    const lot = await createLot(server.db, { total: 10 });
    for (const n of [9, 8, 7]) await setAvailability(lot, n);
    const { socket } = await connect(server.url, server.token(newUserId()));
    const before = await scrape();
    const replayed = await call(socket, 'subscribe', { room: `parking_lot:${lot}`, last_seq: 1 });
    assert.deepEqual(replayed.data.replay, { room: `parking_lot:${lot}`, replayed: 2, snapshot: false, seq: 3 });
    // A client ahead of the log (a reset database) gets a snapshot; a fresh socket, so the replay is not the free repeat of one it was already sent.
    const { socket: other } = await connect(server.url, server.token(newUserId()));
    const ahead = await call(other, 'subscribe', { room: `parking_lot:${lot}`, last_seq: 999 });
    assert.equal(ahead.data.replay.snapshot, true);
    const after = await scrape();
    assert.equal(delta(before, after, 'spotcast_replays_total', { outcome: 'replayed' }), 1);
    assert.equal(delta(before, after, 'spotcast_replays_total', { outcome: 'snapshot' }), 1);
    assert.equal(delta(before, after, 'spotcast_replayed_events_total'), 2);
  });

  it('a socket whose token runs out counts in spotcast_token_expiry_disconnects_total', async () => {
    const before = await scrape();
    const { socket } = await connect(server.url, server.token(newUserId(), 'user', { expiresInSeconds: 2 }));
    const gone = new Promise((resolve) => socket.once('disconnect', resolve));
    assert.equal((await nextEvent(socket, 'error', (e) => e.code === 'TOKEN_EXPIRED', 6000)).code, 'TOKEN_EXPIRED');
    await gone;
    assert.equal(delta(before, await scrape(), 'spotcast_token_expiry_disconnects_total'), 1);
  });

  it('errors of the Redis connections count in spotcast_redis_errors_total{client}', async () => {
    // Nothing listens on this port: every connection attempt of every client fails.
    const redis = createRedisClients(`redis://127.0.0.1:${await freePort()}`, 'spotcast.test', pino({ level: 'silent' }));
    try {
      server.app.metrics.watchRedisErrors({ pub: redis.pub, sub: redis.sub });
      await waitUntil(async () => {
        const s = await scrape();
        return value(s, 'spotcast_redis_errors_total', { client: 'pub' }) >= 1 && value(s, 'spotcast_redis_errors_total', { client: 'sub' }) >= 1;
      }, 10_000, 'Redis errors to be counted for pub and sub');
    } finally {
      redis.pub.disconnect();
      redis.sub.disconnect();
      redis.jobsQueue.disconnect();
      redis.jobsWorker.disconnect();
    }
  });
});

describe('where /metrics is served (METRICS_TOKEN, METRICS_PORT)', function () {
  this.timeout(30_000);

  it('in production, /metrics is refused open on the public port: METRICS_TOKEN (16+ characters) or METRICS_PORT is required', () => {
    const prod = { NODE_ENV: 'production', JWT_SECRET: TEST_SECRET };
    assert.throws(() => loadConfig(prod), (err: Error) => err instanceof ConfigError && /METRICS_TOKEN/.test(err.message) && /METRICS_PORT/.test(err.message));
    assert.throws(() => loadConfig({ ...prod, METRICS_TOKEN: 'too-short' }), /METRICS_TOKEN must be at least 16 characters/);
    assert.throws(() => loadConfig({ ...prod, METRICS_PORT: '5000' }), /METRICS_PORT must differ from PORT/);
    assert.throws(() => loadConfig({ ...prod, METRICS_PORT: 'nine' }), /METRICS_PORT/);
    assert.equal(loadConfig({ ...prod, METRICS_TOKEN: 'a-token-of-16-chars' }).metrics.token, 'a-token-of-16-chars');
    assert.deepEqual(loadConfig({ ...prod, METRICS_PORT: '9464' }).metrics, { token: undefined, port: 9464, host: '0.0.0.0' });
    // Outside production an open /metrics stays the default (development, tests).
    assert.deepEqual(loadConfig({ NODE_ENV: 'development', METRICS_PORT: '' }).metrics, { token: undefined, port: undefined, host: '0.0.0.0' });
  });

  it('with METRICS_PORT, /metrics is served by a listener of its own and not on the public port', async () => {
    const server = await startTestServer({ METRICS_PORT: '0', NODE_ID: 'metrics-port-node' });
    let metricsServer: Server | undefined;
    try {
      assert.equal((await request(server, 'GET', '/metrics')).status, 404);
      assert.ok(server.app.metricsHttp, 'the application hands out a metrics listener');
      metricsServer = createServer(server.app.metricsHttp);
      await new Promise<void>((resolve) => metricsServer!.listen(0, '127.0.0.1', resolve));
      const url = `http://127.0.0.1:${(metricsServer.address() as AddressInfo).port}`;
      const s = await scrapeOf({ url });
      assert.equal(value(s, 'spotcast_build_info', { node: 'metrics-port-node' }), 1);
      const other = await request({ url }, 'GET', '/health/ready');
      assert.equal(other.status, 404, 'nothing but /metrics on the metrics port');
    } finally {
      await new Promise((resolve) => (metricsServer ? metricsServer.close(resolve) : resolve(undefined)));
      await server.stop();
    }
  });
});

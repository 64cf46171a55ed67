/**
 * GET /metrics: Prometheus text with every spotcast metric, each series labelled with the node id,
 * and each one moving when the thing it counts happens. The text is parsed (a small parser of the
 * exposition format), never substring-matched.
 */
import assert from 'node:assert/strict';
import { call, closeAll, connect, newUserId, nextEvent } from './helpers/clients.js';
import { createLot } from './helpers/fixtures.js';
import { scrapeOf, series, value } from './helpers/prometheus.js';
import { startTestServer, type TestServer } from './helpers/server.js';
import { waitUntil } from './helpers/measure.js';
import { request } from './helpers/http.js';

// ---- the metrics every deployment dashboards --------------------------------------------------

const METRICS: Record<string, 'gauge' | 'counter' | 'histogram'> = {
  spotcast_connections: 'gauge',
  spotcast_client_events_total: 'counter',
  spotcast_emitted_events_total: 'counter',
  spotcast_ack_latency_seconds: 'histogram',
  spotcast_booking_attempts_total: 'counter',
  spotcast_outbox_lag_seconds: 'gauge',
  spotcast_outbox_redelivered_total: 'counter',
  spotcast_job_queue_depth: 'gauge',
  spotcast_rate_limited_total: 'counter',
  spotcast_activity_flush_rows: 'histogram',
  spotcast_http_requests_total: 'counter',
};

/** The sample names a metric family shows up as. */
function sampleNames(name: string, type: string): string[] {
  return type === 'histogram' ? [`${name}_bucket`, `${name}_sum`, `${name}_count`] : [name];
}

describe('metrics', function () {
  this.timeout(60_000);
  const NODE_ID = 'metrics-node-1';
  let server: TestServer;
  const scrape = () => scrapeOf(server);

  before(async () => {
    server = await startTestServer({
      NODE_ID,
      RATE_LIMIT_BOOKINGS: '1/60',
      // The test triggers the sweeper and the activity flush itself, so counts are exact.
      OUTBOX_SWEEP_INTERVAL_MS: '60000',
      ACTIVITY_FLUSH_INTERVAL_MS: '60000',
    });
  });
  after(async () => {
    closeAll();
    await server.stop();
  });
  afterEach(async () => {
    closeAll();
    await waitUntil(() => server.app.io.of('/').sockets.size === 0);
  });

  it('serves Prometheus text declaring every spotcast metric with its type, every series labelled with the node id', async () => {
    const s = await scrape();
    for (const [name, type] of Object.entries(METRICS)) {
      assert.equal(s.types.get(name), type, `# TYPE ${name}`);
      assert.ok(s.help.get(name), `# HELP ${name}`);
    }
    assert.ok(s.samples.length > 0);
    for (const sample of s.samples) assert.equal(sample.labels.node, NODE_ID, `${sample.name} ${JSON.stringify(sample.labels)}`);
    // Gauges that always have a value.
    assert.equal(series(s, 'spotcast_outbox_lag_seconds').length, 1);
    assert.equal(series(s, 'spotcast_job_queue_depth').length, 1);
    assert.equal(series(s, 'spotcast_outbox_redelivered_total').length, 1);
  });

  it('spotcast_connections{role} follows the sockets that connect and leave', async () => {
    const before = await scrape();
    const users = value(before, 'spotcast_connections', { role: 'user' });
    const admins = value(before, 'spotcast_connections', { role: 'admin' });
    await Promise.all([0, 1, 2].map(() => connect(server.url, server.token(newUserId()))));
    await connect(server.url, server.token(newUserId(), 'admin'));
    const during = await scrape();
    assert.equal(value(during, 'spotcast_connections', { role: 'user' }), users + 3);
    assert.equal(value(during, 'spotcast_connections', { role: 'admin' }), admins + 1);
    closeAll();
    await waitUntil(() => server.app.io.of('/').sockets.size === 0);
    const after = await scrape();
    assert.equal(value(after, 'spotcast_connections', { role: 'user' }), users);
    assert.equal(value(after, 'spotcast_connections', { role: 'admin' }), admins);
  });

  it('a client event counts in spotcast_client_events_total{event,outcome} and spotcast_ack_latency_seconds', async () => {
    const lot = await createLot(server.db);
    const { socket } = await connect(server.url, server.token(newUserId()));
    const ev = { event: 'get_parking_availability' };
    const before = await scrape();
    assert.equal((await call(socket, 'get_parking_availability', { parking_lot_id: lot })).ok, true);
    assert.equal((await call(socket, 'get_parking_availability', { parking_lot_id: 42 })).error.code, 'VALIDATION_ERROR');
    const after = await scrape();
    assert.equal(value(after, 'spotcast_client_events_total', { ...ev, outcome: 'ok' }), value(before, 'spotcast_client_events_total', { ...ev, outcome: 'ok' }) + 1);
    assert.equal(
      value(after, 'spotcast_client_events_total', { ...ev, outcome: 'VALIDATION_ERROR' }),
      value(before, 'spotcast_client_events_total', { ...ev, outcome: 'VALIDATION_ERROR' }) + 1,
    );
    assert.equal(value(after, 'spotcast_ack_latency_seconds_count', ev), value(before, 'spotcast_ack_latency_seconds_count', ev) + 2);
    assert.ok(value(after, 'spotcast_ack_latency_seconds_sum', ev) > value(before, 'spotcast_ack_latency_seconds_sum', ev));
    // Buckets are cumulative and end in +Inf, which equals the count.
    const buckets = series(after, 'spotcast_ack_latency_seconds_bucket', ev).sort((a, b) => Number(a.labels.le === '+Inf' ? Infinity : a.labels.le) - Number(b.labels.le === '+Inf' ? Infinity : b.labels.le));
    assert.ok(buckets.length > 2);
    for (let i = 1; i < buckets.length; i++) assert.ok(buckets[i]!.value >= buckets[i - 1]!.value, 'buckets are cumulative');
    assert.equal(buckets.at(-1)!.labels.le, '+Inf');
    assert.equal(buckets.at(-1)!.value, value(after, 'spotcast_ack_latency_seconds_count', ev));
  });

  it('bookings count by outcome (created, LOT_FULL), move the emitted-events counter and the job queue; a refused one counts in spotcast_rate_limited_total', async () => {
    const lot = await createLot(server.db, { total: 1 });
    const a = (await connect(server.url, server.token(newUserId()))).socket;
    const b = (await connect(server.url, server.token(newUserId()))).socket;
    const before = await scrape();

    assert.equal((await call(a, 'create_booking', { parking_lot_id: lot, duration_minutes: 30 })).ok, true);
    const full = await call(b, 'create_booking', { parking_lot_id: lot, duration_minutes: 30 });
    assert.equal(full.error?.code, 'LOT_FULL', JSON.stringify(full));
    // RATE_LIMIT_BOOKINGS is 1/60 on this server: b's second attempt in the minute is refused.
    const limited = await call(b, 'create_booking', { parking_lot_id: lot, duration_minutes: 30 });
    assert.equal(limited.error?.code, 'RATE_LIMITED', JSON.stringify(limited));

    const after = await scrape();
    const delta = (name: string, labels: Record<string, string> = {}) => value(after, name, labels) - value(before, name, labels);
    assert.equal(delta('spotcast_booking_attempts_total', { outcome: 'created' }), 1);
    assert.equal(delta('spotcast_booking_attempts_total', { outcome: 'LOT_FULL' }), 1);
    assert.equal(delta('spotcast_rate_limited_total', { scope: 'booking' }), 1);
    assert.equal(delta('spotcast_client_events_total', { event: 'create_booking', outcome: 'RATE_LIMITED' }), 1);
    // The booking's events went out to the rooms.
    assert.ok(delta('spotcast_emitted_events_total', { event: 'booking_updated' }) >= 1);
    assert.ok(delta('spotcast_emitted_events_total', { event: 'parking_updated' }) >= 1);
    // Its hold expiry is waiting in the job queue.
    assert.ok(delta('spotcast_job_queue_depth') >= 1, `job queue depth ${value(before, 'spotcast_job_queue_depth')} → ${value(after, 'spotcast_job_queue_depth')}`);
  });

  it('an event left undispatched shows as outbox lag, and its re-emission by the sweeper counts in spotcast_outbox_redelivered_total', async () => {
    const lot = await createLot(server.db, { total: 5 });
    const put = await request(server, 'PUT', `/realtime/parking-lots/${lot}/availability`, { token: server.token(newUserId(), 'admin'), body: { available_spaces: 4 } });
    assert.equal(put.status, 200, JSON.stringify(put.body));
    const { socket: watcher } = await connect(server.url, server.token(newUserId()));
    assert.equal((await call(watcher, 'subscribe', { room: `parking_lot:${lot}` })).ok, true);
    // The dispatcher's own mark for that event must land before the test undoes it, not after.
    await server.app.dispatcher.flushMarks();

    // As if the node that committed it had died before marking it: undispatched, a minute old.
    const { rows } = await server.db.asSystem((tx) =>
      tx.query<{ id: string }>(
        `update public.event_log set dispatched_at = null, created_at = now() - interval '1 minute'
          where id = (select max(id) from public.event_log where stream = $1) returning id`,
        [`parking_lot:${lot}`],
      ),
    );
    const eventId = Number(rows[0]!.id);
    const before = await scrape();
    assert.ok(value(before, 'spotcast_outbox_lag_seconds') >= 59, `outbox lag ${value(before, 'spotcast_outbox_lag_seconds')}`);

    const redelivered = nextEvent(watcher, 'parking_updated', (p) => p.event_id === eventId);
    const count = await server.app.sweeper.sweep();
    assert.ok(count >= 1);
    assert.equal((await redelivered).parking_lot_id, lot);

    const after = await scrape();
    assert.equal(value(after, 'spotcast_outbox_redelivered_total') - value(before, 'spotcast_outbox_redelivered_total'), count);
    assert.ok(value(after, 'spotcast_outbox_lag_seconds') < 59, `outbox lag after the sweep ${value(after, 'spotcast_outbox_lag_seconds')}`);
  });

  it('an activity-log flush is observed in spotcast_activity_flush_rows', async () => {
    const { socket } = await connect(server.url, server.token(newUserId()));
    assert.equal((await call(socket, 'get_parking_availability', {})).ok, true);
    const pending = server.app.activity.pending;
    assert.ok(pending >= 2, `pending activity rows ${pending}`); // the connection and the event
    const before = await scrape();
    await server.app.activity.flush();
    const after = await scrape();
    assert.equal(value(after, 'spotcast_activity_flush_rows_count') - value(before, 'spotcast_activity_flush_rows_count'), 1);
    assert.ok(value(after, 'spotcast_activity_flush_rows_sum') - value(before, 'spotcast_activity_flush_rows_sum') >= pending);
  });

  it('HTTP requests count in spotcast_http_requests_total{method,route,status}', async () => {
    const token = server.token(newUserId());
    const route = { method: 'GET', route: '/realtime/parking-availability', status: '200' };
    const missing = { method: 'GET', route: 'unmatched', status: '404' };
    const before = await scrape();
    assert.equal((await request(server, 'GET', '/realtime/parking-availability', { token })).status, 200);
    assert.equal((await request(server, 'GET', '/realtime/no-such-route', { token })).status, 404);
    // Counted when the response finishes: poll (bounded) rather than assume it is already done.
    let after = await scrape();
    await waitUntil(async () => {
      after = await scrape();
      return value(after, 'spotcast_http_requests_total', missing) > value(before, 'spotcast_http_requests_total', missing);
    }, 5000, 'the 404 to be counted');
    assert.equal(value(after, 'spotcast_http_requests_total', route) - value(before, 'spotcast_http_requests_total', route), 1);
    assert.equal(value(after, 'spotcast_http_requests_total', missing) - value(before, 'spotcast_http_requests_total', missing), 1);
  });

  it('after all of the above, every spotcast metric has series, each labelled node="<node id>"', async () => {
    const s = await scrape();
    for (const [name, type] of Object.entries(METRICS)) {
      for (const sampleName of sampleNames(name, type)) {
        const found = series(s, sampleName);
        assert.ok(found.length > 0, `no ${sampleName} series`);
        for (const x of found) assert.equal(x.labels.node, NODE_ID, `${sampleName} ${JSON.stringify(x.labels)}`);
      }
    }
  });

  describe('with METRICS_TOKEN and a low socket limit', () => {
    const TOKEN = 'metrics-token-0123456789abcdef';
    let secured: TestServer;
    before(async () => {
      secured = await startTestServer({ NODE_ID: 'metrics-node-2', METRICS_TOKEN: TOKEN, RATE_LIMIT_SOCKET_EVENTS: '3/60' });
    });
    after(async () => {
      closeAll();
      await secured.stop();
    });

    it('refuses /metrics without the bearer token (401) and serves it with the token (200)', async () => {
      const attempts: Record<string, string>[] = [{}, { authorization: 'Bearer wrong' }, { authorization: `Bearer ${TOKEN}x` }, { authorization: TOKEN }, { authorization: `Basic ${TOKEN}` }];
      for (const headers of attempts) {
        const res = await fetch(`${secured.url}/metrics`, { headers });
        const body = (await res.json()) as any;
        assert.equal(res.status, 401, JSON.stringify(headers));
        assert.equal(body.ok, false);
        assert.equal(body.error.code, 'UNAUTHORIZED');
      }
      // A user's JWT is not the metrics token either.
      assert.equal((await request(secured, 'GET', '/metrics', { token: secured.token(newUserId(), 'admin') })).status, 401);
      const s = await scrapeOf(secured, TOKEN);
      for (const sample of s.samples) assert.equal(sample.labels.node, 'metrics-node-2');
    });

    it('counts an event refused by the per-socket limit in spotcast_rate_limited_total{scope="socket_event"}', async () => {
      const before = await scrapeOf(secured, TOKEN);
      const { socket } = await connect(secured.url, secured.token(newUserId()));
      for (let i = 0; i < 3; i++) assert.equal((await call(socket, 'get_parking_availability', {})).ok, true);
      const refused = await call(socket, 'get_parking_availability', {});
      assert.equal(refused.error?.code, 'RATE_LIMITED', JSON.stringify(refused));
      const after = await scrapeOf(secured, TOKEN);
      assert.equal(value(after, 'spotcast_rate_limited_total', { scope: 'socket_event' }) - value(before, 'spotcast_rate_limited_total', { scope: 'socket_event' }), 1);
      assert.equal(
        value(after, 'spotcast_client_events_total', { event: 'get_parking_availability', outcome: 'RATE_LIMITED' }) -
          value(before, 'spotcast_client_events_total', { event: 'get_parking_availability', outcome: 'RATE_LIMITED' }),
        1,
      );
    });
  });
});

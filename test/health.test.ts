/**
 * GET /health/ready is unauthenticated, so what it costs must not grow with how often it is
 * called: one round of checks at a time, an answer reused for HEALTH_CACHE_MS, and the database
 * checked on a connection of its own, never one of the request pool.
 */
import assert from 'node:assert/strict';
import type pg from 'pg';
import { withClient } from './helpers/env.js';
import { testEnv } from './helpers/global-setup.js';
import { startTestServer, type TestServer } from './helpers/server.js';
import { sleep } from './helpers/measure.js';
import { request } from './helpers/http.js';

/** A readiness check of the test's own that counts its rounds and how many ran at once. */
function countingCheck(holdMs: number) {
  const stats = { rounds: 0, running: 0, maxRunning: 0 };
  const check = async () => {
    stats.rounds++;
    stats.running++;
    stats.maxRunning = Math.max(stats.maxRunning, stats.running);
    await sleep(holdMs);
    stats.running--;
    return { round: stats.rounds };
  };
  return { stats, check };
}

const ready = (server: TestServer) => request(server, 'GET', '/health/ready');

describe('GET /health/ready', function () {
  this.timeout(60_000);
  const servers: TestServer[] = [];
  const start = async (env: Record<string, string>, checks: Record<string, () => Promise<unknown>> = {}) => {
    const server = await startTestServer(env, { readinessChecks: checks });
    servers.push(server);
    return server;
  };
  after(async () => {
    await Promise.all(servers.map((s) => s.stop()));
  });

  it('with HEALTH_CACHE_MS=0, 40 requests at once never run two rounds of checks at the same time; each answer names its round', async () => {
    const { stats, check } = countingCheck(50);
    const server = await start({ HEALTH_CACHE_MS: '0' }, { counted: check });
    const answers = await Promise.all(Array.from({ length: 40 }, () => ready(server)));
    for (const a of answers) {
      assert.equal(a.status, 200, JSON.stringify(a.body));
      assert.deepEqual(Object.keys(a.body.data.checks).sort(), ['counted', 'database', 'migrations']);
      assert.equal(a.headers.get('cache-control'), 'no-store');
    }
    assert.equal(stats.maxRunning, 1, 'rounds of checks overlapped');
    // Requests that came while a round ran got that round's answer: as many distinct answers as rounds.
    const rounds = new Set(answers.map((a) => a.body.data.checks.counted.detail.round));
    const stamps = new Set(answers.map((a) => a.body.data.checked_at));
    assert.equal(rounds.size, stats.rounds);
    assert.equal(stamps.size, stats.rounds);
    assert.ok(stats.rounds < 40, `${stats.rounds} rounds for 40 requests`);
  });

  it('an answer is reused for HEALTH_CACHE_MS: 20 more requests within a minute cost no new round', async () => {
    const { stats, check } = countingCheck(0);
    const server = await start({ HEALTH_CACHE_MS: '60000' }, { counted: check });
    const first = await ready(server);
    assert.equal(first.status, 200, JSON.stringify(first.body));
    const again = await Promise.all(Array.from({ length: 20 }, () => ready(server)));
    for (const a of again) assert.deepEqual(a.body, first.body);
    assert.equal(stats.rounds, 1);
  });

  it('an answer older than HEALTH_CACHE_MS is checked again', async () => {
    const { stats, check } = countingCheck(0);
    const server = await start({ HEALTH_CACHE_MS: '200' }, { counted: check });
    const first = await ready(server);
    await sleep(250);
    const later = await ready(server);
    assert.equal(stats.rounds, 2);
    assert.equal(later.body.data.checks.counted.detail.round, 2);
    assert.ok(Date.parse(later.body.data.checked_at) - Date.parse(first.body.data.checked_at) >= 200);
  });

  it('a check that does not answer makes it 503 naming that check, the others still reported', async () => {
    const server = await start({ HEALTH_CACHE_MS: '0' }, { stuck: () => new Promise(() => undefined), broken: () => Promise.reject(new Error('broken on purpose')) });
    const a = await ready(server);
    assert.equal(a.status, 503, JSON.stringify(a.body));
    assert.equal(a.body.ok, false);
    assert.equal(a.body.data.status, 'not_ready');
    assert.deepEqual(a.body.data.checks.stuck, { ok: false, error: 'no answer within 2000 ms' });
    assert.deepEqual(a.body.data.checks.broken, { ok: false, error: 'broken on purpose' });
    assert.equal(a.body.data.checks.database.ok, true);
    assert.equal(a.body.data.checks.migrations.ok, true);
  });

  it('answers 200 while every connection of the request pool is taken: the checks use a connection of their own', async () => {
    const server = await start({ HEALTH_CACHE_MS: '0' });
    const poolMax = server.db.pool.options.max;
    const held: pg.PoolClient[] = [];
    try {
      for (let i = 0; i < poolMax; i++) held.push(await server.db.pool.connect());
      assert.equal(server.db.pool.idleCount, 0);
      const a = await ready(server);
      assert.equal(a.status, 200, JSON.stringify(a.body));
      assert.equal(a.body.data.checks.database.ok, true);
      assert.equal(a.body.data.checks.migrations.detail.current, true);
      // No request was queued behind the pool for it.
      assert.equal(server.db.pool.waitingCount, 0);
      const { rows } = await withClient(testEnv().databaseUrl, (c) =>
        c.query<{ n: number }>(`select count(*)::int as n from pg_stat_activity where datname = current_database() and application_name = 'spotcast-health'`),
      );
      assert.ok(rows[0]!.n >= 1, 'the health-check connection is open in Postgres');
    } finally {
      for (const c of held) c.release();
    }
  });
});

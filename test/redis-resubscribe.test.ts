/**
 * The subscriber's side of a Redis interruption, on one node with the Redis adapter (a Redis of
 * the test's own): what other nodes published while this node's subscription was down never
 * arrives, even though their publishes were confirmed. Once subscribed again, the node re-emits to
 * its own clients what was dispatched since shortly before the interruption, from the log.
 */
import assert from 'node:assert/strict';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { createRedisClients, type RedisClients } from '../server/platform/redis.js';
import { call, closeAll, connect, newUserId, record } from './helpers/clients.js';
import { direct } from './helpers/direct.js';
import { uniqueName } from './helpers/env.js';
import { createLot } from './helpers/fixtures.js';
import { startTestServer, type TestServer } from './helpers/server.js';
import { waitUntil } from './helpers/measure.js';
import { type OwnRedis, ownRedisFor } from './helpers/own-redis.js';

describe('Redis subscription interrupted: the node re-emits to its clients what it may have missed', function () {
  this.timeout(60_000);
  let redis: OwnRedis | undefined;
  let clients: RedisClients | undefined;
  let server: TestServer | undefined;

  before(async function () {
    redis = await ownRedisFor(this, 'Redis resubscription suite');
    clients = createRedisClients(redis.url, uniqueName('spotcast_io'), pino({ level: 'silent' }));
    server = await startTestServer({}, { adapter: clients.adapter, link: clients.link });
  });

  after(async () => {
    closeAll();
    await server?.stop();
    await clients?.close();
    await redis?.kill('SIGKILL');
  });

  /** A parking_updated in the lot's stream as another node would have logged it, dispatched at `dispatchedAgo`. */
  async function loggedElsewhere(lotId: string, action: string, dispatchedAgo: string): Promise<number> {
    return direct(null, async (c) => {
      await c.query(`select set_config('spotcast.node_id', 'node-elsewhere', true)`);
      const { rows } = await c.query(`select (public.append_lot_event($1, $2, null) ->> 'seq')::int as seq`, [lotId, action]);
      await c.query(`update public.event_log set dispatched_at = now() - $3::interval where stream = $1 and seq = $2`, [`parking_lot:${lotId}`, rows[0].seq, dispatchedAgo]);
      return rows[0].seq as number;
    });
  }

  it('after its subscriber connection is cut, a lot watcher gets what was dispatched meanwhile, and not what it had long before', async () => {
    const lot = await createLot(server!.db, { total: 10 });
    const { socket } = await connect(server!.url, server!.token(newUserId()));
    assert.equal((await call(socket, 'subscribe', { room: `parking_lot:${lot}` })).ok, true);
    const got = record(socket, 'parking_updated');
    await waitUntil(() => clients!.link.healthy(), 10_000, 'the link to be up');
    // Long before the interruption, and during it: published by another node, never seen here.
    const old = await loggedElsewhere(lot, 'long_ago', '1 hour');
    const missed = await loggedElsewhere(lot, 'while_unsubscribed', '0 seconds');
    assert.equal(got.length, 0);

    const admin = new Redis(redis!.url, { maxRetriesPerRequest: 1 });
    try {
      assert.ok(Number(await admin.call('CLIENT', 'KILL', 'TYPE', 'pubsub')) >= 1, 'the subscriber connection was cut');
    } finally {
      admin.disconnect();
    }
    await waitUntil(() => got.length > 0, 15_000, 'the re-emit after the subscription is back');
    assert.deepEqual(got.map((p) => [p.seq, p.action]), [[missed, 'while_unsubscribed']]);
    assert.notEqual(old, missed);
    await waitUntil(() => clients!.link.healthy(), 10_000, 'the link to be healthy again');
  });
});

/**
 * Issue 12 #3: an event committed while Redis is down must still reach the other nodes' clients,
 * in a quiet room — no later event there to reveal the gap, no client asking for a replay.
 * Two real server processes on a Redis of the test's own: (1) Redis stopped for 12 s while both
 * nodes commit (their publishes fail, their subscriptions drop); (2) Redis refusing PUBLISH for a
 * while (ACL) with every subscription up, so that only the publisher knows the event did not go out.
 * Without confirmation, a node marked an event dispatched once emitted locally, and the other
 * nodes' clients never got it.
 */
import assert from 'node:assert/strict';
import { Redis } from 'ioredis';
import { closeAll, connect, newUserId } from './helpers/clients.js';
import { direct, streamEvents } from './helpers/direct.js';
import { createLot, loggedSeqs } from './helpers/fixtures.js';
import { sleep, waitUntil } from './helpers/measure.js';
import { request } from './helpers/http.js';
import { type OwnRedis, ownRedisFor, stopWithOwnRedis } from './helpers/own-redis.js';
import { type Cluster, type ClusterNode, startCluster } from './helpers/processes.js';
import { StreamClient } from './helpers/stream-client.js';

describe('Redis outage: a quiet room still hears what was committed meanwhile (two nodes)', function () {
  this.timeout(180_000);
  let redis: OwnRedis | undefined;
  let cluster: Cluster | undefined;
  let A: ClusterNode;
  let B: ClusterNode;

  before(async function () {
    this.timeout(120_000);
    redis = await ownRedisFor(this, 'quiet-room Redis outage suite');
    cluster = await startCluster({ nodes: 2, redisUrl: redis.url });
    [A, B] = cluster.nodes as [ClusterNode, ClusterNode];
  });

  after(async function () {
    this.timeout(90_000);
    closeAll();
    await stopWithOwnRedis(cluster, redis);
  });

  const c = () => cluster!;
  const book = (node: ClusterNode, userId: string, lotId: string) =>
    request(node.url, 'POST', '/bookings', { token: c().mintToken(userId), body: { parking_lot_id: lotId, duration_minutes: 60 }, timeoutMs: 60_000 });

  /** A lot watched from both nodes, and a user of each node listening to their own room. */
  async function quietRoom() {
    const lot = await createLot(c().db, { total: 50 });
    const watchers = [new StreamClient(c().mintToken(newUserId()), `parking_lot:${lot}`, 'watcher on A'), new StreamClient(c().mintToken(newUserId()), `parking_lot:${lot}`, 'watcher on B')] as const;
    await watchers[0].connect(A.url, false);
    await watchers[1].connect(B.url, false);
    const users = { onA: newUserId(), onB: newUserId() };
    const heard = { onA: [] as any[], onB: [] as any[] };
    for (const [key, node] of [['onA', A], ['onB', B]] as const) {
      const { socket } = await connect(node.url, { token: c().mintToken(users[key]) });
      socket.on('booking_updated', (p: any) => heard[key].push(p));
    }
    return { lot, watchers, users, heard };
  }

  /** Every watcher gets every event the lot's stream logged, without asking; resolves with how long it took from `since`. */
  async function everyoneHasEverything(room: Awaited<ReturnType<typeof quietRoom>>, since: number): Promise<number> {
    const logged = await loggedSeqs(c().db, `parking_lot:${room.lot}`);
    await waitUntil(() => room.watchers.every((w) => w.missing(logged).length === 0), 30_000,
      `both watchers to have seqs ${JSON.stringify(logged)} (A misses ${JSON.stringify(room.watchers[0].missing(logged))}, B misses ${JSON.stringify(room.watchers[1].missing(logged))})`);
    const took = Date.now() - since;
    for (const w of room.watchers) assert.deepEqual(w.disconnects, [], `${w.label} stayed connected, and never resubscribed`);
    return took;
  }

  it('Redis stopped for 12 s: bookings on both nodes and a direct edit reach every watcher and both users once Redis is back', async () => {
    const room = await quietRoom();
    const warm = await book(B, room.users.onA, room.lot);
    assert.equal(warm.status, 201);
    await waitUntil(() => room.watchers.every((w) => w.has(1)), 10_000, 'the first event on both nodes');

    await redis!.kill('SIGKILL');
    const down = Date.now();
    const fromB = await book(B, room.users.onA, room.lot);
    const fromA = await book(A, room.users.onB, room.lot);
    assert.deepEqual([fromB.status, fromA.status], [201, 201], JSON.stringify([fromB.body, fromA.body]));
    await direct(null, (cl) => cl.query('update public.parking_lots set out_of_service = 5 where id = $1', [room.lot]));
    await sleep(Math.max(0, 12_000 - (Date.now() - down)));
    // Nothing crossed: each node's watcher has only what its own node committed.
    assert.equal(room.watchers[0].has(2), false, 'the booking through B cannot have reached A without Redis');

    await redis!.start();
    const up = Date.now();
    const took = await everyoneHasEverything(room, up);
    await waitUntil(() => room.heard.onA.some((p) => p.booking_id === fromB.body.data.booking.id), 10_000, 'the user on A to hear of their booking made through B');
    await waitUntil(() => room.heard.onB.some((p) => p.booking_id === fromA.body.data.booking.id), 10_000, 'the user on B to hear of their booking made through A');
    // Delivered to every node means confirmed: the log holds nothing undispatched for this lot.
    await waitUntil(async () => (await streamEvents(`parking_lot:${room.lot}`)).every((e) => e.dispatched), 15_000, 'every event of the lot to be marked dispatched');
    console.log(`      [figures] Redis down ${up - down} ms: both watchers had all ${(await loggedSeqs(c().db, `parking_lot:${room.lot}`)).length} events ${took} ms after Redis was back`);
  });

  it('Redis refusing PUBLISH while every subscription stays up: the event stays undispatched, still reaches the other node, and is marked once publishing works', async () => {
    const room = await quietRoom();
    const admin = new Redis(redis!.url, { maxRetriesPerRequest: 1 });
    try {
      // SPUBLISH too: the command of the sharded adapter (REDIS_ADAPTER=sharded)
      await admin.call('ACL', 'SETUSER', 'default', '-publish', '-spublish');
      const res = await book(B, room.users.onA, room.lot);
      assert.equal(res.status, 201, JSON.stringify(res.body));
      // B's publish was refused, and A's subscription, never interrupted, has nothing to notice:
      // the event is left undispatched, so a sweeper (A's included) sends it to its own clients.
      const since = Date.now();
      const took = await everyoneHasEverything(room, since);
      await waitUntil(() => room.heard.onA.some((p) => p.booking_id === res.body.data.booking.id), 10_000, 'the user on A to hear of it');
      assert.equal((await streamEvents(`parking_lot:${room.lot}`))[0]!.dispatched, false, 'not confirmed to every node, so not marked');
      await admin.call('ACL', 'SETUSER', 'default', '+publish', '+spublish');
      await waitUntil(async () => (await streamEvents(`parking_lot:${room.lot}`)).every((e) => e.dispatched), 15_000, 'the event to be marked once a publish is confirmed');
      console.log(`      [figures] PUBLISH refused: the watcher on A had the event ${took} ms after it was committed on B (A's sweeper)`);
    } finally {
      await admin.call('ACL', 'SETUSER', 'default', '+publish', '+spublish').catch(() => undefined);
      admin.disconnect();
    }
  });
});

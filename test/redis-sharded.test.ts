/**
 * REDIS_ADAPTER=sharded (Redis 7 sharded pub/sub, a channel per room): three server processes on
 * one Redis. A node subscribes to the channel of a room only while it has a socket in that room;
 * an event for several rooms reaches each socket once, in its stream's order, on whichever node;
 * cluster queries (fetchSockets) still cover every node. The other cluster suites (cluster,
 * redis-outage, redis-outage-quiet, external-writes-nodes) pass with `REDIS_ADAPTER=sharded` in
 * the environment too.
 */
import assert from 'node:assert/strict';
import { Redis } from 'ioredis';
import { call, closeAll, connect, newUserId, record } from './helpers/clients.js';
import { createLot } from './helpers/fixtures.js';
import { requireRedis } from './helpers/global-setup.js';
import { request } from './helpers/http.js';
import { waitUntil } from './helpers/measure.js';
import { type Cluster, type ClusterNode, startCluster } from './helpers/processes.js';

describe('Redis adapter, sharded mode: three nodes', function () {
  this.timeout(120_000);
  let cluster: Cluster | undefined;
  let A: ClusterNode;
  let B: ClusterNode;
  let C: ClusterNode;
  let redis: Redis;

  before(async function () {
    const redisUrl = requireRedis(this);
    cluster = await startCluster({ nodes: 3, redisUrl, env: { REDIS_ADAPTER: 'sharded' } });
    [A, B, C] = cluster.nodes as [ClusterNode, ClusterNode, ClusterNode];
    redis = new Redis(redisUrl, { maxRetriesPerRequest: 1 });
  });

  after(async function () {
    this.timeout(60_000);
    closeAll();
    redis?.disconnect();
    await cluster?.stopAll();
  });

  afterEach(() => closeAll());

  const c = () => cluster!;
  /** How many nodes are subscribed to a room's channel (SSUBSCRIBE), as Redis counts them. */
  const subscribers = async (room: string): Promise<number> => {
    const answer = (await redis.call('PUBSUB', 'SHARDNUMSUB', `${c().adapterKey}#/#${room}#`)) as [string, number];
    return Number(answer[1]);
  };

  it("a node subscribes to a room's channel while it has a socket in the room, and only then", async () => {
    const lot = await createLot(c().db, { total: 10 });
    const userId = newUserId();
    const { socket: userOnA } = await connect(A.url, c().mintToken(userId));
    const { socket: watcherOnC } = await connect(C.url, c().mintToken(newUserId()));
    for (const s of [userOnA, watcherOnC]) assert.equal((await call(s, 'subscribe', { room: `parking_lot:${lot}` })).ok, true);
    await waitUntil(async () => (await subscribers(`parking_lot:${lot}`)) === 2, 10_000, 'A and C to subscribe to the lot channel');
    assert.equal(await subscribers(`user:${userId}`), 1, "only A has the user's socket");
    assert.equal(await subscribers(`parking_lot:${lot}`), 2, 'A and C, not B');

    userOnA.close();
    await waitUntil(async () => (await subscribers(`user:${userId}`)) === 0, 10_000, "A to drop the user's channel once their socket left");
    assert.equal(await subscribers(`parking_lot:${lot}`), 1, 'C still has a watcher of the lot');
  });

  it('a socket in the lot room, parking_updates and its user room gets each event once, in seq order; the admin on another node too', async () => {
    const lot = await createLot(c().db, { total: 10 });
    const userId = newUserId();
    const adminToken = c().mintToken(newUserId(), 'admin');
    const { socket: userOnA } = await connect(A.url, c().mintToken(userId));
    for (const room of [`parking_lot:${lot}`, 'parking_updates']) assert.equal((await call(userOnA, 'subscribe', { room })).ok, true);
    const { socket: adminOnC } = await connect(C.url, adminToken);
    const lotOnA = record(userOnA, 'parking_updated');
    const bookingsOnA = record(userOnA, 'booking_updated');
    const bookingsOnC = record(adminOnC, 'booking_updated');

    const booked: string[] = [];
    for (let i = 0; i < 3; i++) {
      const res = await request(B, 'POST', '/bookings', { token: c().mintToken(userId), body: { parking_lot_id: lot, duration_minutes: 60 } });
      assert.equal(res.status, 201, JSON.stringify(res.body));
      booked.push(res.body.data.booking.id);
    }
    // Published after the bookings by the same node: once it is on A, everything before it is too.
    const put = await request(B, 'PUT', `/realtime/parking-lots/${lot}/availability`, { token: adminToken, body: { available_spaces: 5 } });
    assert.equal(put.status, 200, JSON.stringify(put.body));
    await waitUntil(() => lotOnA.some((p) => p.action === 'availability_updated'), 10_000, 'the availability update on A');
    await waitUntil(() => bookingsOnC.length >= 3, 10_000, 'the three bookings at the admin on C');

    const mine = lotOnA.filter((p) => p.parking_lot_id === lot);
    assert.deepEqual(mine.map((p) => p.action), ['booking_created', 'booking_created', 'booking_created', 'availability_updated']);
    assert.deepEqual(mine.map((p) => p.seq), [1, 2, 3, 4].map((n) => mine[0].seq + n - 1), 'consecutive seqs, each once');
    assert.deepEqual(bookingsOnA.map((p) => p.booking_id), booked, 'each booking_updated once, in order, in the user room');
    assert.deepEqual(bookingsOnC.map((p) => p.booking_id), booked, 'and once to the admin on C');
  });

  it('GET /realtime/connections on any node lists the sockets of every node (fetchSockets across the cluster)', async () => {
    const admin = c().mintToken(newUserId(), 'admin');
    const expected = new Map<string, string>();
    for (const node of [A, B, C]) {
      const { connected } = await connect(node.url, admin);
      expected.set(connected.socket_id, node.id);
    }
    for (const node of [A, B, C]) {
      let last: any;
      await waitUntil(
        async () => {
          last = await request(node, 'GET', '/realtime/connections?limit=1000', { token: admin });
          return last.status === 200 && last.body.data.total === expected.size;
        },
        15_000,
        `${node.id} to list 3 sockets (last: ${JSON.stringify(last?.body)?.slice(0, 400)})`,
      );
      assert.equal(last.body.data.partial, false);
      assert.deepEqual(new Map(last.body.data.sockets.map((s: any) => [s.socket_id, s.node_id])), expected);
    }
  });
});

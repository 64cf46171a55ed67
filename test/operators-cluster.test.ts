/**
 * Operators across nodes: two server processes on one Redis. Operator A's admin on one node hears
 * what happens in A's lots on the other, and never B's; its connection list and live stats cover
 * the whole cluster but only A's scope (sockets carrying A's org or watching A's lots).
 */
import assert from 'node:assert/strict';
import { mintToken } from '../server/platform/auth/tokens.js';
import { call, closeAll, connect, newUserId, nextEvent, record } from './helpers/clients.js';
import { createLot, createOperator } from './helpers/fixtures.js';
import { requireRedis } from './helpers/global-setup.js';
import { request } from './helpers/http.js';
import { sleep, waitUntil } from './helpers/measure.js';
import { type Cluster, type ClusterNode, startCluster } from './helpers/processes.js';
import { TEST_SECRET } from './helpers/server.js';

describe('operators across two nodes', function () {
  this.timeout(180_000);
  let cluster: Cluster | undefined;
  let one: ClusterNode, two: ClusterNode;
  let opA: string, opB: string, lotA: string, lotB: string;
  const token = (userId: string, role: 'user' | 'admin' = 'user', orgId?: string) =>
    mintToken({ secret: TEST_SECRET, userId, appRole: role, ...(orgId ? { orgId } : {}) });

  before(async function () {
    const redisUrl = requireRedis(this);
    cluster = await startCluster({ nodes: 2, redisUrl });
    [one, two] = cluster.nodes as [ClusterNode, ClusterNode];
    opA = await createOperator(cluster.db, 'A');
    opB = await createOperator(cluster.db, 'B');
    lotA = await createLot(cluster.db, { operatorId: opA });
    lotB = await createLot(cluster.db, { operatorId: opB });
  });
  after(async function () {
    this.timeout(60_000);
    closeAll();
    await cluster?.stopAll();
  });
  afterEach(async () => {
    closeAll();
    // The next test starts with no socket of this one left on either node.
    const platform = token(newUserId(), 'admin');
    await waitUntil(async () => (await request(one.url, 'GET', '/realtime/connections', { token: platform })).body.data.total === 0, 10_000, 'both nodes to let go of the sockets');
  });

  it("A's admin on node two hears a booking in A's lot made on node one; B's admin does not", async () => {
    const { socket: a } = await connect(two.url, token(newUserId(), 'admin', opA));
    const { socket: b } = await connect(two.url, token(newUserId(), 'admin', opB));
    const strays = record(b, 'booking_updated');
    const driver = newUserId();
    const heard = nextEvent(a, 'booking_updated', (e) => e.booking.user_id === driver);
    const res = await request(one.url, 'POST', '/bookings', { token: token(driver), body: { parking_lot_id: lotA, duration_minutes: 60 } });
    assert.equal(res.status, 201);
    assert.equal((await heard).booking_id, res.body.data.booking.id);
    await sleep(500);
    assert.deepEqual(strays, []);
  });

  it("connections and live stats of A's admin span both nodes and A's scope only", async () => {
    const { socket: watcherA } = await connect(two.url, token(newUserId()));
    const { socket: watcherB } = await connect(two.url, token(newUserId()));
    assert.equal((await call(watcherA, 'subscribe', { room: `parking_lot:${lotA}` })).ok, true);
    assert.equal((await call(watcherB, 'subscribe', { room: `parking_lot:${lotB}` })).ok, true);
    const { connected: staff } = await connect(two.url, token(newUserId(), 'user', opA));
    const { connected: admin } = await connect(one.url, token(newUserId(), 'admin', opA));
    await connect(one.url, token(newUserId(), 'admin', opB));
    const adminA = token(newUserId(), 'admin', opA);
    const conns = (await request(one.url, 'GET', '/realtime/connections', { token: adminA })).body.data;
    assert.equal(conns.partial, false);
    assert.deepEqual(
      conns.sockets.map((s: { socket_id: string; node_id: string }) => [s.socket_id, s.node_id]).sort(),
      [[watcherA.id, 'node-b'], [staff.socket_id, 'node-b'], [admin.socket_id, 'node-a']].sort(),
    );
    const { stats } = (await request(one.url, 'GET', '/realtime/live-stats', { token: adminA })).body.data;
    assert.equal(stats.cluster.connections, 3);
    assert.deepEqual(stats.cluster.by_node, { 'node-a': 1, 'node-b': 2 });
    assert.deepEqual(stats.cluster.rooms, { [`parking_lot:${lotA}`]: 1 });
    assert.deepEqual(stats.lots.count, 1);
  });

  it("an announcement by A's admin on node one reaches A's watchers on node two, not B's", async () => {
    const { socket: watcherA } = await connect(two.url, token(newUserId()));
    const { socket: watcherB } = await connect(two.url, token(newUserId()));
    await call(watcherA, 'subscribe', { room: `parking_lot:${lotA}` });
    await call(watcherB, 'subscribe', { room: `parking_lot:${lotB}` });
    const strays = record(watcherB, 'system_announcement');
    const heard = nextEvent(watcherA, 'system_announcement');
    const res = await request(one.url, 'POST', '/realtime/announcement', { token: token(newUserId(), 'admin', opA), body: { message: 'Level 2 full' } });
    assert.equal(res.status, 201);
    assert.equal((await heard).message, 'Level 2 full');
    await sleep(500);
    assert.deepEqual(strays, []);
  });
});

/**
 * Writes made outside spotcast reach subscribers on every node (issue 11 §4): two real server
 * processes on one Redis, each listening to Postgres. One node claims each event and emits it
 * through the adapter, so every client gets it once. The sweepers wait ten minutes here: whatever
 * arrives was announced at commit.
 */
import assert from 'node:assert/strict';
import { closeAll, connect, newUserId } from './helpers/clients.js';
import { bookDirectly, direct, streamEvents } from './helpers/direct.js';
import { createLot } from './helpers/fixtures.js';
import { requireRedis } from './helpers/global-setup.js';
import { waitUntil } from './helpers/measure.js';
import { type Cluster, type ClusterNode, startCluster } from './helpers/processes.js';

describe('writes made outside spotcast, two nodes', function () {
  this.timeout(120_000);
  let cluster: Cluster | undefined;
  let A: ClusterNode;
  let B: ClusterNode;

  before(async function () {
    this.timeout(120_000);
    const redisUrl = requireRedis(this);
    cluster = await startCluster({ nodes: 2, redisUrl, env: { OUTBOX_SWEEP_GRACE_MS: '600000', OUTBOX_SWEEP_INTERVAL_MS: '60000' } });
    [A, B] = cluster.nodes as [ClusterNode, ClusterNode];
  });

  after(async function () {
    this.timeout(60_000);
    closeAll();
    closeAll();
    await cluster?.stopAll();
  });

  it('a booking made with create_booking over rpc and a direct edit of its lot reach watchers on both nodes, each once, in order', async () => {
    const lot = await createLot(cluster!.db, { total: 8 });
    const userId = newUserId();
    const seen: Record<string, any[]> = { A: [], B: [] };
    const own: any[] = [];
    for (const [name, node] of [['A', A], ['B', B]] as const) {
      const { socket } = await connect(node.url, { token: cluster!.mintToken(newUserId()) });
      const ack = await socket.timeout(10_000).emitWithAck('subscribe', { room: `parking_lot:${lot}` });
      assert.equal(ack.ok, true, JSON.stringify(ack));
      socket.on('parking_updated', (p: any) => p.parking_lot_id === lot && seen[name]!.push(p));
    }
    // The booking user is on B, whichever node relays.
    const { socket: mine } = await connect(B.url, { token: cluster!.mintToken(userId) });
    mine.on('booking_updated', (p: any) => own.push(p));

    const { booking } = await bookDirectly(userId, lot);
    await direct(null, (c) => c.query('update public.parking_lots set out_of_service = 2 where id = $1', [lot]));
    const expected = [
      ['booking_created', 1, 7],
      ['updated_directly', 2, 5],
    ];
    // The second event arriving means the first had its chance to arrive twice.
    await waitUntil(() => seen.A!.length >= 2 && seen.B!.length >= 2, 15_000, `both watchers to get both events (A ${seen.A!.length}, B ${seen.B!.length})`);
    for (const name of ['A', 'B']) assert.deepEqual(seen[name]!.map((p) => [p.action, p.seq, p.available_spaces]), expected, `watcher on ${name}`);
    await waitUntil(() => own.length >= 1, 10_000, 'the booking user to hear of it');
    assert.deepEqual(own.map((p) => [p.booking_id, p.action]), [[booking.id, 'created']]);
    await waitUntil(async () => (await streamEvents(`parking_lot:${lot}`)).every((e) => e.dispatched && e.origin === null), 10_000, 'both events marked dispatched');
  });
});

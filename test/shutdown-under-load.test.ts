/**
 * A real spotcast process (server/index.ts) stopped with SIGTERM while clients that never read
 * hold megabytes of queued output each: the stop must finish by itself within SHUTDOWN_TIMEOUT_MS
 * (exit code 0), not wait for them (ws gives a peer 30 s to answer its close) nor be cut by the
 * deadline (exit code 1) or by the test (no code).
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { createLot } from './helpers/fixtures.js';
import { requireRedis } from './helpers/global-setup.js';
import { appendLotEvents, RawWebSocketClient } from './helpers/raw-engine.js';
import { type Cluster, startCluster } from './helpers/processes.js';
import { waitUntil } from './helpers/measure.js';

async function replayedSoFar(url: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith('spotcast_replayed_events_total'));
  return line ? Number(line.split(' ').at(-1)) : 0;
}

describe('shutdown under load', function () {
  this.timeout(180_000);
  let cluster: Cluster | undefined;
  const clients: RawWebSocketClient[] = [];
  after(async () => {
    for (const c of clients) c.close();
    await cluster?.stopAll();
  });

  it('SIGTERM with clients that never read: the process stops by itself within SHUTDOWN_TIMEOUT_MS (exit code 0)', async function () {
    const redisUrl = requireRedis(this);
    cluster = await startCluster({
      nodes: 1,
      redisUrl,
      env: {
        SHUTDOWN_TIMEOUT_MS: '6000',
        // Large enough that none of them is disconnected as a slow consumer: their queues stay for the stop.
        SOCKET_MAX_PENDING_BYTES: String(512 * 1024 * 1024),
        RATE_LIMIT_REPLAY_EVENTS: '1000000/1',
        RATE_LIMIT_USER_EVENTS: '100000/1',
        RATE_LIMIT_SOCKET_EVENTS: '100000/1',
      },
    });
    const node = cluster.nodes[0]!;
    const lot = await createLot(cluster.db);
    const head = await appendLotEvents(cluster.db, lot, 300, 1000);
    const REPLAYS = 20;
    for (let i = 0; i < 6; i++) {
      const c = await RawWebSocketClient.connect(node.url, cluster.mintToken(randomUUID()));
      clients.push(c);
      c.stopReading();
      for (let k = 0; k < REPLAYS; k++) c.emit('subscribe', { room: `parking_lot:${lot}`, last_seq: 0 }, k);
    }
    // ~40 MB for sockets that take nothing: wait until the node has queued it all.
    await waitUntil(async () => (await replayedSoFar(node.url)) >= 6 * REPLAYS * head, 60_000, 'the replays to be queued');

    const code = await node.stop(60_000);
    assert.equal(code, 0, `exit code ${code} (1: cut at SHUTDOWN_TIMEOUT_MS; null: killed by the test)\n${node.output().slice(-3000)}`);
    assert.match(node.output(), /connections still open after the close grace were cut/);
  });
});

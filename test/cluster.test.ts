/**
 * Several real server processes on one Postgres and one Redis (guarantees 1–3 across nodes):
 * a client on node A hears what node B does; stats count every node's sockets; the last spaces
 * are not oversold when racers are spread over nodes; a client resumes by seq on another node,
 * also after a full cluster restart, or gets a snapshot when the gap is older than the log; a
 * node killed mid-burst loses no committed event; a node stopped gracefully tells its clients.
 */
import assert from 'node:assert/strict';
import { performance } from 'node:perf_hooks';
import { call, type Client, closeAll, connect, newUserId, nextEvent } from './helpers/clients.js';
import { createLot, loggedSeqs } from './helpers/fixtures.js';
import { requireRedis } from './helpers/global-setup.js';
import { percentile, sleep, waitUntil } from './helpers/measure.js';
import { request } from './helpers/http.js';
import { type Cluster, type ClusterNode, type ExitInfo, startCluster } from './helpers/processes.js';
import { StreamClient } from './helpers/stream-client.js';

const range = (from: number, to: number) => Array.from({ length: Math.max(0, to - from + 1) }, (_, i) => from + i);

describe('cluster: three server processes on one Redis', function () {
  this.timeout(240_000);
  let cluster: Cluster | undefined;
  let A: ClusterNode;
  let B: ClusterNode;
  let C: ClusterNode;

  before(async function () {
    const redisUrl = requireRedis(this);
    cluster = await startCluster({ nodes: 3, redisUrl });
    [A, B, C] = cluster.nodes as [ClusterNode, ClusterNode, ClusterNode];
  });

  after(async function () {
    this.timeout(90_000);
    closeAll();
    closeAll();
    await cluster?.stopAll();
  });

  afterEach(async function () {
    this.timeout(120_000);
    closeAll();
    closeAll();
    // A test that stopped or killed a node leaves the cluster whole for the next one.
    for (const n of cluster?.nodes ?? []) if (!n.running) await n.restart();
  });

  const c = () => cluster!;
  const userToken = (userId = newUserId()) => c().mintToken(userId);
  const adminToken = () => c().mintToken(newUserId(), 'admin');

  /** A booking of one space now, for an hour, by `userId` through `node`'s REST API. */
  const book = (node: ClusterNode, lot: string, userId = newUserId(), extra: Record<string, unknown> = {}) =>
    request(node.url, 'POST', '/bookings', { token: userToken(userId), body: { parking_lot_id: lot, duration_minutes: 60, ...extra } });

  /** `count` bookings through `node`, `concurrency` at a time; every one must succeed. */
  async function bookMany(node: ClusterNode, lot: string, count: number, concurrency = 5): Promise<void> {
    let next = 0;
    const failures: string[] = [];
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        while (next < count) {
          next++;
          const res = await book(node, lot);
          if (res.status !== 201) failures.push(`${res.status} ${res.error ?? JSON.stringify(res.body)}`);
        }
      }),
    );
    assert.deepEqual(failures, [], `bookings through ${node.id} failed`);
  }

  async function availableOn(node: ClusterNode, lot: string): Promise<number> {
    const res = await request(node.url, 'GET', `/realtime/parking-availability?parking_lot_id=${lot}`, { token: userToken() });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    return res.body.data.lots[0].available_spaces;
  }

  describe('cross-node delivery', () => {
    it('a client on node A receives what node B emits: lot room, user room; an admin on C hears it in the admin room', async () => {
      const lot = await createLot(c().db, { total: 10 });
      const userId = newUserId();
      const admin = adminToken();
      const { socket: userOnA } = await connect(A.url, userToken(userId));
      assert.equal((await call(userOnA, 'subscribe', { room: `parking_lot:${lot}` })).ok, true);
      const { socket: watcherOnC } = await connect(C.url, userToken());
      assert.equal((await call(watcherOnC, 'subscribe', { room: `parking_lot:${lot}` })).ok, true);
      const { socket: adminOnC, connected } = await connect(C.url, admin);
      assert.ok(connected.rooms.includes('admin'));

      // An admin's physical count, made on node B.
      const counted = nextEvent(userOnA, 'parking_updated', (p) => p.parking_lot_id === lot && p.action === 'availability_updated', 10_000);
      const put = await request(B, 'PUT', `/realtime/parking-lots/${lot}/availability`, { token: admin, body: { available_spaces: 8 } });
      assert.equal(put.status, 200, JSON.stringify(put.body));
      const update = await counted;
      assert.equal(update.available_spaces, 8);
      assert.equal(update.room, `parking_lot:${lot}`);
      assert.equal(typeof update.seq, 'number');

      // The same user books through node B: their socket on A hears it in their user room, the
      // admin on C in the admin room, the lot's subscribers on A and C in the lot room.
      const mine = nextEvent(userOnA, 'booking_updated', (p) => p.booking?.parking_lot_id === lot, 10_000);
      const adminHears = nextEvent(adminOnC, 'booking_updated', (p) => p.booking?.user_id === userId, 10_000);
      const lotOnA = nextEvent(userOnA, 'parking_updated', (p) => p.parking_lot_id === lot && p.action === 'booking_created', 10_000);
      const lotOnC = nextEvent(watcherOnC, 'parking_updated', (p) => p.parking_lot_id === lot && p.action === 'booking_created', 10_000);
      const res = await book(B, lot, userId);
      assert.equal(res.status, 201, JSON.stringify(res.body));
      const bookingId = res.body.data.booking.id;
      const [own, forAdmin, onA, onC] = await Promise.all([mine, adminHears, lotOnA, lotOnC]);
      assert.equal(own.booking_id, bookingId);
      assert.equal(own.status, 'pending');
      assert.equal(own.room, `user:${userId}`);
      assert.equal(forAdmin.booking_id, bookingId);
      assert.equal(onA.available_spaces, 7);
      assert.equal(onC.available_spaces, 7);
      assert.equal(onA.seq, update.seq + 1);
      assert.equal(onC.seq, onA.seq);
    });

    it('GET /realtime/connections and get_live_stats on any node count the sockets of every node', async () => {
      const admin = adminToken();
      const plan: Record<string, number> = { 'node-a': 2, 'node-b': 3, 'node-c': 1 };
      const mine = new Map<string, string>(); // socket id → node id
      const admins = new Map<string, Client>();
      for (const node of [A, B, C]) {
        for (let i = 0; i < plan[node.id]!; i++) {
          const { connected } = await connect(node.url, userToken());
          mine.set(connected.socket_id, node.id);
        }
        const { socket, connected } = await connect(node.url, admin);
        mine.set(connected.socket_id, node.id);
        admins.set(node.id, socket);
      }
      const expectedByNode = { 'node-a': 3, 'node-b': 4, 'node-c': 2 };
      const total = 9;

      for (const node of [A, B, C]) {
        // Sockets of earlier tests may take a moment to be gone on their node.
        let last: any;
        await waitUntil(
          async () => {
            last = await request(node, 'GET', '/realtime/connections?limit=1000', { token: admin });
            return last.status === 200 && last.body.data.total === total;
          },
          15_000,
          `GET /realtime/connections on ${node.id} to count ${total} sockets (last: ${JSON.stringify(last?.body)?.slice(0, 500)})`,
        );
        const data = last.body.data;
        assert.equal(data.partial, false);
        const listed = new Map<string, string>(data.sockets.map((s: any) => [s.socket_id, s.node_id]));
        assert.deepEqual(listed, mine, `${node.id} lists every socket of the cluster with its node`);

        const stats = await call(admins.get(node.id)!, 'get_live_stats', {});
        assert.equal(stats.ok, true, JSON.stringify(stats));
        assert.equal(stats.data.stats.cluster.connections, total);
        assert.deepEqual(stats.data.stats.cluster.by_node, expectedByNode);
        assert.equal(stats.data.stats.cluster.partial, false);
      }
    });

    it('measures cross-node delivery latency: booking through B → parking_updated on a client of A (report only)', async () => {
      const lot = await createLot(c().db, { total: 300 });
      const watcher = new StreamClient(userToken(), `parking_lot:${lot}`, 'latency watcher on A');
      await watcher.connect(A.url, false);
      const arrived = new Map<number, { at: number; payload: any }>();
      const waiters = new Map<number, () => void>();
      watcher.socket!.on('parking_updated', (p: any) => {
        if (p.parking_lot_id !== lot || arrived.has(p.seq)) return;
        arrived.set(p.seq, { at: performance.timeOrigin + performance.now(), payload: p });
        waiters.get(p.seq)?.();
      });
      // Warm up (connections, JIT) outside the measurement.
      for (let i = 0; i < 10; i++) assert.equal((await book(B, lot)).status, 201);
      await waitUntil(() => arrived.size >= 10, 10_000, 'warm-up events');

      const endToEnd: number[] = [];
      const fromCommit: number[] = [];
      const afterResponse: number[] = [];
      for (let i = 0; i < 200; i++) {
        const seq = 11 + i;
        const got = new Promise<void>((resolve) => (arrived.has(seq) ? resolve() : waiters.set(seq, resolve)));
        const t0 = performance.timeOrigin + performance.now();
        const res = await book(B, lot);
        const tRes = performance.timeOrigin + performance.now();
        assert.equal(res.status, 201, JSON.stringify(res.body));
        await Promise.race([got, sleep(10_000).then(() => Promise.reject(new Error(`seq ${seq} did not reach node A`)))]);
        const a = arrived.get(seq)!;
        endToEnd.push(a.at - t0);
        fromCommit.push(a.at - Date.parse(a.payload.timestamp));
        afterResponse.push(a.at - tRes);
      }
      const fmt = (xs: number[]) => `p50 ${percentile(xs, 50).toFixed(1)} ms, p99 ${percentile(xs, 99).toFixed(1)} ms, max ${Math.max(...xs).toFixed(1)} ms`;
      console.log(`      [figures] cross-node latency over 200 bookings (request to B → event on A): ${fmt(endToEnd)}`);
      console.log(`      [figures]   from the event's database timestamp → arrival on A: ${fmt(fromCommit)}`);
      console.log(`      [figures]   from B's HTTP response → arrival on A (negative: event came first): ${fmt(afterResponse)}`);
    });
  });

  describe('no overbooking across nodes', () => {
    it('150 socket clients (50 per node) and 30 REST callers (10 per node) race for the last 5 spaces: exactly 5 win', async () => {
      const lot = await createLot(c().db, { total: 20 });
      for (let i = 0; i < 15; i++) assert.equal((await book(c().nodes[i % 3]!, lot)).status, 201);
      assert.equal(await availableOn(A, lot), 5);

      const racers: Client[] = [];
      for (const node of [A, B, C]) {
        for (let i = 0; i < 50; i += 25) {
          const batch = await Promise.all(Array.from({ length: 25 }, () => connect(node.url, userToken(), { timeoutMs: 20_000 })));
          racers.push(...batch.map((b) => b.socket));
        }
      }
      const body = { parking_lot_id: lot, duration_minutes: 60 };
      type Answer = { via: string; ok: boolean; code?: string };
      const attempts: Promise<Answer>[] = [];
      for (let i = 0; i < 150; i++) {
        const socket = racers[i]!;
        attempts.push(
          socket
            .timeout(60_000)
            .emitWithAck('create_booking', body)
            .then((ack: any) => ({ via: 'socket', ok: ack.ok, code: ack.error?.code })),
        );
        if (i % 5 === 0) {
          const node = c().nodes[(i / 5) % 3]!;
          attempts.push(
            request(node.url, 'POST', '/bookings', { token: userToken(), body, timeoutMs: 60_000 }).then((r) => ({
              via: `rest(${r.status})`,
              ok: r.status === 201,
              code: r.body?.error?.code ?? r.error,
            })),
          );
        }
      }
      const answers = await Promise.all(attempts);
      assert.equal(answers.length, 180);
      const wins = answers.filter((a) => a.ok);
      const others = answers.filter((a) => !a.ok);
      const histogram = JSON.stringify(answers.reduce<Record<string, number>>((h, a) => ((h[`${a.via}:${a.ok ? 'ok' : a.code}`] = (h[`${a.via}:${a.ok ? 'ok' : a.code}`] ?? 0) + 1), h), {}));
      assert.equal(wins.length, 5, histogram);
      assert.ok(others.every((a) => a.code === 'LOT_FULL'), histogram);

      for (const node of [A, B, C]) assert.equal(await availableOn(node, lot), 0, `availability on ${node.id}`);
      const { rows } = await c().db.asSystem((tx) =>
        tx.query(`select count(*)::int as n from public.bookings where parking_lot_id = $1 and status in ('pending', 'confirmed', 'active')`, [lot]),
      );
      assert.equal(rows[0].n, 20);
    });
  });

  describe('recovery by sequence number', () => {
    it('a client that left node A resumes on node C with all 50 missed events in order, and again after a full cluster restart', async function () {
      const lot = await createLot(c().db, { total: 200 });
      const room = `parking_lot:${lot}`;
      const client = new StreamClient(userToken(), room, 'resuming client');
      await client.connect(A.url, false);
      assert.equal((await book(A, lot)).status, 201);
      await waitUntil(() => client.bySeq.has(1), 10_000, 'the first event on A');
      const lastSeq = client.lastContiguous();
      assert.equal(lastSeq, 1);
      client.close();

      await bookMany(B, lot, 50, 5);
      const expected = range(lastSeq + 1, lastSeq + 50);
      assert.deepEqual(await loggedSeqs(c().db, room), [lastSeq, ...expected]);

      const seenBefore = client.order.length;
      const t0 = performance.now();
      const { resumed } = await client.connect(C.url, 'handshake', lastSeq);
      await waitUntil(() => expected.every((s) => client.bySeq.has(s)), 15_000, 'all 50 missed events on C');
      const recoveryMs = performance.now() - t0;
      assert.deepEqual(resumed, { rooms: [{ room, replayed: 50, snapshot: false, seq: lastSeq + 50 }], failed: [] });
      assert.deepEqual(client.order.slice(seenBefore), expected, 'each missed seq once, in seq order');
      assert.equal(client.snapshots.length, 0);
      // Nothing but the 50 (plus, at most, harmless duplicates) arrived.
      assert.ok(client.arrivals >= 51);
      console.log(`      [figures] recovery on another node: reconnect → all 50 replayed events received in ${recoveryMs.toFixed(0)} ms`);

      // The same client, told by subscribe instead of the handshake: nothing missed, nothing replayed.
      const sub = await client.connect(B.url, 'subscribe');
      assert.deepEqual(sub.subscribed, { room, replay: { room, replayed: 0, snapshot: false, seq: lastSeq + 50 } });
      const resumeFrom = client.lastContiguous();
      assert.equal(resumeFrom, lastSeq + 50);
      client.close();

      // Every node restarts (a full cluster restart), then 10 more bookings.
      const codes = await Promise.all(c().nodes.map((n) => n.stop()));
      assert.deepEqual(codes, [0, 0, 0], 'every node stopped cleanly');
      await Promise.all(c().nodes.map((n) => n.restart()));
      await bookMany(A, lot, 10, 2);
      const next = range(resumeFrom + 1, resumeFrom + 10);
      const seenBeforeRestart = client.order.length;
      const again = await client.connect(B.url, 'handshake', resumeFrom);
      await waitUntil(() => next.every((s) => client.bySeq.has(s)), 15_000, 'the 10 events after the restart');
      assert.deepEqual(again.resumed, { rooms: [{ room, replayed: 10, snapshot: false, seq: resumeFrom + 10 }], failed: [] });
      assert.deepEqual(client.order.slice(seenBeforeRestart), next);
      assert.deepEqual(await loggedSeqs(c().db, room), range(1, resumeFrom + 10));
    });

    it('a gap older than the event log keeps gets room_snapshot (snapshot: true, current seq), not a partial replay', async () => {
      const lot = await createLot(c().db, { total: 50 });
      const room = `parking_lot:${lot}`;
      const client = new StreamClient(userToken(), room, 'stale client');
      await client.connect(A.url, false);
      await bookMany(B, lot, 5, 1);
      await waitUntil(() => client.lastContiguous() === 5, 10_000, 'seqs 1..5 on A');
      client.close();
      await bookMany(B, lot, 5, 1);
      // Retention removed the older part of the stream: seqs 6..8 are gone, 9..10 remain.
      await c().db.asSystem((tx) => tx.query('delete from public.event_log where stream = $1 and seq <= 8', [room]));

      const { resumed } = await client.connect(C.url, 'handshake', 5);
      assert.deepEqual(resumed, { rooms: [{ room, replayed: 0, snapshot: true, seq: 10 }], failed: [] });
      await waitUntil(() => client.snapshots.length === 1, 5000, 'room_snapshot');
      const snap = client.snapshots[0];
      assert.equal(snap.snapshot, true);
      assert.equal(snap.seq, 10);
      assert.equal(snap.lots[0].parking_lot_id, lot);
      assert.equal(snap.lots[0].available_spaces, 40);
      assert.deepEqual([...client.bySeq.keys()].sort((a, b) => a - b), [1, 2, 3, 4, 5], 'no partial replay of 9..10');

      // Subscribing with the old seq on another node answers the same way.
      const other = new StreamClient(userToken(), room, 'stale subscriber');
      const sub = await other.connect(B.url, 'subscribe', 5);
      assert.deepEqual(sub.subscribed.replay, { room, replayed: 0, snapshot: true, seq: 10 });
      await waitUntil(() => other.snapshots.length === 1, 5000, 'room_snapshot on B');
      assert.equal(other.bySeq.size, 0);
    });
  });

  describe('node failures', () => {
    it('a node SIGKILLed mid-burst: every event the database committed reaches every client of the lot, no seq missing', async () => {
      const lot = await createLot(c().db, { total: 100 });
      const room = `parking_lot:${lot}`;
      const clients: StreamClient[] = [];
      for (const node of [A, B, C]) {
        for (let k = 0; k < 2; k++) {
          const client = new StreamClient(userToken(), room, `${node.id}#${k}`);
          await client.connect(node.url, false);
          clients.push(client);
        }
      }
      // Clients of a node that goes away resume on a survivor with the last seq they saw.
      const reconnections: Promise<void>[] = [];
      const reconnectLog: string[] = [];
      const dead = new Set<string>();
      for (const client of clients) {
        client.onDisconnect = (reason) => {
          reconnections.push(
            (async () => {
              for (let attempt = 0; attempt < 30; attempt++) {
                const from = client.nodeUrl;
                const target = [A, C, B].filter((n) => n.url !== from && !dead.has(n.id))[attempt % 2]!;
                try {
                  const { resumed } = await client.connect(target.url, 'handshake');
                  reconnectLog.push(`${client.label} (${reason}) → ${target.id}: ${JSON.stringify(resumed?.rooms)}`);
                  return;
                } catch (err) {
                  reconnectLog.push(`${client.label} → ${target.id} failed: ${String(err)}`);
                  await sleep(200);
                }
              }
              throw new Error(`${client.label} could not reconnect`);
            })(),
          );
        };
      }

      // 60 bookings through node B, 6 at a time; B is killed after 20 answers. A request that
      // lost its connection is retried on a survivor with the same idempotency key (it may or
      // may not have committed on B; the key makes the retry safe either way).
      const N = 60;
      const jobs = Array.from({ length: N }, (_, i) => ({ userId: newUserId(), key: `burst-${lot}-${i}` }));
      let next = 0;
      let answered = 0;
      let killed: Promise<ExitInfo> | undefined;
      let connectionErrors = 0;
      const results: { status: number; via: string; replayed?: boolean; body?: any }[] = [];
      await Promise.all(
        Array.from({ length: 6 }, async () => {
          while (next < N) {
            const job = jobs[next++]!;
            for (let attempt = 0; ; attempt++) {
              const node = !killed ? B : [A, C][attempt % 2]!;
              const res = await request(node.url, 'POST', '/bookings', {
                token: userToken(job.userId),
                body: { parking_lot_id: lot, duration_minutes: 60, idempotency_key: job.key },
              });
              if (res.status === 0 && attempt < 10) {
                connectionErrors++;
                continue;
              }
              results.push({ status: res.status, via: node.id, replayed: res.body?.data?.replayed, body: res.status >= 300 ? res.body ?? res.error : undefined });
              break;
            }
            answered++;
            if (answered === 20 && !killed) {
              dead.add(B.id);
              killed = B.kill('SIGKILL');
            }
          }
        }),
      );
      const exit = await killed!;
      assert.equal(exit.signal, 'SIGKILL');
      assert.deepEqual(results.filter((r) => r.status !== 201 && r.status !== 200), [], 'every booking was answered by some node');
      // The killed node's clients noticed, and resumed on a survivor.
      await waitUntil(() => clients.filter((cl) => cl.label.startsWith('node-b')).every((cl) => cl.disconnects.length > 0), 10_000, 'node-b clients to notice');
      await Promise.all(reconnections);

      // What the database committed: exactly one booking per request, and one lot event each.
      const { rows } = await c().db.asSystem((tx) =>
        tx.query(`select count(*)::int as n, count(distinct user_id)::int as users from public.bookings where parking_lot_id = $1 and status = 'pending'`, [lot]),
      );
      assert.deepEqual(rows[0], { n: N, users: N });
      const logged = await loggedSeqs(c().db, room);
      assert.deepEqual(logged, range(1, N), 'the lot stream in the event log is gap-free');

      try {
        await waitUntil(() => clients.every((cl) => cl.missing(logged).length === 0), 30_000, 'every client to have seen every committed event');
      } catch (err) {
        const report = clients.map((cl) => `${cl.label} on ${cl.nodeUrl}: missing ${JSON.stringify(cl.missing(logged))}`).join('\n');
        throw new Error(`${(err as Error).message}\n${report}\nreconnections:\n${reconnectLog.join('\n')}`);
      }
      const movedClients = clients.filter((cl) => cl.label.startsWith('node-b'));
      assert.ok(movedClients.every((cl) => cl.disconnects[0] === 'transport close'), JSON.stringify(movedClients.map((cl) => cl.disconnects)));
      assert.ok(movedClients.every((cl) => cl.nodeUrl !== B.url), 'the killed node\'s clients moved to survivors');
      console.log(
        `      [figures] kill mid-burst: ${connectionErrors} requests lost their connection and were retried; ` +
          `${results.filter((r) => r.replayed).length} retries found their booking already committed; reconnections: ${reconnectLog.length}`,
      );
    });

    it('SIGTERM: clients get server_shutdown (reconnect: true), then a disconnect they reconnect from; exit 0; connection log closed', async () => {
      const sockets = await Promise.all(Array.from({ length: 3 }, () => connect(C.url, { token: userToken() }, { reconnection: true })));
      const seen = sockets.map(({ socket }) => {
        const events: { event: string; payload: any; active?: boolean }[] = [];
        socket.on('server_shutdown', (p: any) => events.push({ event: 'server_shutdown', payload: p }));
        const disconnected = new Promise<void>((resolve) =>
          socket.once('disconnect', (reason) => {
            events.push({ event: 'disconnect', payload: reason, active: socket.active });
            resolve();
          }),
        );
        return { events, disconnected };
      });
      const ids = sockets.map((s) => s.connected.socket_id as string);
      // The connects are in the log before the stop (flushed every 100 ms).
      await waitUntil(
        async () => {
          const { rows } = await c().db.asSystem((tx) => tx.query('select count(*)::int as n from public.realtime_connection_log where node_id = $1 and socket_id = any($2)', [C.id, ids]));
          return rows[0].n === 3;
        },
        10_000,
        'the connections to be logged',
      );

      const code = await C.stop();
      assert.equal(code, 0, C.output());
      await Promise.all(seen.map((s) => s.disconnected));
      for (const { events } of seen) {
        assert.deepEqual(events.map((e) => e.event), ['server_shutdown', 'disconnect']);
        assert.equal(events[0]!.payload.reconnect, true);
        assert.notEqual(events[1]!.payload, 'io server disconnect');
        assert.equal(events[1]!.payload, 'transport close');
        assert.equal(events[1]!.active, true, 'socket.io-client will reconnect by itself');
      }
      closeAll();

      const { rows } = await c().db.asSystem((tx) =>
        tx.query('select socket_id, disconnected_at, disconnect_reason from public.realtime_connection_log where node_id = $1 and socket_id = any($2)', [C.id, ids]),
      );
      assert.equal(rows.length, 3);
      for (const row of rows) assert.ok(row.disconnected_at instanceof Date, `disconnected_at of ${row.socket_id} is set (reason ${row.disconnect_reason})`);
    });
  });
});

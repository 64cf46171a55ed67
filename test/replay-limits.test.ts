/**
 * What a replay costs: it is charged by its size against the user's replay budget
 * (RATE_LIMIT_REPLAY_EVENTS; past it the client gets a snapshot, as for a gap too old), reads no
 * more of the log than the budget allows, costs nothing when the socket was already sent
 * everything, and reaches the client as the same events in one engine.io write. The reads are
 * counted where they happen (the calls the server makes to read_stream); a seeded random walk
 * checks every answer against a model of the rules.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import type { Principal } from '../server/platform/auth/principal.js';
import type { UserCalls, UserFunction, UserFunctions } from '../server/platform/data/calls.js';
import { createPgCalls } from '../server/platform/data/pg-calls.js';
import { call, closeAll, connect, newUserId, nextEvent, record, type Client } from './helpers/clients.js';
import { createLot } from './helpers/fixtures.js';
import { metricValue } from './helpers/metric.js';
import { appendLotEvents } from './helpers/raw-engine.js';
import { startTestServer, type TestServer } from './helpers/server.js';
import { waitUntil } from './helpers/measure.js';
import { request } from './helpers/http.js';

/** A look at the stream's head only (a repeat the socket may already have), not a read of events. */
const eventReads = (reads: UserFunctions['read_stream'][]) => reads.filter((r) => r.p_after !== Number.MAX_SAFE_INTEGER);

/** The server's real data path, with each read_stream call noted on the way. */
function countingCalls(): { calls: UserCalls; reads: UserFunctions['read_stream'][]; attach(server: TestServer): void } {
  let inner: UserCalls | undefined;
  const reads: UserFunctions['read_stream'][] = [];
  const calls: UserCalls = {
    kind: 'postgres',
    call<F extends UserFunction>(principal: Principal, fn: F, args: UserFunctions[F]) {
      if (fn === 'read_stream') reads.push(args as UserFunctions['read_stream']);
      return inner!.call(principal, fn, args);
    },
  };
  return { calls, reads, attach: (server) => (inner = createPgCalls(server.db)) };
}

const subscribe = (socket: Client, lot: string, lastSeq: number) => call(socket, 'subscribe', { room: `parking_lot:${lot}`, last_seq: lastSeq });

describe('replay costs (RATE_LIMIT_REPLAY_EVENTS 100/60)', function () {
  this.timeout(60_000);
  let server: TestServer;
  const counting = countingCalls();
  before(async () => {
    server = await startTestServer({ RATE_LIMIT_REPLAY_EVENTS: '100/60', REPLAY_MAX_EVENTS: '1000' }, { calls: counting.calls });
    counting.attach(server);
  });
  after(() => server.stop());
  afterEach(closeAll);

  it("charges a replay by its size: past the user's budget a snapshot, then RATE_LIMITED before any read or join; another user has a budget of their own", async () => {
    const lot = await createLot(server.db);
    const head = await appendLotEvents(server.db, lot, 80);
    const token = server.token(newUserId());
    const first = (await connect(server.url, token)).socket;
    const second = (await connect(server.url, token)).socket;
    const { socket: third, connected: thirdConnected } = await connect(server.url, token);
    const reads = counting.reads.length;
    const replayedBefore = await metricValue(server.app, 'spotcast_replayed_events_total');

    assert.deepEqual((await subscribe(first, lot, 0)).data.replay, { room: `parking_lot:${lot}`, replayed: 80, snapshot: false, seq: head });
    // 20 left: the second socket of the same user reads 21 rows (one more tells the gap is longer) and gets a snapshot.
    const replayedAtSecond = record(second, 'parking_updated');
    const snapshot = nextEvent(second, 'room_snapshot');
    assert.deepEqual((await subscribe(second, lot, 0)).data.replay, { room: `parking_lot:${lot}`, replayed: 0, snapshot: true, seq: head });
    assert.equal((await snapshot).seq, head);
    assert.deepEqual(replayedAtSecond, []);
    // Nothing left: refused before reading or joining (the refusal changes nothing).
    const refused = await subscribe(third, lot, head - 1);
    assert.equal(refused.error?.code, 'RATE_LIMITED', JSON.stringify(refused));
    assert.ok(refused.error.details.retry_after_ms > 0);
    const inRoom = (await server.app.io.in(`parking_lot:${lot}`).fetchSockets()).map((s) => s.id);
    assert.equal(inRoom.includes(thirdConnected.socket_id), false, 'the refused socket joined the room');
    // Another user.
    const other = (await connect(server.url, server.token(newUserId()))).socket;
    assert.equal((await subscribe(other, lot, 0)).data.replay.replayed, 80);

    assert.deepEqual(counting.reads.slice(reads).map((r) => r.p_limit), [101, 21, 101]);
    assert.equal((await metricValue(server.app, 'spotcast_replayed_events_total')) - replayedBefore, 160);
    assert.ok((await metricValue(server.app, 'spotcast_rate_limited_total', { scope: 'replay' })) >= 1);
  });

  it('answers a replay the socket was already sent at once: no events read, no cost, also after live events; leaving the room ends that', async () => {
    const lot = await createLot(server.db, { total: 50 });
    const head = await appendLotEvents(server.db, lot, 30);
    const token = server.token(newUserId());
    const { socket } = await connect(server.url, token);
    assert.equal((await subscribe(socket, lot, 0)).data.replay.replayed, 30);
    const reads = eventReads(counting.reads).length;
    for (let i = 0; i < 50; i++) {
      assert.deepEqual((await subscribe(socket, lot, head)).data.replay, { room: `parking_lot:${lot}`, replayed: 0, snapshot: false, seq: head });
    }
    // A live event reaches the socket in the room; resuming from it is still answered from memory.
    const live = nextEvent(socket, 'parking_updated');
    const admin = server.token(newUserId(), 'admin');
    assert.equal((await request(server, 'PUT', `/realtime/parking-lots/${lot}/availability`, { token: admin, body: { available_spaces: 40 } })).status, 200);
    assert.equal((await live).seq, head + 1);
    assert.equal((await subscribe(socket, lot, head + 1)).data.replay.seq, head + 1);
    assert.equal(eventReads(counting.reads).length, reads, 'a satisfied replay read events of the log');

    // The 50 answers cost nothing: 70 of the budget are left, enough for 30 again on another socket.
    const again = (await connect(server.url, token)).socket;
    assert.equal((await subscribe(again, lot, 0)).data.replay.replayed, head + 1);
    // Asking for older events than it was sent is a replay (charged); so is resuming after leaving.
    assert.equal((await subscribe(socket, lot, head - 5)).data.replay.replayed, 6);
    assert.equal((await call(socket, 'unsubscribe', { room: `parking_lot:${lot}` })).ok, true);
    assert.deepEqual((await subscribe(socket, lot, head + 1)).data.replay, { room: `parking_lot:${lot}`, replayed: 0, snapshot: false, seq: head + 1 });
    assert.equal(eventReads(counting.reads).length, reads + 3);
  });

  for (const transport of ['websocket', 'polling'] as const) {
    it(`sends a replay as the same events, in order, in one engine.io write (${transport})`, async () => {
      const lot = await createLot(server.db);
      const head = await appendLotEvents(server.db, lot, 50);
      const { socket } = await connect(server.url, server.token(newUserId()), { transports: [transport] });
      const engineId = (socket.io.engine as unknown as { id: string }).id;
      const writes: number[] = [];
      const onFlush = (conn: { id: string }, packets: unknown[]) => conn.id === engineId && writes.push(packets.length);
      server.app.io.engine.on('flush', onFlush);
      try {
        const got = record(socket, 'parking_updated');
        assert.equal((await subscribe(socket, lot, 0)).data.replay.replayed, head);
        await waitUntil(() => got.length === head, 5000, 'the replayed events');
        assert.deepEqual(got.map((p) => p.seq), Array.from({ length: head }, (_, i) => i + 1));
        // The first write after the subscribe carries every replayed event (the ack may come with them or after).
        assert.ok((writes[0] ?? 0) >= head, `writes of ${JSON.stringify(writes)} packets: the ${head} events did not leave together`);
      } finally {
        server.app.io.engine.off('flush', onFlush);
      }
    });
  }
});

/** mulberry32 (as in the fuzz suite): the same walk for the same seed. */
function rng(seed: number): (lo: number, hi: number) => number {
  let s = seed >>> 0;
  return (lo, hi) => {
    s = (s + 0x6d2b79f5) | 0;
    let t = Math.imul(s ^ (s >>> 15), 1 | s);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return lo + Math.floor((((t ^ (t >>> 14)) >>> 0) / 4294967296) * (hi - lo + 1));
  };
}

describe('replay costs: a seeded walk of resumes against a model (RATE_LIMIT_REPLAY_EVENTS 1000/300, REPLAY_MAX_EVENTS 60)', function () {
  this.timeout(120_000);
  const seed = process.env.FUZZ_SEED ? Number(process.env.FUZZ_SEED) >>> 0 : randomBytes(4).readUInt32BE(0);
  let server: TestServer;
  const counting = countingCalls();
  before(async () => {
    server = await startTestServer({ RATE_LIMIT_REPLAY_EVENTS: '1000/300', REPLAY_MAX_EVENTS: '60' }, { calls: counting.calls });
    counting.attach(server);
  });
  after(() => server.stop());
  afterEach(closeAll);

  it('answers every resume as the model says (replayed, snapshot, seq, rows read)', async () => {
    console.log(`    replay walk seed ${seed} (replay with FUZZ_SEED=${seed})`);
    const int = rng(seed);
    const lot = await createLot(server.db);
    const head = await appendLotEvents(server.db, lot, 100);
    const token = server.token(newUserId());
    const sockets: Client[] = [];
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      const c = await connect(server.url, token);
      sockets.push(c.socket);
      ids.push(c.connected.socket_id);
    }
    const model = sockets.map(() => ({ inRoom: false, caught: undefined as number | undefined }));
    let budget = 1000;
    const problems: string[] = [];
    const outcomes: Record<string, number> = {};
    for (let step = 0; step < 80; step++) {
      const k = int(0, 2);
      const m = model[k]!;
      if (int(0, 5) === 0) {
        await call(sockets[k]!, 'unsubscribe', { room: `parking_lot:${lot}` });
        Object.assign(m, { inRoom: false, caught: undefined });
        continue;
      }
      // Resumes from where the socket was sent up to, from ahead of the log, or from anywhere in it.
      const r = m.caught !== undefined && int(0, 2) === 0 ? int(m.caught, head + 5) : int(0, 9) === 0 ? int(head, head + 10) : int(0, head);
      const reads = counting.reads.length;
      const res = await subscribe(sockets[k]!, lot, r);
      let want: unknown;
      let limit: number | undefined;
      if (m.caught !== undefined && r >= m.caught) want = { replayed: 0, snapshot: false, seq: r };
      else if (budget === 0) want = 'RATE_LIMITED';
      else {
        const allowed = Math.min(60, budget);
        limit = allowed + 1;
        budget -= Math.min(Math.max(0, head - r), allowed);
        want = r <= head && head - r <= allowed ? { replayed: head - r, snapshot: false, seq: head } : { replayed: 0, snapshot: true, seq: head };
        Object.assign(m, { inRoom: true, caught: head });
      }
      const got = res.ok ? { ...res.data.replay, room: undefined } : res.error?.code;
      const kind = typeof want === 'string' ? want : limit === undefined ? 'answered at once' : (want as { snapshot: boolean }).snapshot ? 'snapshot' : 'replayed';
      outcomes[kind] = (outcomes[kind] ?? 0) + 1;
      const readNow = eventReads(counting.reads.slice(reads)).map((x) => x.p_limit);
      const inRoom = (await server.app.io.in(`parking_lot:${lot}`).fetchSockets()).some((s) => s.id === ids[k]);
      if (JSON.stringify(got) !== JSON.stringify(typeof want === 'string' ? want : { ...(want as object), room: undefined }) ||
        JSON.stringify(readNow) !== JSON.stringify(limit === undefined ? [] : [limit]) || inRoom !== m.inRoom) {
        problems.push(
          `step ${step}: socket ${k} last_seq ${r}: got ${JSON.stringify(got)} reading ${JSON.stringify(readNow)} in room ${inRoom}; ` +
            `model ${JSON.stringify(want)} reading ${limit ?? 'nothing'} in room ${m.inRoom}`,
        );
      }
    }
    console.log(`    resumes by outcome: ${JSON.stringify(outcomes)}`);
    assert.deepEqual(problems, [], `FUZZ_SEED=${seed}`);
  });
});

/**
 * Events that commit in the same event-loop turn are emitted back to back and, on WebSockets,
 * written to each socket in one system call (server/platform/socket/ws-write-batching.ts). What a
 * subscriber must see is unchanged by that: every event, intact, on every transport.
 */
import assert from 'node:assert/strict';
import type { Socket } from 'socket.io-client';
import { call, closeAll, connect, newUserId, record } from './helpers/clients.js';
import { createLot } from './helpers/fixtures.js';
import { startTestServer, type TestServer } from './helpers/server.js';
import { waitUntil } from './helpers/measure.js';

const EDITS = 40;

describe('fan-out of events committed together (real Postgres)', () => {
  let server: TestServer;

  before(async () => {
    // "Each once" is about the write batching. The outbox sweeper may legitimately send an event
    // again when its dispatch is slower than the grace (a loaded machine: a duplicate clients drop
    // by seq); here it waits long enough that any second copy can only come from the batching.
    server = await startTestServer({ OUTBOX_SWEEP_GRACE_MS: '600000' });
  });
  after(() => server.stop());
  afterEach(closeAll);

  const pollingClient = async (token: string) => (await connect(server.url, token, { transports: ['polling'] })).socket;

  /** A browser-like subscriber: long-polling first, then upgraded to a WebSocket; resolved once upgraded. */
  async function upgradedClient(token: string): Promise<Socket> {
    const { socket } = await connect(server.url, token, { transports: ['polling', 'websocket'] });
    await waitUntil(() => socket.io.engine.transport.name === 'websocket', 5000, 'the upgrade to a WebSocket');
    return socket;
  }

  it(`${EDITS} availability edits at once reach WebSocket, long-polling and upgraded subscribers, each once, none lost, the last one last by seq`, async () => {
    const lot = await createLot(server.db, { total: 100 });
    const room = `parking_lot:${lot}`;
    const subscribers: Socket[] = [
      (await connect(server.url, server.token(newUserId()))).socket,
      (await connect(server.url, server.token(newUserId()))).socket,
      await pollingClient(server.token(newUserId())),
      await upgradedClient(server.token(newUserId())),
    ];
    const seen = subscribers.map((s) => record(s, 'parking_updated'));
    for (const s of subscribers) assert.equal((await call(s, 'subscribe', { room })).ok, true);
    const { socket: admin } = await connect(server.url, server.token(newUserId(), 'admin'));

    // Sent without waiting: the replies come back from Postgres together and are emitted in batches.
    const answers = await Promise.all(
      Array.from({ length: EDITS }, (_, i) => call(admin, 'set_parking_availability', { parking_lot_id: lot, available_spaces: i + 1 })),
    );
    assert.ok(answers.every((a) => a.ok === true), JSON.stringify(answers.find((a) => !a.ok)));

    await waitUntil(() => seen.every((list) => list.length >= EDITS), 10_000, `${EDITS} parking_updated on every subscriber`);
    const { rows } = await server.db.query<{ available_spaces: number }>('select available_spaces from public.lot_availability($1)', [lot]);
    for (const [i, list] of seen.entries()) {
      const seqs = list.map((p) => p.seq as number).sort((a, b) => a - b);
      assert.equal(new Set(seqs).size, EDITS, `subscriber ${i}: no duplicates`);
      assert.equal(seqs[EDITS - 1]! - seqs[0]!, EDITS - 1, `subscriber ${i}: contiguous seqs ${seqs.join(',')}`);
      const last = list.reduce((a, b) => (b.seq > a.seq ? b : a));
      assert.equal(last.available_spaces, rows[0]!.available_spaces, `subscriber ${i}: the highest seq carries the lot's final count`);
      assert.ok(list.every((p) => p.parking_lot_id === lot && typeof p.timestamp === 'string'), `subscriber ${i}: intact payloads`);
    }
  });

  it('20 announcements to a lot room at once reach its WebSocket and long-polling subscribers, each once, and no one else', async () => {
    const lot = await createLot(server.db);
    const room = `parking_lot:${lot}`;
    const inRoom: Socket[] = [(await connect(server.url, server.token(newUserId()))).socket, await pollingClient(server.token(newUserId()))];
    for (const s of inRoom) assert.equal((await call(s, 'subscribe', { room })).ok, true);
    const { socket: outsider } = await connect(server.url, server.token(newUserId()));
    const seen = inRoom.map((s) => record(s, 'system_announcement'));
    const outsiderSeen = record(outsider, 'system_announcement');
    const { socket: admin } = await connect(server.url, server.token(newUserId(), 'admin'));

    const messages = Array.from({ length: 20 }, (_, i) => `burst ${lot} #${i}`);
    const answers = await Promise.all(messages.map((message) => call(admin, 'send_announcement', { message, room })));
    assert.ok(answers.every((a) => a.ok === true), JSON.stringify(answers.find((a) => !a.ok)));

    await waitUntil(() => seen.every((list) => list.length >= messages.length), 10_000, 'every announcement on every subscriber');
    for (const list of seen) assert.deepEqual(list.map((p) => p.message).sort(), [...messages].sort());
    assert.equal(outsiderSeen.length, 0, 'a socket outside the room got none');
  });
});

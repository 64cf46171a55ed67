/**
 * A reconnect storm behind a trusted balancer: every client of a stopped node comes back at once,
 * through one proxy address, resuming its lot room with `last_seq`. The connection limits key on
 * each client's own address (X-Forwarded-For from a trusted proxy), so none is refused even with
 * a budget far below the storm; every client gets exactly the events it missed; the connection
 * log gets every row, written in batches rather than a transaction per connection.
 */
import assert from 'node:assert/strict';
import { io, type Socket } from 'socket.io-client';
import { rooms } from '../server/contract/index.js';
import { call, closeAll, connect, newUserId } from './helpers/clients.js';
import { createLot } from './helpers/fixtures.js';
import { startTestServer, type TestServer } from './helpers/server.js';

const CLIENTS = 80;
const MISSED = 3;
const BATCH = 25;

interface Resumed {
  socket: Socket;
  events: number[];
  resumed: { rooms: { room: string; replayed: number; seq: number }[]; failed: unknown[] } | undefined;
  error: (Error & { data?: { code?: string } }) | undefined;
}

/** A client behind the balancer: its own address in X-Forwarded-For; resolves at `resumed` or its connect_error. */
function resume(server: TestServer, token: string, ip: string, room: string, lastSeq: number): Promise<Resumed> {
  const socket = io(server.url, {
    auth: { token, last_seq: { [room]: lastSeq } },
    transports: ['websocket'],
    reconnection: false,
    forceNew: true,
    extraHeaders: { 'x-forwarded-for': ip },
  });
  const out: Resumed = { socket, events: [], resumed: undefined, error: undefined };
  socket.on('parking_updated', (p: { room: string; seq: number }) => p.room === room && out.events.push(p.seq));
  return new Promise((resolve) => {
    socket.once('resumed', (r: Resumed['resumed']) => resolve({ ...out, resumed: r }));
    socket.once('connect_error', (error: Resumed['error']) => resolve({ ...out, error }));
  });
}

describe('a reconnect storm behind a trusted balancer', function () {
  this.timeout(60_000);
  let first: TestServer;
  let second: TestServer;
  // A budget far below the storm, per address; batches of connection-log rows, no timer flush.
  const env = { RATE_LIMIT_CONNECTIONS: '3/60', TRUST_PROXY: 'loopback', ACTIVITY_FLUSH_INTERVAL_MS: '60000', ACTIVITY_BATCH_MAX: String(BATCH) };
  before(async () => {
    // Two nodes of one process: names of their own, or their connection-log rows would mix.
    const run = newUserId().slice(0, 8);
    first = await startTestServer({ ...env, NODE_ID: `storm-a-${run}` });
    second = await startTestServer({ ...env, NODE_ID: `storm-b-${run}` });
  });
  after(async () => {
    closeAll();
    await first?.stop();
    await second?.stop();
  });

  it('lets every client back in at once, replays exactly what each missed, and logs every connection in batches', async () => {
    const lot = await createLot(first.db, { total: 100 });
    const room = rooms.lot(lot);
    const users = Array.from({ length: CLIENTS }, () => newUserId());
    const ips = users.map((_, i) => `198.51.100.${i + 1}`);

    const before = await Promise.all(users.map((u, i) => resume(first, first.token(u), ips[i]!, room, 0)));
    assert.deepEqual(before.filter((c) => c.error).map((c) => c.error!.data?.code), []);
    for (const c of before) c.socket.close();

    // While they are away, the lot changes MISSED times (on the node they will come back to).
    const { socket: admin } = await connect(second.url, second.token(newUserId(), 'admin'));
    for (let k = 0; k < MISSED; k++) {
      const answer = await call(admin, 'set_parking_availability', { parking_lot_id: lot, available_spaces: 50 + k });
      assert.equal(answer.ok, true, JSON.stringify(answer));
    }
    admin.close();

    const after = await Promise.all(users.map((u, i) => resume(second, second.token(u), ips[i]!, room, 0)));
    assert.deepEqual(after.filter((c) => c.error).map((c) => `${c.error!.message} ${c.error!.data?.code}`), [], 'no client refused');
    for (const c of after) {
      assert.deepEqual(c.resumed!.failed, []);
      assert.deepEqual(c.resumed!.rooms.map((r) => [r.room, r.replayed, r.seq]), [[room, MISSED, MISSED]]);
      assert.deepEqual(c.events, [1, 2, 3]);
    }

    // Every connection of the storm is in the log, and it took far fewer writes than connections.
    const flushesBefore = second.app.activity.stats.flushes;
    await second.app.activity.flush();
    const { rows } = await second.db.asSystem((tx) =>
      tx.query<{ n: number; ips: number }>(
        'select count(*)::int as n, count(distinct ip)::int as ips from public.realtime_connection_log where node_id = $1 and user_id = any($2::uuid[])',
        [second.config.nodeId, users],
      ),
    );
    assert.deepEqual(rows[0], { n: CLIENTS, ips: CLIENTS });
    assert.ok(second.app.activity.stats.flushes <= Math.ceil((CLIENTS + 1) / BATCH) + 1, `${second.app.activity.stats.flushes} flushes (${flushesBefore} before the last) for ${CLIENTS + 1} connections`);
    for (const c of after) c.socket.close();
  });
});

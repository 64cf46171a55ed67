import assert from 'node:assert/strict';
import { call, closeAll, connect, newUserId } from './helpers/clients.js';
import { createLot } from './helpers/fixtures.js';
import { startTestServer, type TestServer } from './helpers/server.js';
import { waitUntil } from './helpers/measure.js';

describe('realtime activity log', () => {
  let server: TestServer;
  before(async () => {
    // A long interval: only a full batch or an explicit flush writes, so the test sees batching.
    server = await startTestServer({ ACTIVITY_FLUSH_INTERVAL_MS: '60000', ACTIVITY_BATCH_MAX: '100' });
  });
  after(() => server.stop());
  afterEach(closeAll);

  const rows = (sql: string, values: unknown[]) => server.db.asSystem(async (tx) => (await tx.query(sql, values)).rows);

  it('records a connection with user, role, node and, after disconnect, its duration', async () => {
    const userId = newUserId();
    const { socket, connected } = await connect(server.url, server.token(userId));
    socket.close();
    await waitUntil(() => server.app.io.of('/').sockets.size === 0);
    await server.app.activity.flush();

    const [row] = await rows('select * from public.realtime_connection_log where socket_id = $1', [connected.socket_id]);
    assert.ok(row, 'connection row written');
    assert.equal(row.user_id, userId);
    assert.equal(row.app_role, 'user');
    assert.equal(row.node_id, server.config.nodeId);
    assert.ok(row.disconnected_at instanceof Date);
    assert.ok(Number(row.duration_ms) >= 0);
    assert.equal(row.disconnect_reason, 'client namespace disconnect');
  });

  it('writes a burst of client events in a few batches, not one INSERT per message', async () => {
    const userId = newUserId();
    const lot = await createLot(server.db);
    const { socket } = await connect(server.url, server.token(userId));
    const before = server.app.activity.stats.flushes;

    const burst = 250;
    await Promise.all(
      Array.from({ length: burst }, (_, i) =>
        call(socket, 'get_parking_availability', i % 10 === 0 ? { parking_lot_id: 42 } : { parking_lot_id: lot }),
      ),
    );
    await server.app.activity.flush();

    const [counts] = await rows(
      `select count(*)::int as total, count(*) filter (where not ok)::int as failed,
              count(*) filter (where error_code = 'VALIDATION_ERROR')::int as validation
         from public.realtime_event_log where user_id = $1 and event = 'get_parking_availability'`,
      [userId],
    );
    assert.deepEqual(counts, { total: burst, failed: burst / 10, validation: burst / 10 });
    const flushes = server.app.activity.stats.flushes - before;
    assert.ok(flushes <= Math.ceil(burst / 100) + 1, `${burst} events took ${flushes} flushes (batch max 100)`);
  });

  it('keeps rows buffered when a flush fails and writes them on the next one', async () => {
    const userId = newUserId();
    const { socket } = await connect(server.url, server.token(userId));
    await call(socket, 'get_parking_availability', {});
    const table = (from: string, to: string) => server.db.query(`alter table public.${from} rename to ${to}`);
    // Make the next flush fail for real: its table is briefly not there.
    await table('realtime_event_log', 'realtime_event_log_away');
    try {
      await server.app.activity.flush();
      assert.ok(server.app.activity.pending >= 1, 'the event is still buffered after the failed flush');
    } finally {
      await table('realtime_event_log_away', 'realtime_event_log');
    }
    await server.app.activity.flush();
    assert.equal(server.app.activity.pending, 0);
    const found = await rows('select count(*)::int as n from public.realtime_event_log where user_id = $1', [userId]);
    assert.equal(found[0].n, 1);
  });
});

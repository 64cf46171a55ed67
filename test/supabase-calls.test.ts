/**
 * The supabase-js data path. No PostgREST can run on this machine, so what is tested here is what
 * can be tested honestly: the HTTP requests supabase-js makes for each command (path, method,
 * the caller's JWT, the anon key, the SQL function's parameters), how PostgREST-shaped answers and
 * errors are mapped, and that a server configured this way dispatches the events the function
 * returns. That the SQL functions behave under PostgREST's role switch is covered by the suites
 * that run them in Postgres as `authenticated` with the same claims (rls, bookings).
 */
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomUUID } from 'node:crypto';
import { createTokenVerifier } from '../server/platform/auth/jwt.js';
import { createSupabaseCalls } from '../server/platform/data/supabase-calls.js';
import { call, closeAll, connect, nextEvent } from './helpers/clients.js';
import { freePort } from './helpers/env.js';
import { startTestServer, TEST_SECRET, type TestServer } from './helpers/server.js';
import { mintToken } from '../server/platform/auth/tokens.js';
import { request } from './helpers/http.js';

interface Recorded {
  method: string;
  path: string;
  query: URLSearchParams;
  headers: IncomingMessage['headers'];
  body: unknown;
}

/** An HTTP endpoint standing where Supabase's API would be: records requests, answers as told. */
async function fakeDataApi(answer: (req: Recorded) => { status: number; body: unknown }) {
  const requests: Recorded[] = [];
  const server: Server = createServer((req, res) => {
    let raw = '';
    req.on('data', (c) => (raw += c));
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://x');
      const rec: Recorded = { method: req.method ?? '', path: url.pathname, query: url.searchParams, headers: req.headers, body: raw ? JSON.parse(raw) : undefined };
      requests.push(rec);
      const { status, body } = answer(rec);
      res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { url, requests, close: () => new Promise<void>((r) => server.close(() => r())) };
}

const verifier = createTokenVerifier({ secret: TEST_SECRET, roleClaimPath: ['app_metadata', 'role'], clockToleranceSeconds: 5 });
const principalOf = async (userId: string, role: 'user' | 'admin' = 'user') => (await verifier).verify(mintToken({ secret: TEST_SECRET, userId, appRole: role }));
const ANON_KEY = 'anon-key-of-the-project';

const booking = (userId: string, lot: string) => ({
  id: randomUUID(), user_id: userId, parking_lot_id: lot, starts_at: new Date().toISOString(), ends_at: new Date(Date.now() + 3_600_000).toISOString(),
  status: 'pending', hold_expires_at: new Date(Date.now() + 900_000).toISOString(), amount_cents: 300, currency: 'EUR', vehicle_plate: null,
  created_at: new Date().toISOString(), updated_at: new Date().toISOString(),
});

describe('supabase-js data path (DATA_API=supabase)', () => {
  it('names this node in x-spotcast-node, so the events the call logs are left to it (see migrations/002_event_log.sql)', async () => {
    const api = await fakeDataApi(() => ({ status: 200, body: { booking: booking(randomUUID(), randomUUID()), replayed: false, events: [] } }));
    try {
      const principal = await principalOf(randomUUID());
      await createSupabaseCalls({ url: api.url, anonKey: ANON_KEY, nodeId: 'node-7' }).call(principal, 'cancel_booking', { p_booking_id: randomUUID(), p_reason: null });
      assert.equal(api.requests[0]?.headers['x-spotcast-node'], 'node-7');
    } finally {
      await api.close();
    }
  });

  it("calls create_booking over rpc with the caller's JWT and the anon key, and returns its result", async () => {
    const userId = randomUUID();
    const lot = randomUUID();
    const result = { booking: booking(userId, lot), replayed: false, events: [] };
    const api = await fakeDataApi(() => ({ status: 200, body: result }));
    try {
      const principal = await principalOf(userId);
      const out = await createSupabaseCalls({ url: api.url, anonKey: ANON_KEY }).call(principal, 'create_booking', {
        p_lot_id: lot, p_starts_at: null, p_ends_at: null, p_duration_minutes: 60, p_idempotency_key: 'k1', p_vehicle_plate: null,
      });
      assert.deepEqual(out, result);
      const [req] = api.requests;
      assert.equal(req?.method, 'POST');
      assert.equal(req?.path, '/rest/v1/rpc/create_booking');
      assert.equal(req?.headers.authorization, `Bearer ${principal.token}`);
      assert.equal(req?.headers.apikey, ANON_KEY);
      assert.deepEqual(req?.body, {
        p_lot_id: lot, p_starts_at: null, p_ends_at: null, p_duration_minutes: 60, p_idempotency_key: 'k1', p_vehicle_plate: null,
      });
    } finally {
      await api.close();
    }
  });

  it('reads through the same functions as the direct path (list_bookings over rpc, as the caller)', async () => {
    const userId = randomUUID();
    const api = await fakeDataApi(() => ({ status: 200, body: [booking(userId, randomUUID())] }));
    try {
      const principal = await principalOf(userId);
      const rows = await createSupabaseCalls({ url: api.url, anonKey: ANON_KEY }).call(principal, 'list_bookings', { p_status: 'pending', p_limit: 5, p_user_id: null });
      assert.equal((rows as unknown[]).length, 1);
      const [req] = api.requests;
      assert.equal(req?.method, 'POST');
      assert.equal(req?.path, '/rest/v1/rpc/list_bookings');
      assert.equal(req?.headers.authorization, `Bearer ${principal.token}`);
      assert.deepEqual(req?.body, { p_status: 'pending', p_limit: 5, p_user_id: null });
    } finally {
      await api.close();
    }
  });

  it("maps PostgREST's errors to the same client errors as the direct path", async () => {
    const cases: [{ status: number; body: unknown }, string][] = [
      [{ status: 400, body: { code: 'P0001', message: 'No space left in Riverside', hint: 'LOT_FULL', details: null } }, 'LOT_FULL'],
      [{ status: 404, body: { code: 'P0002', message: 'Booking x does not exist', hint: 'NOT_FOUND', details: null } }, 'NOT_FOUND'],
      [{ status: 403, body: { code: '42501', message: 'permission denied for function apply_payment_event', hint: null, details: null } }, 'FORBIDDEN'],
      [{ status: 400, body: { code: '22023', message: 'ends_at must be after starts_at', hint: 'VALIDATION_ERROR', details: null } }, 'VALIDATION_ERROR'],
      [{ status: 401, body: { code: 'PGRST301', message: 'JWT expired', hint: null, details: null } }, 'TOKEN_INVALID'],
    ];
    for (const [answer, code] of cases) {
      const api = await fakeDataApi(() => answer);
      try {
        await assert.rejects(
          createSupabaseCalls({ url: api.url, anonKey: ANON_KEY }).call(await principalOf(randomUUID()), 'cancel_booking', { p_booking_id: randomUUID(), p_reason: null }),
          (err: { code?: string }) => err.code === code,
          `${JSON.stringify(answer.body)} → ${code}`,
        );
      } finally {
        await api.close();
      }
    }
  });

  it('answers SERVICE_UNAVAILABLE when the data API cannot be reached', async () => {
    const port = await freePort();
    await assert.rejects(
      createSupabaseCalls({ url: `http://127.0.0.1:${port}`, anonKey: ANON_KEY }).call(await principalOf(randomUUID()), 'lot_availability', { p_lot_id: null }),
      (err: { code?: string }) => err.code === 'SERVICE_UNAVAILABLE',
    );
  });

  describe('a server configured with it', () => {
    let server: TestServer;
    let api: Awaited<ReturnType<typeof fakeDataApi>>;
    const userId = randomUUID();
    const lot = randomUUID();
    before(async () => {
      const created = booking(userId, lot);
      const event = {
        id: 987654, stream: `user:${userId}`, seq: 7, event: 'booking_updated', rooms: [`user:${userId}`, 'admin'],
        payload: { booking_id: created.id, status: 'pending', action: 'created', booking: created, timestamp: created.created_at },
      };
      api = await fakeDataApi((req) =>
        req.path === '/rest/v1/rpc/create_booking' ? { status: 200, body: { booking: created, replayed: false, events: [event] } } : { status: 404, body: {} },
      );
      server = await startTestServer({}, { calls: createSupabaseCalls({ url: api.url, anonKey: ANON_KEY }) });
    });
    after(async () => {
      closeAll();
      await server.stop();
      await api.close();
    });

    it('sends REST and socket bookings through rpc and emits the events the function logged', async () => {
      const token = server.token(userId);
      const { socket } = await connect(server.url, token);
      const announced = nextEvent(socket, 'booking_updated');
      const rest = await request(server, 'POST', '/bookings', { token, body: { parking_lot_id: lot, duration_minutes: 60 } });
      assert.equal(rest.status, 201);
      const event = await announced;
      assert.deepEqual([event.event_id, event.seq, event.room], [987654, 7, `user:${userId}`]);
      const viaSocket = await call(socket, 'create_booking', { parking_lot_id: lot, duration_minutes: 60 });
      assert.equal(viaSocket.ok, true);
      const rpcs = api.requests.filter((r) => r.path === '/rest/v1/rpc/create_booking');
      assert.equal(rpcs.length, 2);
      assert.ok(rpcs.every((r) => r.headers.authorization === `Bearer ${token}`), "each carried the caller's own token");
    });
  });

  it("an operator's admin's live stats: admin_scope over rpc with its own JWT, and only the lots the database says are its", async () => {
    const op = randomUUID();
    const own = randomUUID();
    const lot = (id: string) => ({ id, parking_lot_id: id, name: id, total_spaces: 10, out_of_service: 0, occupied_unbooked: 0, held: 0, available_spaces: 10, is_open: true, updated_at: new Date().toISOString() });
    const answers: Record<string, unknown> = {
      '/rest/v1/rpc/admin_scope': { platform: false, operator_id: op, lot_ids: [own], user_ids: [] },
      '/rest/v1/rpc/admin_today': { connections: 0 },
      '/rest/v1/rpc/lot_availability': [lot(own), lot(randomUUID())],
    };
    const api = await fakeDataApi((req) => (req.path in answers ? { status: 200, body: answers[req.path] } : { status: 404, body: {} }));
    const server = await startTestServer({}, { calls: createSupabaseCalls({ url: api.url, anonKey: ANON_KEY }) });
    try {
      const token = mintToken({ secret: TEST_SECRET, userId: randomUUID(), appRole: 'admin', orgId: op });
      const res = await request(server, 'GET', '/realtime/live-stats', { token });
      assert.equal(res.status, 200, JSON.stringify(res.body));
      assert.deepEqual([res.body.data.stats.lots.count, res.body.data.stats.scope], [1, { operator_id: op }]);
      const scope = api.requests.find((r) => r.path === '/rest/v1/rpc/admin_scope');
      assert.equal(scope?.headers.authorization, `Bearer ${token}`);
    } finally {
      await server.stop();
      await api.close();
    }
  });
});

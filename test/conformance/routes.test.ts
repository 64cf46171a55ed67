/**
 * Every HTTP route the reference document lists ("API Endpoints › Real-Time Routes"), read from
 * the document: answered for whom it is for, 403 for a user on an admin route, 401 without a
 * token. And the document's FRONTEND_URL (its "Environment Variables" block) as the CORS origin.
 */
import assert from 'node:assert/strict';
import type { RecordingService } from './build.js';
import { environment, routes, type Route } from './document.js';
import { book, connected, disconnectAll, lot, received, shown, startWorld, user, type World } from './world.js';
import { request } from '../helpers/http.js';

const documentEnv = environment();

describe('reference document: its HTTP routes and FRONTEND_URL, against a real server', () => {
  let world: World;
  let lotId: string;
  let me: { id: string; token: string };
  let service: RecordingService;
  let bookingId: string;

  before(async () => {
    assert.ok(documentEnv.FRONTEND_URL, 'the document sets FRONTEND_URL');
    world = await startWorld(documentEnv);
    lotId = await lot(world, { total: 100 });
    me = user(world);
    service = new world.app.default(me.token);
    await connected(service);
    service.subscribeToParkingLot(lotId);
    await received(service, 'subscribed');
    bookingId = (await book(world, me.token, lotId)).id;
  });
  after(async () => {
    await disconnectAll(world);
    await world.close();
  });

  /** A body each writing route needs, and what its answer (and the user's service) must show. */
  const cases: Record<string, { body?: unknown; check(data: any): Promise<void> }> = {
    'GET /realtime/parking-availability': {
      check: async (d) => assert.ok(d.lots.some((l: { parking_lot_id: string }) => l.parking_lot_id === lotId)),
    },
    'GET /realtime/connection-status': {
      // Asked as the user: their live socket. Asked as the admin (no socket): not connected.
      check: async (d) => assert.deepEqual(d.sockets.map((s: { socket_id: string }) => s.socket_id), d.user.id === me.id ? [service.socket.id] : []),
    },
    'GET /realtime/connections': {
      check: async (d) => assert.ok(d.sockets.some((s: { socket_id: string }) => s.socket_id === service.socket.id), JSON.stringify(d).slice(0, 300)),
    },
    'GET /realtime/live-stats': {
      check: async (d) => assert.equal(d.stats.cluster.rooms[`parking_lot:${lotId}`], 1),
    },
    'GET /realtime/booking-activity': {
      check: async (d) => assert.ok(d.activity.some((a: { booking_id: string; action: string }) => a.booking_id === bookingId && a.action === 'created')),
    },
    'POST /realtime/announcement': {
      body: { message: 'The car park closes at midnight', type: 'info' },
      check: async () => assert.equal((await shown(service, 'showSystemMessage')).message, 'The car park closes at midnight'),
    },
    'PUT /realtime/parking-lots/:id/availability': {
      body: { available_spaces: 42 },
      check: async (d) => {
        assert.equal(d.available_spaces, 42);
        assert.equal((await shown(service, 'updateParkingDisplay', (p) => p.available_spaces === 42)).parking_lot_id, lotId);
      },
    },
  };

  const call = (r: Route, token?: string) => {
    const c = cases[`${r.method} ${r.path}`];
    return request(world.server, r.method, r.path.replace(':id', lotId), { ...(token ? { token } : {}), ...(c?.body ? { body: c.body } : {}) });
  };

  for (const r of routes()) {
    it(`${r.method} ${r.path}: ${r.admin ? 'an admin is answered, a user gets 403' : 'a user and an admin are answered'}; no token: 401`, async () => {
      const c = cases[`${r.method} ${r.path}`];
      assert.ok(c, `the document lists ${r.method} ${r.path}, which this suite has no case for`);
      const anonymous = await call(r);
      assert.equal(anonymous.status, 401);
      assert.equal(anonymous.body.error.code, 'TOKEN_MISSING');
      const asUser = await call(r, me.token);
      if (r.admin) {
        assert.equal(asUser.status, 403, JSON.stringify(asUser.body));
        assert.equal(asUser.body.error.code, 'FORBIDDEN');
      } else {
        assert.equal(asUser.status, 200, JSON.stringify(asUser.body));
        await c.check(asUser.body.data);
      }
      const asAdmin = await call(r, world.admin.token);
      assert.equal(asAdmin.status, r.method === 'POST' ? 201 : 200, JSON.stringify(asAdmin.body));
      assert.equal(asAdmin.body.ok, true);
      await c.check(asAdmin.body.data);
    });
  }

  it("GET /realtime/parking-availability?parking_lot_id= a lot's id: that lot; the document's '123': 404 NOT_FOUND", async () => {
    const one = await request(world.server, 'GET', `/realtime/parking-availability?parking_lot_id=${lotId}`, { token: me.token });
    assert.deepEqual(one.body.data.lots.map((l: { parking_lot_id: string }) => l.parking_lot_id), [lotId]);
    const placeholder = await request(world.server, 'GET', '/realtime/parking-availability?parking_lot_id=123', { token: me.token });
    assert.equal(placeholder.status, 404);
    assert.deepEqual(placeholder.body, { ok: false, error: { code: 'NOT_FOUND', message: 'Parking lot 123 does not exist (lot ids are uuids)' } });
  });

  describe(`FRONTEND_URL=${documentEnv.FRONTEND_URL} (the document's) is the CORS origin`, () => {
    const paths = { 'a long-polling handshake': '/socket.io/?EIO=4&transport=polling', 'GET /realtime/parking-availability': '/realtime/parking-availability' };
    for (const [what, path] of Object.entries(paths)) {
      it(`${what}: allowed from that origin, not from another`, async () => {
        const from = (origin: string) => request(world.server, 'GET', path, { token: me.token, headers: { origin } });
        const allowed = await from(documentEnv.FRONTEND_URL!);
        assert.equal(allowed.status, 200);
        assert.equal(allowed.headers.get('access-control-allow-origin'), documentEnv.FRONTEND_URL);
        const other = await from('http://localhost:3001');
        assert.equal(other.headers.get('access-control-allow-origin'), null);
      });
    }
  });
});

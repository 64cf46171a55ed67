import assert from 'node:assert/strict';
import { call, closeAll, connect, newUserId, nextEvent, record } from './helpers/clients.js';
import { createLot } from './helpers/fixtures.js';
import { startTestServer, type TestServer } from './helpers/server.js';
import { sleep, waitUntil } from './helpers/measure.js';
import { request } from './helpers/http.js';

describe('admin actions', () => {
  let server: TestServer;
  let adminToken: string;
  const adminId = newUserId();
  before(async () => {
    server = await startTestServer();
    adminToken = server.token(adminId, 'admin');
  });
  after(() => server.stop());
  afterEach(async () => {
    closeAll();
    await waitUntil(() => server.app.io.of('/').sockets.size === 0);
  });

  async function auditRows(targetId: string) {
    const { rows } = await server.db.asSystem((tx) =>
      tx.query('select actor_id, action, details from public.admin_audit_log where target_id = $1 order by id', [targetId]),
    );
    return rows;
  }

  describe('availability edit', () => {
    it('reaches subscribers of that lot and of parking_updates, and not subscribers of another lot', async () => {
      const lot = await createLot(server.db, { total: 20 });
      const other = await createLot(server.db, { total: 20 });
      const { socket: watcher } = await connect(server.url, server.token(newUserId()));
      const { socket: global } = await connect(server.url, server.token(newUserId()));
      const { socket: elsewhere } = await connect(server.url, server.token(newUserId()));
      assert.equal((await call(watcher, 'subscribe', { room: `parking_lot:${lot}` })).ok, true);
      assert.equal((await call(global, 'subscribe', { type: 'parking_updates' })).ok, true);
      assert.equal((await call(elsewhere, 'subscribe', { room: `parking_lot:${other}` })).ok, true);
      const strays = record(elsewhere, 'parking_updated');

      const onLot = nextEvent(watcher, 'parking_updated');
      const onGlobal = nextEvent(global, 'parking_updated');
      const res = await request(server, 'PUT', `/realtime/parking-lots/${lot}/availability`, {
        token: adminToken,
        body: { available_spaces: 7, reason: 'night count' },
      });
      assert.equal(res.status, 200);
      assert.equal(res.body.data.available_spaces, 7);

      for (const event of [await onLot, await onGlobal]) {
        assert.equal(event.parking_lot_id, lot);
        assert.equal(event.available_spaces, 7);
        assert.equal(event.action, 'availability_updated');
        assert.ok(!Number.isNaN(Date.parse(event.timestamp)));
      }
      await sleep(200);
      assert.deepEqual(strays, []);
    });

    it('is stored: later availability queries see it, and it is audited with the admin as actor', async () => {
      const lot = await createLot(server.db, { total: 12 });
      await request(server, 'PUT', `/realtime/parking-lots/${lot}/availability`, {
        token: adminToken,
        body: { available_spaces: 4, out_of_service: 2 },
      });
      const { socket } = await connect(server.url, server.token(newUserId()));
      const res = await call(socket, 'get_parking_availability', { parking_lot_id: lot });
      assert.equal(res.ok, true);
      assert.deepEqual(
        { available: res.data.lots[0].available_spaces, oos: res.data.lots[0].out_of_service, occupied: res.data.lots[0].occupied_unbooked },
        { available: 4, oos: 2, occupied: 6 },
      );
      const audit = await auditRows(lot);
      assert.equal(audit.length, 1);
      assert.equal(audit[0].actor_id, adminId);
      assert.equal(audit[0].action, 'set_lot_availability');
    });

    it('works as an admin socket event with the same effect', async () => {
      const lot = await createLot(server.db, { total: 5 });
      const { socket: admin } = await connect(server.url, adminToken);
      const { socket: watcher } = await connect(server.url, server.token(newUserId()));
      await call(watcher, 'subscribe', { room: `parking_lot:${lot}` });
      const seen = nextEvent(watcher, 'parking_updated');
      const res = await call(admin, 'set_parking_availability', { parking_lot_id: lot, available_spaces: 1 });
      assert.equal(res.ok, true);
      assert.equal(res.data.available_spaces, 1);
      assert.equal((await seen).available_spaces, 1);
    });

    it('refuses bad input and non-admins, and changes nothing', async () => {
      const lot = await createLot(server.db, { total: 5 });
      const userToken = server.token(newUserId());
      const cases: [string, unknown, string | undefined, number, string][] = [
        [lot, { available_spaces: -1 }, adminToken, 400, 'VALIDATION_ERROR'],
        [lot, { available_spaces: 'three' }, adminToken, 400, 'VALIDATION_ERROR'],
        [lot, {}, adminToken, 400, 'VALIDATION_ERROR'],
        [lot, { available_spaces: 6 }, adminToken, 409, 'INVALID_AVAILABILITY'],
        [lot, { out_of_service: 9 }, adminToken, 400, 'VALIDATION_ERROR'],
        ['not-a-uuid', { available_spaces: 1 }, adminToken, 404, 'NOT_FOUND'],
        ['6b1f3c1e-0000-4000-8000-000000000000', { available_spaces: 1 }, adminToken, 404, 'NOT_FOUND'],
        [lot, { available_spaces: 1 }, userToken, 403, 'FORBIDDEN'],
      ];
      for (const [id, body, token, status, code] of cases) {
        const res = await request(server, 'PUT', `/realtime/parking-lots/${id}/availability`, { token, body });
        assert.equal(res.status, status, `${JSON.stringify(body)} → ${JSON.stringify(res.body)}`);
        assert.equal(res.body.ok, false);
        assert.equal(res.body.error.code, code);
        assert.equal(typeof res.body.error.message, 'string');
      }
      const bad = await request(server, 'PUT', `/realtime/parking-lots/${lot}/availability`, { token: adminToken, rawBody: '{"available_spaces":' });
      assert.equal(bad.status, 400);
      assert.equal(bad.body.error.code, 'VALIDATION_ERROR');

      const { socket: user } = await connect(server.url, userToken);
      const refused = await call(user, 'set_parking_availability', { parking_lot_id: lot, available_spaces: 0 });
      assert.equal(refused.ok, false);
      assert.equal(refused.error.code, 'FORBIDDEN');

      const after = await request(server, 'GET', `/realtime/parking-availability?parking_lot_id=${lot}`, { token: userToken });
      assert.equal(after.body.data.lots[0].available_spaces, 5);
      assert.deepEqual(await auditRows(lot), []);
    });
  });

  describe('announcement', () => {
    it('reaches every connected client, over REST and over the socket event', async () => {
      const clients = await Promise.all([0, 1, 2].map(() => connect(server.url, server.token(newUserId()))));
      const arrivals = clients.map(({ socket }) => nextEvent(socket, 'system_announcement', (p) => p.message === 'Gate B closed'));
      const res = await request(server, 'POST', '/realtime/announcement', {
        token: adminToken,
        body: { message: 'Gate B closed', type: 'maintenance' },
      });
      assert.equal(res.status, 201);
      for (const payload of await Promise.all(arrivals)) {
        assert.equal(payload.type, 'maintenance');
        assert.equal(payload.from, adminId);
        assert.ok(payload.timestamp);
      }

      const { socket: admin } = await connect(server.url, adminToken);
      const again = clients.map(({ socket }) => nextEvent(socket, 'system_announcement', (p) => p.message === 'Reopened'));
      const ack = await call(admin, 'send_announcement', { message: 'Reopened' });
      assert.equal(ack.ok, true);
      assert.equal(ack.data.type, 'info');
      await Promise.all(again);
    });

    it('can target one room, and nobody outside it hears it', async () => {
      const lot = await createLot(server.db);
      const { socket: inside } = await connect(server.url, server.token(newUserId()));
      const { socket: outside } = await connect(server.url, server.token(newUserId()));
      await call(inside, 'subscribe', { room: `parking_lot:${lot}` });
      const strays = record(outside, 'system_announcement');
      const arrived = nextEvent(inside, 'system_announcement');
      const res = await request(server, 'POST', '/realtime/announcement', {
        token: adminToken,
        body: { message: 'Level 2 full', room: `parking_lot:${lot}` },
      });
      assert.equal(res.status, 201);
      assert.equal((await arrived).room, `parking_lot:${lot}`);
      await sleep(200);
      assert.deepEqual(strays, []);
    });

    it('refuses users and empty messages, and is audited', async () => {
      const res = await request(server, 'POST', '/realtime/announcement', { token: server.token(newUserId()), body: { message: 'hi' } });
      assert.equal(res.status, 403);
      const empty = await request(server, 'POST', '/realtime/announcement', { token: adminToken, body: { message: '   ' } });
      assert.equal(empty.status, 400);
      const badRoom = await request(server, 'POST', '/realtime/announcement', { token: adminToken, body: { message: 'x', room: 'kitchen' } });
      assert.equal(badRoom.status, 400);
      const { rows } = await server.db.asSystem((tx) =>
        tx.query(`select count(*)::int as n from public.admin_audit_log where action = 'announcement' and actor_id = $1`, [adminId]),
      );
      assert.ok(rows[0].n >= 2, 'the two announcements of the previous tests are audited');
    });
  });

  describe('live stats and connection routes', () => {
    it('counts live connections by role and lot room', async () => {
      const lot = await createLot(server.db);
      const users = await Promise.all([0, 1].map(() => connect(server.url, server.token(newUserId()))));
      for (const { socket } of users) await call(socket, 'subscribe', { room: `parking_lot:${lot}` });
      const { socket: admin } = await connect(server.url, adminToken);

      const res = await call(admin, 'get_live_stats');
      assert.equal(res.ok, true);
      const { cluster, lots } = res.data.stats;
      assert.equal(cluster.connections, 3);
      assert.deepEqual(cluster.by_role, { user: 2, admin: 1 });
      assert.equal(cluster.rooms[`parking_lot:${lot}`], 2);
      assert.equal(cluster.partial, false);
      assert.ok(lots.count >= 1);

      // Without an ack, the reply is the live_stats event of the contract.
      const event = nextEvent(admin, 'live_stats');
      admin.emit('get_live_stats', {});
      assert.equal((await event).stats.cluster.connections, 3);

      const rest = await request(server, 'GET', '/realtime/live-stats', { token: adminToken });
      assert.equal(rest.status, 200);
      assert.equal(rest.body.data.stats.cluster.connections, 3);

      const denied = await call(users[0]!.socket, 'get_live_stats', {});
      assert.equal(denied.error.code, 'FORBIDDEN');
    });

    it('lists the cluster connections for admins, and each user their own status', async () => {
      const me = newUserId();
      const { connected } = await connect(server.url, server.token(me));
      await connect(server.url, server.token(me));
      const list = await request(server, 'GET', '/realtime/connections?limit=1', { token: adminToken });
      assert.equal(list.status, 200);
      assert.equal(list.body.data.total, 2);
      assert.equal(list.body.data.sockets.length, 1);
      assert.equal(list.body.data.sockets[0].node_id, server.config.nodeId);

      const status = await request(server, 'GET', '/realtime/connection-status', { token: server.token(me) });
      assert.equal(status.status, 200);
      assert.equal(status.body.data.connected, true);
      assert.equal(status.body.data.sockets.length, 2);
      assert.ok(status.body.data.sockets.some((s: { socket_id: string }) => s.socket_id === connected.socket_id));

      const nobody = await request(server, 'GET', '/realtime/connection-status', { token: server.token(newUserId()) });
      assert.equal(nobody.body.data.connected, false);

      const badLimit = await request(server, 'GET', '/realtime/connections?limit=0', { token: adminToken });
      assert.equal(badLimit.status, 400);
    });

    it('lists booking transitions as booking activity, newest first, with who caused them', async () => {
      const lot = await createLot(server.db, { total: 3 });
      const userId = newUserId();
      const userToken = server.token(userId);
      const created = await request(server, 'POST', '/bookings', { token: userToken, body: { parking_lot_id: lot, duration_minutes: 30 } });
      assert.equal(created.status, 201);
      const bookingId = created.body.data.booking.id;
      await request(server, 'POST', `/bookings/${bookingId}/cancel`, { token: adminToken, body: { reason: 'lot maintenance' } });

      const res = await request(server, 'GET', '/realtime/booking-activity?limit=10', { token: adminToken });
      assert.equal(res.status, 200);
      const mine = res.body.data.activity.filter((a: { booking_id: string }) => a.booking_id === bookingId);
      assert.deepEqual(
        mine.map((a: { action: string; status: string; actor_id: string; user_id: string }) => [a.action, a.status, a.actor_id, a.user_id]),
        [
          ['cancelled', 'cancelled', adminId, userId],
          ['created', 'pending', userId, userId],
        ],
      );
      const denied = await request(server, 'GET', '/realtime/booking-activity', { token: userToken });
      assert.equal(denied.status, 403);
    });
  });
});

/**
 * Operators (multitenancy), over REST and the socket: operator A's admin sees and changes its own
 * lots, their bookings, events, connections and stats, and nothing of operator B's, whatever
 * route, event or room it tries (ids guessed or not). The platform admin (no org claim) is
 * unchanged: it sees everything. SQL as `authenticated` is in operators-sql.test.ts, several
 * nodes in operators-cluster.test.ts.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { call, connect, newUserId, nextEvent, record, refusal } from './helpers/clients.js';
import { createLot, createOperator, payBooking } from './helpers/fixtures.js';
import { request } from './helpers/http.js';
import { sleep } from './helpers/measure.js';
import { useTestServer } from './helpers/server.js';

describe('operators: each admin sees its own operator only (REST and socket)', function () {
  this.timeout(30_000);
  const server = useTestServer();
  let opA: string, opB: string, lotA: string, lotB: string;
  const adminA = newUserId();
  const adminB = newUserId();
  const platform = newUserId();
  const tokenA = () => server().token(adminA, 'admin', { orgId: opA });
  const tokenB = () => server().token(adminB, 'admin', { orgId: opB });
  const tokenP = () => server().token(platform, 'admin');

  before(async () => {
    opA = await createOperator(server().db, 'Operator A');
    opB = await createOperator(server().db, 'Operator B');
    lotA = await createLot(server().db, { total: 10, operatorId: opA });
    lotB = await createLot(server().db, { total: 10, operatorId: opB });
  });

  async function book(userId: string, lot: string) {
    const res = await request(server(), 'POST', '/bookings', { token: server().token(userId), body: { parking_lot_id: lot, duration_minutes: 60 } });
    assert.equal(res.status, 201, JSON.stringify(res.body));
    return res.body.data.booking as { id: string; amount_cents: number; parking_lot_id: string };
  }

  describe('rooms', () => {
    it("an operator's admin joins admin:<its operator> on connecting, not the platform's admin room", async () => {
      const { connected } = await connect(server().url, tokenA());
      assert.deepEqual(connected.rooms, [`user:${adminA}`, `admin:${opA}`]);
      const { connected: p } = await connect(server().url, tokenP());
      assert.deepEqual(p.rooms, [`user:${platform}`, 'admin']);
    });

    it("refuses it admin, admin:<B>, another user's room; allows its own room and any lot's", async () => {
      const { socket } = await connect(server().url, tokenA());
      for (const room of ['admin', `admin:${opB}`, `admin:${randomUUID()}`, `user:${adminB}`]) {
        const res = await call(socket, 'subscribe', { room });
        assert.equal(res.ok, false, room);
        assert.equal(res.error.code, 'FORBIDDEN', room);
      }
      assert.equal((await call(socket, 'subscribe', { room: `admin:${opA.toUpperCase()}` })).ok, true);
      assert.equal((await call(socket, 'subscribe', { room: `parking_lot:${lotB}` })).ok, true, 'lots are public to every signed-in user');
      // A driver carrying A's org claim is no admin of anything.
      const { socket: driver } = await connect(server().url, server().token(newUserId(), 'user', { orgId: opA }));
      assert.equal((await call(driver, 'subscribe', { room: `admin:${opA}` })).error.code, 'FORBIDDEN');
    });

    it('the platform admin may join any operator room; an admin token whose org claim is not an id is refused', async () => {
      const { socket } = await connect(server().url, tokenP());
      assert.equal((await call(socket, 'subscribe', { room: `admin:${opB}` })).ok, true);
      const bad = server().token(newUserId(), 'admin', { orgId: 'operator-b' });
      assert.equal((await refusal(server().url, bad)).data?.code, 'TOKEN_CLAIMS_INVALID');
      assert.equal((await request(server(), 'GET', '/realtime/live-stats', { token: bad })).status, 401);
    });

    it("a refreshed token moves the socket: platform admin to A's admin leaves admin and joins admin:<A>", async () => {
      const { socket } = await connect(server().url, server().token(platform, 'admin'));
      const res = await call(socket, 'refresh_token', { token: server().token(platform, 'admin', { orgId: opA }) });
      assert.equal(res.ok, true, JSON.stringify(res));
      const room = (name: string) => call(socket, 'subscribe', { room: name });
      assert.equal((await room('admin')).error.code, 'FORBIDDEN', 'no longer the platform admin');
      // Already in admin:<A> (joined by the refresh): subscribing again answers ok and changes nothing.
      assert.equal((await room(`admin:${opA}`)).ok, true);
      const [state] = await server().app.io.in(socket.id!).fetchSockets();
      assert.deepEqual([...state!.rooms].filter((r) => r.startsWith('admin')), [`admin:${opA}`]);
      assert.equal((await room('admin:')).error.code, 'VALIDATION_ERROR');
      assert.equal((await room('admin:operator-a')).error.code, 'VALIDATION_ERROR');
    });
  });

  describe('events of the admin rooms', () => {
    it("a booking and its payment in A's lot reach admin:<A> and admin, never admin:<B>", async () => {
      const { socket: a } = await connect(server().url, tokenA());
      const { socket: b } = await connect(server().url, tokenB());
      const { socket: p } = await connect(server().url, tokenP());
      const seenByB = [record(b, 'booking_updated'), record(b, 'parking_updated'), record(b, 'payment_updated')];
      const driver = newUserId();
      const onA = nextEvent(a, 'booking_updated', (e) => e.booking.user_id === driver);
      const lotOnA = nextEvent(a, 'parking_updated', (e) => e.parking_lot_id === lotA);
      const onP = nextEvent(p, 'booking_updated', (e) => e.booking.user_id === driver);
      const booking = await book(driver, lotA);
      assert.equal((await onA).booking_id, booking.id);
      assert.equal((await lotOnA).action, 'booking_created');
      assert.equal((await onP).booking_id, booking.id);
      const paidOnA = nextEvent(a, 'payment_updated', (e) => e.booking_id === booking.id);
      await payBooking(server(), booking);
      assert.equal((await paidOnA).status, 'succeeded');
      await sleep(300);
      assert.deepEqual(seenByB, [[], [], []]);
    });
  });

  describe('changes', () => {
    it("A's admin sets its lot's availability; B's lot (or a guessed id) is FORBIDDEN over REST and socket, and unchanged", async () => {
      const ok = await request(server(), 'PUT', `/realtime/parking-lots/${lotA}/availability`, { token: tokenA(), body: { out_of_service: 1 } });
      assert.equal(ok.status, 200, JSON.stringify(ok.body));
      for (const lot of [lotB, randomUUID()]) {
        const res = await request(server(), 'PUT', `/realtime/parking-lots/${lot}/availability`, { token: tokenA(), body: { out_of_service: 3 } });
        assert.equal(res.status, 403);
        assert.equal(res.body.error.code, 'FORBIDDEN');
      }
      const { socket } = await connect(server().url, tokenA());
      const res = await call(socket, 'set_parking_availability', { parking_lot_id: lotB, out_of_service: 3 });
      assert.equal(res.error.code, 'FORBIDDEN');
      const { rows } = await server().db.asSystem((tx) => tx.query('select out_of_service from public.parking_lots where id = $1', [lotB]));
      assert.equal(rows[0].out_of_service, 0);
      // The platform admin still changes any lot.
      const platformRes = await request(server(), 'PUT', `/realtime/parking-lots/${lotB}/availability`, { token: tokenP(), body: { out_of_service: 0 } });
      assert.equal(platformRes.status, 200);
    });

    it("A's admin reads and cancels bookings in its lots; B's are NOT_FOUND, as if they did not exist", async () => {
      const driver = newUserId();
      const inA = await book(driver, lotA);
      const inB = await book(driver, lotB);
      assert.equal((await request(server(), 'GET', `/bookings/${inA.id}`, { token: tokenA() })).status, 200);
      const read = await request(server(), 'GET', `/bookings/${inB.id}`, { token: tokenA() });
      assert.equal(read.status, 404);
      const { socket } = await connect(server().url, tokenA());
      assert.equal((await call(socket, 'get_booking_status', { booking_id: inB.id })).error.code, 'NOT_FOUND');
      assert.equal((await call(socket, 'cancel_booking', { booking_id: inB.id })).error.code, 'NOT_FOUND');
      const cancelB = await request(server(), 'POST', `/bookings/${inB.id}/cancel`, { token: tokenA(), body: {} });
      assert.equal(cancelB.status, 404);
      const cancelA = await request(server(), 'POST', `/bookings/${inA.id}/cancel`, { token: tokenA(), body: { reason: 'lot closed' } });
      assert.equal(cancelA.status, 200, JSON.stringify(cancelA.body));
      const { rows } = await server().db.asSystem((tx) => tx.query('select id, status from public.bookings where id = any($1) order by status', [[inA.id, inB.id]]));
      assert.deepEqual(rows.map((r) => [r.id, r.status]), [[inA.id, 'cancelled'], [inB.id, 'pending']]);
    });
  });

  describe('the console', () => {
    it("booking activity: A's admin gets its lots' bookings only; the platform admin both", async () => {
      const driver = newUserId();
      const inA = await book(driver, lotA);
      const inB = await book(driver, lotB);
      const activity = async (token: string) =>
        (await request(server(), 'GET', '/realtime/booking-activity?limit=1000', { token })).body.data.activity as { booking_id: string; parking_lot_id: string; actor_role: string }[];
      const ofA = await activity(tokenA());
      assert.deepEqual([...new Set(ofA.map((r) => r.parking_lot_id))], [lotA]);
      assert.ok(ofA.some((r) => r.booking_id === inA.id));
      const all = (await activity(tokenP())).map((r) => r.booking_id);
      assert.ok(all.includes(inA.id) && all.includes(inB.id));
    });

    it("connections and live stats: A's admin counts sockets carrying its org or in its lots' rooms; lots are its own", async () => {
      const { socket: watcherA } = await connect(server().url, server().token(newUserId()));
      const { socket: watcherB } = await connect(server().url, server().token(newUserId()));
      await call(watcherA, 'subscribe', { room: `parking_lot:${lotA}` });
      await call(watcherB, 'subscribe', { room: `parking_lot:${lotB}` });
      const { connected: staffA } = await connect(server().url, server().token(newUserId(), 'user', { orgId: opA }));
      const { connected: a } = await connect(server().url, tokenA());
      await connect(server().url, tokenB());
      const conns = (await request(server(), 'GET', '/realtime/connections', { token: tokenA() })).body.data;
      assert.deepEqual(conns.sockets.map((s: { socket_id: string }) => s.socket_id).sort(), [watcherA.id, staffA.socket_id, a.socket_id].sort());
      assert.equal(conns.total, 3);
      assert.equal((await request(server(), 'GET', '/realtime/connections', { token: tokenP() })).body.data.total, 5);

      const { stats } = (await request(server(), 'GET', '/realtime/live-stats', { token: tokenA() })).body.data;
      assert.equal(stats.cluster.connections, 3);
      assert.deepEqual(stats.cluster.rooms, { [`parking_lot:${lotA}`]: 1 });
      assert.deepEqual(stats.scope, { operator_id: opA });
      assert.deepEqual(stats.lots, { count: 1, total_spaces: 10, available_spaces: stats.lots.available_spaces });
      const platformStats = (await request(server(), 'GET', '/realtime/live-stats', { token: tokenP() })).body.data.stats;
      assert.equal(platformStats.cluster.connections, 5);
      assert.deepEqual(platformStats.scope, { operator_id: null });
      assert.ok(platformStats.lots.count >= 2);
    });

    it("announcements: A's go to A's audience (its admins, its lots' watchers, its drivers); B's rooms are refused", async () => {
      const booked = newUserId();
      await book(booked, lotA);
      const { socket: driver } = await connect(server().url, server().token(booked));
      const { socket: watcherA } = await connect(server().url, server().token(newUserId()));
      const { socket: watcherB } = await connect(server().url, server().token(newUserId()));
      await call(watcherA, 'subscribe', { room: `parking_lot:${lotA}` });
      await call(watcherB, 'subscribe', { room: `parking_lot:${lotB}` });
      const { socket: a } = await connect(server().url, tokenA());
      const { socket: b } = await connect(server().url, tokenB());
      const { socket: bystander } = await connect(server().url, server().token(newUserId()));
      const strays = [record(watcherB, 'system_announcement'), record(b, 'system_announcement'), record(bystander, 'system_announcement')];
      const heard = [driver, watcherA, a].map((s) => nextEvent(s, 'system_announcement'));
      const res = await call(a, 'send_announcement', { message: 'Gate 2 closed', type: 'warning' });
      assert.equal(res.ok, true);
      assert.equal(res.data.operator_id, opA);
      for (const event of await Promise.all(heard)) assert.equal(event.message, 'Gate 2 closed');
      for (const room of [`parking_lot:${lotB}`, 'admin', `admin:${opB}`, `user:${booked}`]) {
        const refused = await request(server(), 'POST', '/realtime/announcement', { token: tokenA(), body: { message: 'x', room } });
        assert.equal(refused.status, 403, room);
      }
      await sleep(300);
      assert.deepEqual(strays, [[], [], []]);
      // The platform admin's still reach everyone.
      const everyone = nextEvent(bystander, 'system_announcement');
      assert.equal((await call(await connect(server().url, tokenP()).then((c) => c.socket), 'send_announcement', { message: 'all' })).ok, true);
      assert.equal((await everyone).message, 'all');
    });
  });
});

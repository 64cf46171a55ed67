import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { call, closeAll, connect, newUserId, nextEvent, record, type Client } from './helpers/clients.js';
import { createLot } from './helpers/fixtures.js';
import { startTestServer, type TestServer } from './helpers/server.js';
import { sleep } from './helpers/measure.js';
import { request } from './helpers/http.js';

/** How long a message that should not arrive gets, after the one that should have arrived did. */
const GRACE_MS = 200;

describe('rooms: subscription authorization and delivery', () => {
  let server: TestServer;

  before(async () => {
    server = await startTestServer();
  });
  after(() => server.stop());
  afterEach(() => closeAll());

  const connectUser = async (role: 'user' | 'admin' = 'user', userId = newUserId()): Promise<{ socket: Client; userId: string }> => {
    const { socket } = await connect(server.url, server.token(userId, role));
    return { socket, userId };
  };

  /** The ids of the sockets that the server has in a room. */
  const membersOf = async (room: string): Promise<string[]> => (await server.app.io.in(room).fetchSockets()).map((s) => s.id);

  describe('subscribe', () => {
    it('to parking_lot:<id> of an existing lot: ack { ok: true, data: { room } }, and the socket is in the room', async () => {
      const lotId = await createLot(server.db);
      const { socket } = await connectUser();
      const ack = await call(socket, 'subscribe', { room: `parking_lot:${lotId}` });
      assert.deepEqual(ack, { ok: true, data: { room: `parking_lot:${lotId}` } });
      assert.ok((await membersOf(`parking_lot:${lotId}`)).includes(socket.id!));
    });

    it('in the { type: "parking_lot", room: "<id>" } form', async () => {
      const lotId = await createLot(server.db);
      const { socket } = await connectUser();
      const ack = await call(socket, 'subscribe', { type: 'parking_lot', room: lotId });
      assert.deepEqual(ack, { ok: true, data: { room: `parking_lot:${lotId}` } });
      assert.ok((await membersOf(`parking_lot:${lotId}`)).includes(socket.id!));
    });

    it('to { type: "parking_updates" }', async () => {
      const { socket } = await connectUser();
      const ack = await call(socket, 'subscribe', { type: 'parking_updates' });
      assert.deepEqual(ack, { ok: true, data: { room: 'parking_updates' } });
      assert.ok((await membersOf('parking_updates')).includes(socket.id!));
    });

    it('with a lot id in upper case: joins the room that updates of that lot are sent to', async () => {
      const lotId = await createLot(server.db);
      const { socket } = await connectUser();
      const ack = await call(socket, 'subscribe', { room: `parking_lot:${lotId.toUpperCase()}` });
      assert.equal(ack.ok, true);
      assert.equal(ack.data.room, `parking_lot:${lotId}`);
      const update = nextEvent(socket, 'parking_updated', (p) => p.parking_lot_id === lotId);
      const res = await request(server, 'PUT', `/realtime/parking-lots/${lotId}/availability`, {
        token: server.token(newUserId(), 'admin'),
        body: { available_spaces: 6 },
      });
      assert.equal(res.status, 200);
      assert.equal((await update).available_spaces, 6);
    });

    it('without an ack callback: answered with a subscribed event, and errors with an error event', async () => {
      const lotId = await createLot(server.db);
      const { socket } = await connectUser();

      const subscribed = nextEvent(socket, 'subscribed');
      socket.emit('subscribe', { room: `parking_lot:${lotId}` });
      assert.deepEqual(await subscribed, { room: `parking_lot:${lotId}` });

      const invalid = nextEvent(socket, 'error');
      socket.emit('subscribe', { room: 'nope' });
      const err = await invalid;
      assert.equal(err.code, 'VALIDATION_ERROR');
      assert.equal(typeof err.message, 'string');
      assert.ok(err.message.length > 0);

      const forbidden = nextEvent(socket, 'error');
      socket.emit('subscribe', { room: 'admin' });
      assert.equal((await forbidden).code, 'FORBIDDEN');
    });
  });

  describe('who may join which room', () => {
    it("a user may not join another user's room, in either form; the socket is not put in it", async () => {
      const other = await connectUser();
      const { socket: intruder } = await connectUser();

      const attempts = [
        { room: `user:${other.userId}` },
        { type: 'user', room: other.userId },
        { room: `user:${other.userId.toUpperCase()}` },
        { type: 'parking_updates', room: `user:${other.userId}` },
      ];
      for (const payload of attempts) {
        const ack = await call(intruder, 'subscribe', payload);
        assert.equal(ack.ok, false, JSON.stringify(payload));
        assert.equal(ack.error.code, 'FORBIDDEN', JSON.stringify(payload));
      }
      const members = await membersOf(`user:${other.userId}`);
      assert.ok(members.includes(other.socket.id!), 'the owner is in their room');
      assert.ok(!members.includes(intruder.id!), 'the intruder is not');
    });

    it('a user may subscribe to their own user room, also written in upper case', async () => {
      const { socket, userId } = await connectUser();
      const ack = await call(socket, 'subscribe', { room: `user:${userId}` });
      assert.deepEqual(ack, { ok: true, data: { room: `user:${userId}` } });
      const upper = await call(socket, 'subscribe', { room: `user:${userId.toUpperCase()}` });
      assert.deepEqual(upper, { ok: true, data: { room: `user:${userId}` } });
    });

    it('a user may not join the admin room', async () => {
      const admin = await connectUser('admin');
      const { socket } = await connectUser();
      const ack = await call(socket, 'subscribe', { room: 'admin' });
      assert.equal(ack.ok, false);
      assert.equal(ack.error.code, 'FORBIDDEN');
      const typed = await call(socket, 'subscribe', { type: 'admin' });
      assert.equal(typed.error.code, 'FORBIDDEN');
      const members = await membersOf('admin');
      assert.ok(members.includes(admin.socket.id!));
      assert.ok(!members.includes(socket.id!));
    });

    it('an admin may subscribe to admin and to a user room', async () => {
      const user = await connectUser();
      const { socket: admin } = await connectUser('admin');
      assert.deepEqual(await call(admin, 'subscribe', { room: 'admin' }), { ok: true, data: { room: 'admin' } });
      assert.deepEqual(await call(admin, 'subscribe', { room: `user:${user.userId}` }), { ok: true, data: { room: `user:${user.userId}` } });
      assert.ok((await membersOf(`user:${user.userId}`)).includes(admin.id!));
    });

    it('a lot that does not exist → NOT_FOUND, and no room is joined', async () => {
      const { socket } = await connectUser();
      const missing = randomUUID();
      const ack = await call(socket, 'subscribe', { room: `parking_lot:${missing}` });
      assert.equal(ack.ok, false);
      assert.equal(ack.error.code, 'NOT_FOUND');
      assert.deepEqual(await membersOf(`parking_lot:${missing}`), []);
      // An id that cannot name a lot is the same answer, not a format error: the lot is not there.
      const notUuid = await call(socket, 'subscribe', { room: 'parking_lot:not-a-uuid' });
      assert.deepEqual(notUuid, { ok: false, error: { code: 'NOT_FOUND', message: 'Parking lot not-a-uuid does not exist (lot ids are uuids)' } });
      assert.deepEqual(await membersOf('parking_lot:not-a-uuid'), []);
    });
  });

  describe('malformed payloads', () => {
    it('are refused with VALIDATION_ERROR, and the socket stays connected and usable', async () => {
      const { socket } = await connectUser();
      const payloads: unknown[] = [
        'x',
        42,
        null,
        {},
        { room: 'parking_lot:not a lot id' },
        { room: 'nope' },
        { room: 'x'.repeat(10 * 1024) },
        { room: `parking_lot:${'a'.repeat(10 * 1024)}` },
        { type: 'no_such_type' },
        { room: 'user:' },
      ];
      for (const payload of payloads) {
        const ack = await call(socket, 'subscribe', payload);
        const label = JSON.stringify(payload).slice(0, 40);
        assert.equal(ack.ok, false, label);
        assert.equal(ack.error.code, 'VALIDATION_ERROR', label);
        assert.equal(typeof ack.error.message, 'string', label);
      }
      // A well-formed id that is not a lot's (a frontend written for other ids) names no lot.
      assert.equal((await call(socket, 'subscribe', { room: 'parking_lot:123', type: 'parking' })).error.code, 'NOT_FOUND');
      const unsub = await call(socket, 'unsubscribe', { room: 'nope' });
      assert.equal(unsub.error.code, 'VALIDATION_ERROR');

      assert.equal(socket.connected, true);
      const lotId = await createLot(server.db);
      assert.deepEqual(await call(socket, 'subscribe', { room: `parking_lot:${lotId}` }), { ok: true, data: { room: `parking_lot:${lotId}` } });
    });

    it('with no payload at all and no ack: an error event, and the socket stays connected', async () => {
      const { socket } = await connectUser();
      const err = nextEvent(socket, 'error');
      socket.emit('subscribe');
      assert.equal((await err).code, 'VALIDATION_ERROR');
      assert.equal(socket.connected, true);
      assert.deepEqual(await call(socket, 'subscribe', { type: 'parking_updates' }), { ok: true, data: { room: 'parking_updates' } });
    });
  });

  describe('unsubscribe', () => {
    it('stops updates of that lot reaching the socket, while a still-subscribed socket gets them', async () => {
      const lotId = await createLot(server.db, { total: 10 });
      const room = `parking_lot:${lotId}`;
      const { socket: leaving } = await connectUser();
      const { socket: staying } = await connectUser();
      assert.equal((await call(leaving, 'subscribe', { room })).ok, true);
      assert.equal((await call(staying, 'subscribe', { room })).ok, true);

      assert.deepEqual(await call(leaving, 'unsubscribe', { room }), { ok: true, data: { room, was_subscribed: true } });
      assert.deepEqual(await call(leaving, 'unsubscribe', { room }), { ok: true, data: { room, was_subscribed: false } });
      assert.ok(!(await membersOf(room)).includes(leaving.id!));

      const missed = record(leaving, 'parking_updated');
      const update = nextEvent(staying, 'parking_updated', (p) => p.parking_lot_id === lotId);
      const res = await request(server, 'PUT', `/realtime/parking-lots/${lotId}/availability`, {
        token: server.token(newUserId(), 'admin'),
        body: { available_spaces: 4 },
      });
      assert.equal(res.status, 200);

      const received = await update;
      assert.equal(received.parking_lot_id, lotId);
      assert.equal(received.available_spaces, 4);
      await sleep(GRACE_MS);
      assert.deepEqual(missed, []);
    });

    it('of a room never joined answers was_subscribed: false; without an ack it answers with an unsubscribed event', async () => {
      const lotId = await createLot(server.db);
      const { socket } = await connectUser();
      assert.deepEqual(await call(socket, 'unsubscribe', { type: 'parking_lot', room: lotId }), {
        ok: true,
        data: { room: `parking_lot:${lotId}`, was_subscribed: false },
      });

      assert.equal((await call(socket, 'subscribe', { type: 'parking_updates' })).ok, true);
      const unsubscribed = nextEvent(socket, 'unsubscribed');
      socket.emit('unsubscribe', { type: 'parking_updates' });
      assert.deepEqual(await unsubscribed, { room: 'parking_updates', was_subscribed: true });
      assert.ok(!(await membersOf('parking_updates')).includes(socket.id!));
    });
  });
});

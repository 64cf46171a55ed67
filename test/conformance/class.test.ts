/**
 * The reference document's `RealtimeService` class ("Frontend Integration › Basic Setup"), built
 * from the document as written, against a real server: default transports, no acknowledgement
 * callbacks, its subscribe and availability requests, and every handler reaching the app's UI
 * method with the fields the document names.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import type { RecordingService } from './build.js';
import { serverEvents } from './document.js';
import { assertFields, book, connected, disconnectAll, holdUpgrades, lot, pay, received, setAvailability, shown, startWorld, user, type World } from './world.js';
import { waitUntil } from '../helpers/measure.js';
import { request } from '../helpers/http.js';

const fields = (event: string): string[] => {
  const f = serverEvents().get(event);
  assert.ok(f, `the document names no fields for ${event}`);
  return f;
};

describe('reference document: the RealtimeService class, against a real server', () => {
  let world: World;
  let lotA: string;
  let lotB: string;
  /** Booked: large, so that the availability edits of the others never make it full. */
  let bookingLot: string;

  before(async () => {
    world = await startWorld();
    lotA = await lot(world);
    lotB = await lot(world);
    bookingLot = await lot(world, { total: 1000 });
  });
  after(() => world.close());
  afterEach(async () => {
    assert.deepEqual(world.app.strays, [], 'every UI call was made on a service or its socket');
    await disconnectAll(world);
  });

  const service = (token = user(world).token): RecordingService => new world.app.default(token);
  const membersOf = async (room: string) => (await world.server.app.io.in(room).fetchSockets()).map((s) => s.id);

  it('starts on long-polling (events flow over it), upgrades to WebSocket by itself, and events flow over that', async () => {
    const me = user(world);
    const release = holdUpgrades(world.server.httpServer);
    let s: RecordingService;
    try {
      s = service(me.token);
      const hello = await connected(s);
      assert.equal(typeof hello.message, 'string');
      assert.ok(hello.message.length > 0);
      assert.equal(hello.user.id, me.id);
      s.subscribeToParkingLot(lotA);
      const subscribed = await received(s, 'subscribed');
      assert.deepEqual(subscribed.data, { room: `parking_lot:${lotA}` });
      assert.equal((await received(s, 'connected')).transport, 'polling');
      assert.equal(subscribed.transport, 'polling');
    } finally {
      release();
    }
    await waitUntil(() => s.socket.io.engine.transport.name === 'websocket', 5000, 'the upgrade to WebSocket');
    const from = s.received.length;
    await setAvailability(world, lotA, 7);
    const update = await received(s, 'parking_updated', (d) => d.parking_lot_id === lotA, from);
    assert.equal(update.transport, 'websocket');
    assert.equal(update.data.available_spaces, 7);
  });

  it("subscribeToParkingLot(id) ({ room: 'parking_lot:<id>', type: 'parking' }): subscribed, then that lot's changes reach updateParkingDisplay", async () => {
    const s = service();
    await connected(s);
    s.subscribeToParkingLot(lotA);
    assert.deepEqual((await received(s, 'subscribed')).data, { room: `parking_lot:${lotA}` });
    assert.ok((await membersOf(`parking_lot:${lotA}`)).includes(s.socket.id!));

    await setAvailability(world, lotB, 2);
    await setAvailability(world, lotA, 5);
    const update = await shown(s, 'updateParkingDisplay', (d) => d.parking_lot_id === lotA);
    assertFields(update, fields('parking_updated'), 'parking_updated');
    assert.equal(update.available_spaces, 5);
    assert.equal(typeof update.action, 'string');
    assert.ok(!Number.isNaN(Date.parse(update.timestamp)));
    // One socket delivers in order: lot B's change, made first, would have come before lot A's.
    assert.deepEqual(s.ui.filter((c) => c.data?.parking_lot_id === lotB), [], "another lot's change reached the display");
  });

  it('getParkingAvailability() sends the class default { parking_lot_id: null }: every lot; with an id, that lot', async () => {
    const s = service();
    await connected(s);
    s.getParkingAvailability();
    const all = (await received(s, 'parking_availability')).data;
    assert.ok(!Number.isNaN(Date.parse(all.timestamp)));
    const { rows } = await world.server.db.asSystem((tx) => tx.query<{ id: string }>('select id::text from public.parking_lots order by id'));
    assert.deepEqual(all.lots.map((l: { parking_lot_id: string }) => l.parking_lot_id).sort(), rows.map((r) => r.id).sort());

    const from = s.received.length;
    s.getParkingAvailability(lotA);
    const one = (await received(s, 'parking_availability', () => true, from)).data;
    assert.deepEqual(one.lots.map((l: { parking_lot_id: string }) => l.parking_lot_id), [lotA]);
    assert.equal(typeof one.lots[0].available_spaces, 'number');
  });

  it("a lot id that names no lot (the document's '123', an unknown uuid): an error event NOT_FOUND, no room joined", async () => {
    const me = user(world);
    const s = service(me.token);
    await connected(s);
    const missing = randomUUID();
    for (const id of ['123', missing]) {
      const from = s.received.length;
      s.subscribeToParkingLot(id);
      const refused = (await received(s, 'error', () => true, from)).data;
      assert.equal(refused.code, 'NOT_FOUND');
      assert.match(refused.message, new RegExp(`^Parking lot ${id} does not exist`));
      s.getParkingAvailability(id);
      const asked = (await received(s, 'error', (d) => d.event === 'get_parking_availability', from)).data;
      assert.equal(asked.code, 'NOT_FOUND');
    }
    const onServer = (await world.server.app.io.fetchSockets()).find((x) => x.id === s.socket.id);
    assert.deepEqual([...onServer!.rooms].sort(), [s.socket.id, `user:${me.id}`].sort());
  });

  it("the user's booking, made and cancelled over REST, reaches updateBookingStatus and showNotification; another user's service gets none of it", async () => {
    const me = user(world);
    const mine = service(me.token);
    const other = service();
    await Promise.all([connected(mine), connected(other)]);

    const booking = await book(world, me.token, bookingLot);
    const created = await shown(mine, 'updateBookingStatus', (d) => d.booking_id === booking.id);
    assertFields(created, fields('booking_updated'), 'booking_updated');
    assert.equal(created.status, 'pending');
    assert.equal(created.booking.id, booking.id);
    const note = await shown(mine, 'showNotification');
    assertFields(note, fields('notification'), 'notification');

    const cancel = await request(world.server, 'POST', `/bookings/${booking.id}/cancel`, { token: me.token, body: {} });
    assert.equal(cancel.status, 200, JSON.stringify(cancel.body));
    const cancelled = await shown(mine, 'updateBookingStatus', (d) => d.status === 'cancelled');
    assert.equal(cancelled.booking_id, booking.id);

    // An announcement reaches both after the booking's events: by then the other would have had them.
    const res = await request(world.server, 'POST', '/realtime/announcement', { token: world.admin.token, body: { message: 'sync point' } });
    assert.equal(res.status, 201);
    await shown(other, 'showSystemMessage', (d) => d.message === 'sync point');
    assert.deepEqual(other.ui.map((c) => c.method).sort(), ['handleConnection', 'showSystemMessage']);
  });

  it('a signed payment webhook reaches updatePaymentStatus (payment_updated) and the confirmation updateBookingStatus', async () => {
    const me = user(world);
    const s = service(me.token);
    await connected(s);
    const booking = await book(world, me.token, bookingLot);
    await pay(world, booking);
    const payment = await shown(s, 'updatePaymentStatus');
    assertFields(payment, fields('payment_updated'), 'payment_updated');
    assert.equal(payment.status, 'succeeded');
    assert.equal(payment.payment.booking_id, booking.id);
    const confirmed = await shown(s, 'updateBookingStatus', (d) => d.status === 'confirmed');
    assert.equal(confirmed.booking_id, booking.id);
  });

  it("an admin's POST /realtime/announcement reaches showSystemMessage of every service, a user's and an admin's", async () => {
    const users = [service(), service(world.admin.token)];
    await Promise.all(users.map(connected));
    const res = await request(world.server, 'POST', '/realtime/announcement', {
      token: world.admin.token,
      body: { message: 'Level 2 closes at 22:00', type: 'maintenance' },
    });
    assert.equal(res.status, 201, JSON.stringify(res.body));
    for (const s of users) {
      const shownMessage = await shown(s, 'showSystemMessage');
      assertFields(shownMessage, fields('system_announcement'), 'system_announcement');
      assert.equal(shownMessage.message, 'Level 2 closes at 22:00');
      assert.equal(shownMessage.type, 'maintenance');
    }
  });
});

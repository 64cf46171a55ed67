/**
 * The document's "WebSocket Events" snippets, run as written (placeholders filled with real ids
 * and tokens) against a real server: what the client sends is accepted and answered with reply
 * events (no acknowledgement callbacks), refusals come as `error { message, code }`, and every
 * server → client event the document names reaches its listener with the fields it names.
 */
import assert from 'node:assert/strict';
import type { Socket } from 'socket.io-client';
import { serverEvents } from './document.js';
import { authenticate, closeSnippetSockets, dataRequests, hear, listen, recordingConsole, roomSubscriptions, type ConsoleLine, type Heard } from './snippets.js';
import { assertFields, book, lot, next, pay, setAvailability, startWorld, user, type World } from './world.js';
import { waitUntil } from '../helpers/measure.js';
import { request } from '../helpers/http.js';

interface Client {
  socket: Socket;
  heard: Heard[];
  lines: ConsoleLine[];
  id: string;
  token: string;
}

describe('reference document: the WebSocket event snippets, against a real server', () => {
  let world: World;
  /** Subscribed to, and its availability edited. */
  let lotId: string;
  /** Booked: large, so that the edits of the other lot never make it full. */
  let bookingLot: string;

  before(async () => {
    world = await startWorld();
    lotId = await lot(world);
    bookingLot = await lot(world, { total: 1000 });
  });
  after(() => world.close());
  afterEach(() => closeSnippetSockets());

  /** The Authentication snippet for a new user (or the admin), with every listener snippet on it. */
  async function client(role: 'user' | 'admin' = 'user'): Promise<Client> {
    const who = role === 'admin' ? world.admin : user(world);
    const socket = authenticate(world.server.url, who.token);
    const heard = hear(socket);
    const { console, lines } = recordingConsole();
    listen(socket, console);
    await heardEvent({ heard } as Client, 'connected');
    return { socket, heard, lines, ...who };
  }

  const heardEvent = async (c: Pick<Client, 'heard'>, event: string, match: (d: any) => boolean = () => true) =>
    (await next(c.heard, (h) => h.event === event && match(h.data), `${event} on the snippet's socket`)).data;

  /** The snippet's console line that printed `value` (the payload, or one of its fields). */
  const printed = (c: Client, level: ConsoleLine['level'], value: unknown) =>
    next(c.lines, (l) => l.level === level && l.args.includes(value), `a console.${level} of ${JSON.stringify(value)?.slice(0, 80)}`);

  describe('client → server', () => {
    it('Room Subscriptions as a user: the lot room (type "parking") is subscribed; the admin room is refused with an error event, logged by Error Handling', async () => {
      const c = await client();
      roomSubscriptions(c.socket, lotId);
      assert.deepEqual(await heardEvent(c, 'subscribed'), { room: `parking_lot:${lotId}` });
      await printed(c, 'log', `parking_lot:${lotId}`);
      const refused = await heardEvent(c, 'error');
      assert.equal(refused.code, 'FORBIDDEN');
      assert.equal(refused.event, 'subscribe');
      await printed(c, 'error', refused.message);
      const rooms = (await world.server.app.io.fetchSockets()).find((s) => s.id === c.socket.id)!.rooms;
      assert.deepEqual([...rooms].sort(), [c.socket.id, `parking_lot:${lotId}`, `user:${c.id}`].sort());
    });

    it('Room Subscriptions as an admin: both rooms are subscribed', async () => {
      const c = await client('admin');
      roomSubscriptions(c.socket, lotId);
      await waitUntil(() => c.heard.filter((h) => h.event === 'subscribed').length === 2, 5000, 'two subscribed events');
      assert.deepEqual(c.heard.filter((h) => h.event === 'subscribed').map((h) => h.data.room).sort(), ['admin', `parking_lot:${lotId}`]);
      assert.deepEqual(c.heard.filter((h) => h.event === 'error'), []);
    });

    it("Data Requests as a user, own booking: parking_availability and booking_status; get_live_stats refused", async () => {
      const c = await client();
      const booking = await book(world, c.token, bookingLot);
      dataRequests(c.socket, lotId, booking.id);
      const availability = await heardEvent(c, 'parking_availability');
      assert.deepEqual(availability.lots.map((l: { parking_lot_id: string }) => l.parking_lot_id), [lotId]);
      assert.ok(!Number.isNaN(Date.parse(availability.timestamp)));
      const status = await heardEvent(c, 'booking_status');
      assert.equal(status.booking.id, booking.id);
      assert.equal(status.booking.status, 'pending');
      const refused = await heardEvent(c, 'error');
      assert.deepEqual({ code: refused.code, event: refused.event }, { code: 'FORBIDDEN', event: 'get_live_stats' });
      await printed(c, 'error', refused.message);
    });

    it("Data Requests as a user, another user's booking: refused with an error event, and the booking is not disclosed", async () => {
      const owner = user(world);
      const booking = await book(world, owner.token, bookingLot);
      const c = await client();
      dataRequests(c.socket, lotId, booking.id);
      const refused = await heardEvent(c, 'error', (d) => d.event === 'get_booking_status');
      assert.equal(refused.code, 'NOT_FOUND');
      await heardEvent(c, 'error', (d) => d.event === 'get_live_stats'); // the snippet's last request: all three were answered
      assert.deepEqual(c.heard.filter((h) => h.event === 'booking_status'), []);
      assert.ok(!JSON.stringify(c.heard).includes(owner.id), "the owner's id reached another user");
    });

    it("Data Requests as an admin: any user's booking, and live_stats { stats, timestamp }", async () => {
      const owner = user(world);
      const booking = await book(world, owner.token, bookingLot);
      const c = await client('admin');
      dataRequests(c.socket, lotId, booking.id);
      assert.equal((await heardEvent(c, 'booking_status')).booking.user_id, owner.id);
      const stats = await heardEvent(c, 'live_stats');
      assert.equal(typeof stats.stats.cluster.connections, 'number');
      await printed(c, 'log', stats);
      assert.deepEqual(c.heard.filter((h) => h.event === 'error'), []);
    });
  });

  describe('server → client: every event the document names reaches its snippet with the fields it names', () => {
    /** What makes the server send each event to client `c`; a new event in the document needs one here. */
    const triggers: Record<string, (c: Client) => Promise<void>> = {
      connected: async () => undefined,
      subscribed: async (c) => roomSubscriptions(c.socket, lotId),
      parking_updated: async (c) => {
        roomSubscriptions(c.socket, lotId);
        await heardEvent(c, 'subscribed');
        await setAvailability(world, lotId, 4);
      },
      booking_updated: async (c) => void (await book(world, c.token, bookingLot)),
      payment_updated: async (c) => pay(world, await book(world, c.token, bookingLot)),
      notification: async (c) => void (await book(world, c.token, bookingLot)),
      system_announcement: async () => {
        const res = await request(world.server, 'POST', '/realtime/announcement', { token: world.admin.token, body: { message: 'Gates open at 6' } });
        assert.equal(res.status, 201);
      },
      live_stats: async (c) => void c.socket.emit('get_live_stats'),
      error: async (c) => roomSubscriptions(c.socket, lotId),
    };
    const asAdmin = new Set(['live_stats']);

    for (const [event, fields] of serverEvents()) {
      it(`${event} { ${fields.join(', ')} }`, async () => {
        const trigger = triggers[event];
        assert.ok(trigger, `the document names ${event}, which this suite has no trigger for`);
        const c = await client(asAdmin.has(event) ? 'admin' : 'user');
        await trigger(c);
        const payload = await heardEvent(c, event);
        assertFields(payload, fields, event);
        const level = event === 'error' ? 'error' : 'log';
        await next(c.lines, (l) => l.level === level && (l.args.includes(payload) || fields.some((f) => l.args.includes(payload[f]))), `the ${event} snippet's console line`);
      });
    }
  });
});

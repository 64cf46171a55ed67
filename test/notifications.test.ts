/**
 * Notifications: created by booking actions in the same transaction as the change, delivered live
 * on the user's socket with a sequence number, stored, listed and marked read over REST, and only
 * ever the owner's.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { closeAll, connect, newUserId, nextEvent, record } from './helpers/clients.js';
import { createLot } from './helpers/fixtures.js';
import { useTestServer, type TestServer } from './helpers/server.js';
import { sleep, waitUntil } from './helpers/measure.js';
import { request } from './helpers/http.js';

interface Stored {
  id: string;
  title: string;
  message: string;
  type: string;
  data: { booking_id?: string };
  read_at: string | null;
  created_at: string;
}

describe('notifications', () => {
  const server = useTestServer();

  async function list(token: string, query = ''): Promise<{ notifications: Stored[]; unread: number }> {
    const res = await request(server(), 'GET', `/notifications${query}`, { token });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal(res.body.ok, true);
    return res.body.data;
  }

  async function book(token: string, lot: string): Promise<string> {
    const res = await request(server(), 'POST', '/bookings', { token, body: { parking_lot_id: lot, duration_minutes: 60 } });
    assert.equal(res.status, 201, JSON.stringify(res.body));
    return res.body.data.booking.id;
  }

  async function readAtInDb(id: string): Promise<Date | null> {
    const { rows } = await server().db.asSystem((tx) => tx.query('select read_at from public.notifications where id = $1', [id]));
    return rows[0].read_at;
  }

  it('a booking creates a "Space held" notification, delivered live with its place in the user stream, then listed', async () => {
    const lot = await createLot(server().db, { name: `Notified lot ${randomUUID().slice(0, 6)}` });
    const userId = newUserId();
    const token = server().token(userId);
    const { socket } = await connect(server().url, token);
    const live = nextEvent(socket, 'notification');
    const update = nextEvent(socket, 'booking_updated');

    const bookingId = await book(token, lot);
    const n = await live;
    assert.equal(n.title, 'Space held');
    assert.equal(n.type, 'info');
    assert.match(n.message, /Notified lot/);
    assert.equal(n.data.booking_id, bookingId);
    assert.equal(n.room, `user:${userId}`);
    assert.equal(typeof n.seq, 'number');
    assert.equal(typeof n.event_id, 'number');
    assert.ok(!Number.isNaN(Date.parse(n.timestamp)));
    assert.equal(n.seq, (await update).seq + 1);

    const { notifications, unread } = await list(token);
    assert.equal(notifications.length, 1);
    assert.equal(unread, 1);
    assert.equal(notifications[0]!.id, n.id, 'the live event carries the stored id');
    assert.equal(notifications[0]!.title, 'Space held');
    assert.equal(notifications[0]!.read_at, null);
    assert.equal(notifications[0]!.data.booking_id, bookingId);
  });

  it('lists own notifications only, newest first, with the unread count; ?unread_only=true filters', async () => {
    const lot = await createLot(server().db);
    const userA = newUserId();
    const tokenA = server().token(userA);
    const tokenB = server().token(newUserId());
    const first = await book(tokenA, lot);
    await book(tokenA, lot);
    const cancelled = await request(server(), 'POST', `/bookings/${first}/cancel`, { token: tokenA });
    assert.equal(cancelled.status, 200);
    await book(tokenB, lot);

    const a = await list(tokenA);
    assert.deepEqual(a.notifications.map((n) => n.title), ['Booking cancelled', 'Space held', 'Space held']);
    assert.equal(a.notifications[0]!.data.booking_id, first);
    assert.equal(a.notifications[0]!.type, 'warning');
    const times = a.notifications.map((n) => Date.parse(n.created_at));
    assert.deepEqual([...times].sort((x, y) => y - x), times, 'newest first');
    assert.equal(a.unread, 3);

    const b = await list(tokenB);
    assert.deepEqual(b.notifications.map((n) => n.title), ['Space held']);
    assert.equal(b.unread, 1);
    const aIds = new Set(a.notifications.map((n) => n.id));
    assert.ok(b.notifications.every((n) => !aIds.has(n.id)));

    const limited = await list(tokenA, '?limit=1');
    assert.deepEqual(limited.notifications.map((n) => n.id), [a.notifications[0]!.id]);
    assert.equal(limited.unread, 3, 'the unread count is of all, not of the page');

    const read = await request(server(), 'POST', `/notifications/${a.notifications[1]!.id}/read`, { token: tokenA });
    assert.equal(read.status, 200);
    const unreadOnly = await list(tokenA, '?unread_only=true');
    assert.deepEqual(
      unreadOnly.notifications.map((n) => n.id),
      [a.notifications[0]!.id, a.notifications[2]!.id],
    );
    assert.equal(unreadOnly.unread, 2);
    assert.equal((await list(tokenA, '?unread_only=false')).notifications.length, 3);

    for (const q of ['?unread_only=yes', '?limit=0', '?limit=201', '?limit=abc']) {
      const res = await request(server(), 'GET', `/notifications${q}`, { token: tokenA });
      assert.equal(res.status, 400, q);
      assert.equal(res.body.error.code, 'VALIDATION_ERROR');
    }
    assert.equal((await request(server(), 'GET', '/notifications')).status, 401);
  });

  it('POST /notifications/:id/read sets read_at once; another user’s id is 404 and stays unread', async () => {
    const lot = await createLot(server().db);
    const tokenA = server().token(newUserId());
    const tokenB = server().token(newUserId());
    await book(tokenA, lot);
    await book(tokenB, lot);
    const [mine] = (await list(tokenA)).notifications;
    const [theirs] = (await list(tokenB)).notifications;

    const res = await request(server(), 'POST', `/notifications/${mine!.id}/read`, { token: tokenA });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal(res.body.data.notification.id, mine!.id);
    const readAt = res.body.data.notification.read_at;
    assert.ok(readAt && !Number.isNaN(Date.parse(readAt)));
    assert.ok((await readAtInDb(mine!.id)) instanceof Date);
    assert.equal((await list(tokenA)).unread, 0);

    // Marking again keeps the first time.
    const again = await request(server(), 'POST', `/notifications/${mine!.id}/read`, { token: tokenA });
    assert.equal(again.status, 200);
    assert.equal(again.body.data.notification.read_at, readAt);

    const foreign = await request(server(), 'POST', `/notifications/${theirs!.id}/read`, { token: tokenA });
    assert.equal(foreign.status, 404);
    assert.equal(foreign.body.error.code, 'NOT_FOUND');
    assert.doesNotMatch(JSON.stringify(foreign.body), /Space held/);
    assert.equal(await readAtInDb(theirs!.id), null);
    assert.equal((await list(tokenB)).unread, 1);

    const missing = await request(server(), 'POST', `/notifications/${randomUUID()}/read`, { token: tokenA });
    assert.equal(missing.status, 404);
    const bad = await request(server(), 'POST', '/notifications/not-a-uuid/read', { token: tokenA });
    assert.equal(bad.status, 400);
    assert.equal(bad.body.error.code, 'VALIDATION_ERROR');
  });

  it('POST /notifications/read-all marks all of the caller’s unread, and nobody else’s', async () => {
    const lot = await createLot(server().db);
    const tokenA = server().token(newUserId());
    const tokenB = server().token(newUserId());
    const first = await book(tokenA, lot);
    await book(tokenA, lot);
    await request(server(), 'POST', `/bookings/${first}/cancel`, { token: tokenA });
    await book(tokenB, lot);
    assert.equal((await list(tokenA)).unread, 3);

    const res = await request(server(), 'POST', '/notifications/read-all', { token: tokenA });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal(res.body.data.marked, 3);
    const a = await list(tokenA);
    assert.equal(a.unread, 0);
    assert.ok(a.notifications.every((n) => n.read_at !== null));
    assert.deepEqual((await list(tokenA, '?unread_only=true')).notifications, []);

    const b = await list(tokenB);
    assert.equal(b.unread, 1);
    assert.equal(b.notifications[0]!.read_at, null);

    const nothingLeft = await request(server(), 'POST', '/notifications/read-all', { token: tokenA });
    assert.equal(nothingLeft.body.data.marked, 0);
  });

  it('live notifications reach only their user: each user’s socket hears its own, with increasing seq', async () => {
    const lot = await createLot(server().db);
    const userA = newUserId();
    const userB = newUserId();
    const { socket: a } = await connect(server().url, server().token(userA));
    const { socket: a2 } = await connect(server().url, server().token(userA)); // a second tab of A
    const { socket: b } = await connect(server().url, server().token(userB));
    const seenA = record(a, 'notification');
    const seenA2 = record(a2, 'notification');
    const seenB = record(b, 'notification');

    const id1 = await book(server().token(userA), lot);
    const id2 = await book(server().token(userA), lot);
    const cancelHeard = nextEvent(a, 'notification', (n) => n.title === 'Booking cancelled');
    await request(server(), 'POST', `/bookings/${id1}/cancel`, { token: server().token(userA) });
    await cancelHeard;
    const bHeard = nextEvent(b, 'notification');
    await book(server().token(userB), lot);
    await bHeard; // B's socket works
    await waitUntil(() => seenA2.length >= 3, 5000, 'the second tab of A');
    await sleep(200);

    const unique = (seen: any[]) => [...new Map(seen.map((n) => [n.seq, n])).values()];
    for (const seen of [seenA, seenA2]) {
      const own = unique(seen);
      assert.deepEqual(own.map((n) => n.title), ['Space held', 'Space held', 'Booking cancelled']);
      assert.deepEqual(own.map((n) => n.data.booking_id), [id1, id2, id1]);
      assert.ok(own.every((n) => n.room === `user:${userA}`));
      const seqs = own.map((n) => n.seq);
      assert.deepEqual([...seqs].sort((x, y) => x - y), seqs, 'in stream order');
    }
    assert.equal(unique(seenB).length, 1);
    assert.equal(seenB[0].room, `user:${userB}`);
    assert.ok(seenB.every((n) => n.data.booking_id !== id1 && n.data.booking_id !== id2));

    // What arrived live is what is stored.
    const stored = (await list(server().token(userA))).notifications.map((n) => n.id).sort();
    assert.deepEqual(unique(seenA).map((n) => n.id).sort(), stored);
  });
});

/**
 * The payment provider's webhook against the real database: signature, tolerance, replay safety,
 * the booking transitions it causes and the events the owner hears. Also scripts/send-webhook.ts,
 * run as a child process against a test server.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { signPayload } from '../server/features/payments/signature.js';
import { call, closeAll, connect, newUserId, nextEvent, record } from './helpers/clients.js';
import { createLot } from './helpers/fixtures.js';
import { useTestServer, TEST_SECRET, TEST_WEBHOOK_SECRET, type TestServer } from './helpers/server.js';
import { sleep, waitUntil } from './helpers/measure.js';
import { request } from './helpers/http.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const SCRIPT = path.join(ROOT, 'scripts', 'send-webhook.ts');
/** What `--import tsx` loads, as a URL: the child runs in a folder of its own, where `tsx` would not resolve. */
const TSX_LOADER = (() => {
  const require = createRequire(import.meta.url);
  const pkgFile = require.resolve('tsx/package.json');
  const entry = (require(pkgFile) as { exports: Record<string, string> }).exports['.']!;
  return pathToFileURL(path.join(path.dirname(pkgFile), entry)).href;
})();

interface WebhookEvent {
  id: string;
  type: 'payment.succeeded' | 'payment.failed';
  data: { booking_id: string; payment_id: string; amount_cents: number; currency?: string; failure_reason?: string };
}

function event(type: WebhookEvent['type'], bookingId: string, amount: number, extra: Partial<WebhookEvent['data']> = {}): WebhookEvent {
  return { id: `evt_${randomUUID()}`, type, data: { booking_id: bookingId, payment_id: `pay_${randomUUID()}`, amount_cents: amount, ...extra } };
}

describe('payment webhook', () => {
  const server = useTestServer();

  /** Posts the event signed as the provider would; `rawBody` lets a test send other bytes than it signed. */
  function deliver(
    evt: unknown,
    opts: { timestamp?: number; secret?: string; rawBody?: string; signature?: string | null; token?: string } = {},
  ) {
    const signed = JSON.stringify(evt);
    const headers: Record<string, string> = {};
    if (opts.signature !== null) headers['x-spotcast-signature'] = opts.signature ?? signPayload(opts.secret ?? TEST_WEBHOOK_SECRET, signed, opts.timestamp);
    return request(server(), 'POST', '/payments/webhook', { rawBody: opts.rawBody ?? signed, headers, ...(opts.token ? { token: opts.token } : {}) });
  }

  async function lotWithRate(cents: number, total = 10): Promise<string> {
    const lot = await createLot(server().db, { total });
    await server().db.asSystem((tx) => tx.query('update public.parking_lots set hourly_rate_cents = $2 where id = $1', [lot, cents]));
    return lot;
  }

  /**
   * A pending booking of a fresh user on a lot at 4.00 an hour: 400 cents. It starts in an hour,
   * so that once paid it stays `confirmed` (a booking whose window has begun is activated at once).
   */
  async function pendingBooking(lot?: string) {
    const userId = newUserId();
    const token = server().token(userId);
    const starts_at = new Date(Date.now() + 3_600_000).toISOString();
    const res = await request(server(), 'POST', '/bookings', { token, body: { parking_lot_id: lot ?? (await lotWithRate(400)), starts_at, duration_minutes: 60 } });
    assert.equal(res.status, 201, JSON.stringify(res.body));
    const booking = res.body.data.booking as { id: string; amount_cents: number; parking_lot_id: string };
    assert.equal(booking.amount_cents, 400);
    return { userId, token, booking };
  }

  async function state(bookingId: string) {
    return server().db.asSystem(async (tx) => {
      const b = await tx.query('select status, hold_expires_at from public.bookings where id = $1', [bookingId]);
      const p = await tx.query('select id::text, status, amount_cents, failure_reason, provider_payment_id from public.payments where booking_id = $1 order by created_at', [bookingId]);
      const e = await tx.query(
        `select event, payload->>'action' as action, payload->>'status' as status from public.event_log
          where payload->>'booking_id' = $1 or payload->'data'->>'booking_id' = $1 order by id`,
        [bookingId],
      );
      return { status: b.rows[0]?.status as string, hold: b.rows[0]?.hold_expires_at as Date | null, payments: p.rows, events: e.rows };
    });
  }

  async function webhookEventRecorded(eventId: string): Promise<boolean> {
    const { rowCount } = await server().db.asSystem((tx) => tx.query('select 1 from public.payment_webhook_events where provider_event_id = $1', [eventId]));
    return (rowCount ?? 0) > 0;
  }

  async function notificationTitles(userId: string): Promise<string[]> {
    const res = await request(server(), 'GET', '/notifications', { token: server().token(userId) });
    return res.body.data.notifications.map((n: { title: string }) => n.title);
  }

  it('a correctly signed success confirms a pending booking; the owner hears payment_updated, booking_updated and a notification', async () => {
    const { userId, token, booking } = await pendingBooking();
    const { socket } = await connect(server().url, token);
    const payment = nextEvent(socket, 'payment_updated');
    const confirmed = nextEvent(socket, 'booking_updated', (p) => p.action === 'confirmed');
    const note = nextEvent(socket, 'notification', (p) => p.title === 'Booking confirmed');

    const evt = event('payment.succeeded', booking.id, 400, { currency: 'EUR' });
    const res = await deliver(evt);
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal(res.body.ok, true);
    assert.equal(res.body.data.duplicate, false);
    assert.equal(res.body.data.payment_status, 'succeeded');
    assert.equal(res.body.data.booking_status, 'confirmed');

    const p = await payment;
    assert.equal(p.status, 'succeeded');
    assert.equal(p.booking_id, booking.id);
    assert.equal(p.payment_id, res.body.data.payment_id);
    assert.equal(p.payment.provider_payment_id, evt.data.payment_id);
    assert.equal(p.room, `user:${userId}`);
    assert.equal(typeof p.seq, 'number');
    const b = await confirmed;
    assert.equal(b.booking_id, booking.id);
    assert.equal(b.status, 'confirmed');
    assert.equal(b.booking.hold_expires_at, null);
    assert.equal(b.seq, p.seq + 1);
    assert.equal((await note).type, 'success');

    const s = await state(booking.id);
    assert.equal(s.status, 'confirmed');
    assert.equal(s.hold, null);
    assert.equal(s.payments.length, 1);
    assert.equal(s.payments[0].status, 'succeeded');
    assert.equal(s.payments[0].amount_cents, 400);
    const own = await request(server(), 'GET', `/bookings/${booking.id}`, { token });
    assert.equal(own.body.data.booking.status, 'confirmed');
  });

  describe('refused deliveries change nothing', () => {
    it('bad signature, missing header, body altered after signing, stale timestamp: 401 with the right code', async () => {
      const { booking } = await pendingBooking();
      const evt = event('payment.succeeded', booking.id, 400);
      const altered = JSON.stringify({ ...evt, data: { ...evt.data, amount_cents: 40_000 } });
      const now = Math.floor(Date.now() / 1000);
      const cases: [string, Promise<{ status: number; body: any }>, string][] = [
        ['wrong secret', deliver(evt, { secret: 'not-the-webhook-secret-at-all' }), 'INVALID_SIGNATURE'],
        ['garbage signature', deliver(evt, { signature: `t=${now},v1=${'0'.repeat(64)}` }), 'INVALID_SIGNATURE'],
        ['malformed header', deliver(evt, { signature: 'sha256=abc' }), 'INVALID_SIGNATURE'],
        ['missing header', deliver(evt, { signature: null }), 'INVALID_SIGNATURE'],
        ['body altered after signing', deliver(evt, { rawBody: altered }), 'INVALID_SIGNATURE'],
        ['signed an hour ago', deliver(evt, { timestamp: now - 3600 }), 'STALE_WEBHOOK'],
        ['signed an hour ahead', deliver(evt, { timestamp: now + 3600 }), 'STALE_WEBHOOK'],
      ];
      for (const [what, pending, code] of cases) {
        const res = await pending;
        assert.equal(res.status, 401, `${what}: ${JSON.stringify(res.body)}`);
        assert.equal(res.body.ok, false);
        assert.equal(res.body.error.code, code, what);
      }
      const s = await state(booking.id);
      assert.equal(s.status, 'pending');
      assert.deepEqual(s.payments, []);
      assert.deepEqual(s.events.filter((e) => e.event === 'payment_updated' || e.action === 'confirmed'), []);
      assert.equal(await webhookEventRecorded(evt.id), false, 'a refused delivery does not burn the event id');

      // The genuine delivery of the same event still works afterwards.
      const res = await deliver(evt);
      assert.equal(res.status, 200);
      assert.equal(res.body.data.duplicate, false);
      assert.equal((await state(booking.id)).status, 'confirmed');
    });

    it('a signed body that is not a valid event is 400 and records nothing', async () => {
      const { booking } = await pendingBooking();
      const cases: unknown[] = [
        { id: 'evt_x', type: 'payment.refunded', data: { booking_id: booking.id, payment_id: 'p', amount_cents: 400 } },
        { id: 'evt_y', type: 'payment.succeeded', data: { booking_id: 'not-a-uuid', payment_id: 'p', amount_cents: 400 } },
        { id: 'evt_z', type: 'payment.succeeded', data: { booking_id: booking.id, payment_id: 'p', amount_cents: -1 } },
        { id: 'evt_w', type: 'payment.succeeded', data: { booking_id: booking.id, payment_id: 'p', amount_cents: 400, currency: 'euro' } },
        { type: 'payment.succeeded', data: { booking_id: booking.id, payment_id: 'p', amount_cents: 400 } },
      ];
      for (const body of cases) {
        const res = await deliver(body);
        assert.equal(res.status, 400, JSON.stringify(body));
        assert.equal(res.body.error.code, 'VALIDATION_ERROR');
      }
      const notJson = 'payment succeeded!';
      const res = await deliver(null, { rawBody: notJson, signature: signPayload(TEST_WEBHOOK_SECRET, notJson) });
      assert.equal(res.status, 400);
      assert.equal(res.body.error.code, 'VALIDATION_ERROR');
      const s = await state(booking.id);
      assert.equal(s.status, 'pending');
      assert.deepEqual(s.payments, []);
      for (const id of ['evt_x', 'evt_y', 'evt_z', 'evt_w']) assert.equal(await webhookEventRecorded(id), false);
    });
  });

  it('a replay of the same event id (same body, fresh signature) is 200 duplicate and applied once', async () => {
    const { userId, token, booking } = await pendingBooking();
    const { socket } = await connect(server().url, token);
    const payments = record(socket, 'payment_updated');
    const bookingUpdates = record(socket, 'booking_updated');
    const evt = event('payment.succeeded', booking.id, 400);

    const first = await deliver(evt);
    assert.equal(first.status, 200);
    assert.equal(first.body.data.duplicate, false);
    await waitUntil(() => payments.length > 0 && bookingUpdates.some((b) => b.action === 'confirmed'), 5000, 'the first delivery’s events');

    const replay = await deliver(evt); // signed again, now
    assert.equal(replay.status, 200, JSON.stringify(replay.body));
    assert.equal(replay.body.data.duplicate, true);
    assert.equal(replay.body.data.payment_id, first.body.data.payment_id);
    assert.equal(replay.body.data.booking_status, 'confirmed');
    // Even with a different payload, the id decides: still one application.
    const altered = await deliver({ ...evt, type: 'payment.failed' });
    assert.equal(altered.status, 200);
    assert.equal(altered.body.data.duplicate, true);

    // A marker event after the replays, so that anything they emitted would have arrived by then.
    const marker = nextEvent(socket, 'notification', (n) => n.title === 'Space held');
    await request(server(), 'POST', '/bookings', { token, body: { parking_lot_id: booking.parking_lot_id, duration_minutes: 30 } });
    await marker;
    await sleep(100);

    // Clients drop duplicates by (room, seq); what is left is one of each.
    const distinct = (events: any[]) => new Set(events.map((e) => `${e.room}#${e.seq}`)).size;
    assert.equal(distinct(payments), 1);
    assert.equal(distinct(bookingUpdates.filter((b) => b.booking_id === booking.id && b.action === 'confirmed')), 1);

    const s = await state(booking.id);
    assert.equal(s.status, 'confirmed');
    assert.equal(s.payments.length, 1);
    assert.equal(s.payments[0].status, 'succeeded');
    assert.equal(s.events.filter((e) => e.event === 'payment_updated').length, 1);
    assert.equal(s.events.filter((e) => e.action === 'confirmed').length, 1);
    assert.equal((await notificationTitles(userId)).filter((t) => t === 'Booking confirmed').length, 1);
  });

  it('a failure event records a failed payment, keeps the booking pending and tells the user', async () => {
    const { userId, token, booking } = await pendingBooking();
    const { socket } = await connect(server().url, token);
    const payment = nextEvent(socket, 'payment_updated');
    const note = nextEvent(socket, 'notification', (n) => n.title === 'Payment failed');
    const updates = record(socket, 'booking_updated');

    const res = await deliver(event('payment.failed', booking.id, 400, { failure_reason: 'card_declined' }));
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal(res.body.data.payment_status, 'failed');
    assert.equal(res.body.data.booking_status, 'pending');
    assert.equal((await payment).status, 'failed');
    const n = await note;
    assert.equal(n.type, 'error');
    assert.match(n.message, /card_declined/);
    assert.equal(n.data.booking_id, booking.id);
    assert.deepEqual(updates.filter((u) => u.action !== 'created'), [], 'the booking did not change');

    const s = await state(booking.id);
    assert.equal(s.status, 'pending');
    assert.ok(s.hold instanceof Date, 'still held until the hold runs out');
    assert.equal(s.payments.length, 1);
    assert.equal(s.payments[0].status, 'failed');
    assert.equal(s.payments[0].failure_reason, 'card_declined');
    assert.ok((await notificationTitles(userId)).includes('Payment failed'));

    // A later success for the same booking still confirms it.
    const retry = await deliver(event('payment.succeeded', booking.id, 400));
    assert.equal(retry.body.data.booking_status, 'confirmed');
  });

  it('a success for less than the booking’s amount is a failed payment; the booking stays pending', async () => {
    const { userId, booking } = await pendingBooking();
    const res = await deliver(event('payment.succeeded', booking.id, 399));
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal(res.body.data.payment_status, 'failed');
    assert.equal(res.body.data.booking_status, 'pending');
    const s = await state(booking.id);
    assert.equal(s.status, 'pending');
    assert.equal(s.payments[0].status, 'failed');
    assert.match(s.payments[0].failure_reason, /399/);
    assert.ok((await notificationTitles(userId)).includes('Payment failed'));
  });

  it('a success after the booking was cancelled is recorded as refunded (owed back) and the user is told; the booking stays cancelled', async () => {
    const { userId, token, booking } = await pendingBooking();
    const cancelled = await request(server(), 'POST', `/bookings/${booking.id}/cancel`, { token });
    assert.equal(cancelled.status, 200);
    const { socket } = await connect(server().url, token);
    const payment = nextEvent(socket, 'payment_updated');
    const note = nextEvent(socket, 'notification', (n) => n.title === 'Payment will be refunded');

    const res = await deliver(event('payment.succeeded', booking.id, 400));
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal(res.body.data.payment_status, 'refunded');
    assert.equal(res.body.data.booking_status, 'cancelled');
    const p = await payment;
    assert.equal(p.status, 'refunded');
    assert.equal(p.action, 'refund_due');
    assert.equal((await note).type, 'warning');

    const s = await state(booking.id);
    assert.equal(s.status, 'cancelled');
    assert.equal(s.payments.length, 1);
    assert.equal(s.payments[0].status, 'refunded');
    assert.ok((await notificationTitles(userId)).includes('Payment will be refunded'));
    // The freed space was not taken back.
    const avail = await request(server(), 'GET', `/realtime/parking-availability?parking_lot_id=${booking.parking_lot_id}`, { token });
    assert.equal(avail.body.data.lots[0].held, 0);
  });

  it('a user cannot pay a booking: their JWT is no signature (401), and nothing changes', async () => {
    const { token, booking } = await pendingBooking();
    const evt = event('payment.succeeded', booking.id, 400);
    const res = await deliver(evt, { signature: null, token });
    assert.equal(res.status, 401);
    assert.equal(res.body.error.code, 'INVALID_SIGNATURE');
    // Signed with their own JWT as the "secret": still refused.
    const withJwt = await deliver(evt, { secret: token, token });
    assert.equal(withJwt.status, 401);
    const s = await state(booking.id);
    assert.equal(s.status, 'pending');
    assert.deepEqual(s.payments, []);
    // In SQL, apply_payment_event is permission denied to `authenticated`:
    // see test/bookings.test.ts, "apply_payment_event (paying any booking) is permission denied to authenticated".
  });

  it('an unknown booking is 404 and the event id is not recorded, so a provider’s retry is answered the same way', async () => {
    const evt = event('payment.succeeded', randomUUID(), 400);
    const res = await deliver(evt);
    assert.equal(res.status, 404, JSON.stringify(res.body));
    assert.equal(res.body.error.code, 'NOT_FOUND');
    assert.equal(await webhookEventRecorded(evt.id), false);
    const { rowCount } = await server().db.asSystem((tx) => tx.query('select 1 from public.payments where provider_payment_id = $1', [evt.data.payment_id]));
    assert.equal(rowCount, 0);

    // The retry is not swallowed as a "duplicate" (which would tell the provider it was applied).
    const retry = await deliver(evt);
    assert.equal(retry.status, 404);
    assert.equal(retry.body.error.code, 'NOT_FOUND');
    assert.equal(await webhookEventRecorded(evt.id), false);

    // The id is free: the same event id for an existing booking is applied, not a duplicate.
    const { booking } = await pendingBooking();
    const reused = await deliver({ ...evt, data: { ...evt.data, booking_id: booking.id } });
    assert.equal(reused.status, 200);
    assert.equal(reused.body.data.duplicate, false);
    assert.equal(reused.body.data.booking_status, 'confirmed');
    assert.equal(await webhookEventRecorded(evt.id), true);
  });

  // Providers deliver events out of order and retry them (a failed attempt, then a successful one,
  // of the same payment). apply_payment_event upserts the payments row by provider_payment_id and
  // overwrites its status, so a late `payment.failed` turns a succeeded payment of a confirmed
  // booking into a failed one and tells the user "Payment failed ... still held".
  it('a late payment.failed of an already succeeded payment does not undo it (out-of-order delivery)', async () => {
    const { userId, booking } = await pendingBooking();
    const paymentId = `pay_${randomUUID()}`;
    const ok = await deliver(event('payment.succeeded', booking.id, 400, { payment_id: paymentId }));
    assert.equal(ok.body.data.booking_status, 'confirmed');

    const late = await deliver(event('payment.failed', booking.id, 400, { payment_id: paymentId, failure_reason: 'first attempt declined' }));
    assert.equal(late.status, 200, JSON.stringify(late.body));
    const s = await state(booking.id);
    assert.equal(s.status, 'confirmed');
    assert.deepEqual(s.payments.map((p) => p.status), ['succeeded'], 'the succeeded payment was overwritten by a late failure');
    assert.ok(!(await notificationTitles(userId)).includes('Payment failed'), 'the user of a confirmed booking was told the payment failed');
  });

  // apply_payment_event compares amount_cents only: 400 of any currency confirms a 4.00 EUR booking.
  it('a success in another currency than the booking’s does not confirm it', async () => {
    const { booking } = await pendingBooking();
    // Answered 200 (a failed payment, as for too small an amount) or refused: either way not confirmed.
    await deliver(event('payment.succeeded', booking.id, 400, { currency: 'JPY' }));
    const s = await state(booking.id);
    assert.equal(s.status, 'pending', 'a payment of 400 in JPY confirmed a booking of 4.00 EUR');
    assert.notEqual(s.payments[0]?.status, 'succeeded');
  });

  it('cancelling a paid booking marks its payment as owed back and tells the owner live', async () => {
    const { userId, token, booking } = await pendingBooking();
    await deliver(event('payment.succeeded', booking.id, 400));
    const { socket } = await connect(server().url, server().token(userId));
    const refund = nextEvent(socket, 'payment_updated', (p) => p.action === 'refund_due');
    const res = await request(server(), 'POST', `/bookings/${booking.id}/cancel`, { token, body: {} });
    assert.equal(res.status, 200);
    assert.equal((await refund).status, 'refunded');
    const s = await state(booking.id);
    assert.equal(s.status, 'cancelled');
    assert.deepEqual(s.payments.map((p) => p.status), ['refunded']);
  });

  it('a second successful payment for an already confirmed booking is owed back, not counted twice', async () => {
    const { booking } = await pendingBooking();
    await deliver(event('payment.succeeded', booking.id, 400));
    const second = await deliver(event('payment.succeeded', booking.id, 400));
    assert.equal(second.status, 200);
    assert.equal(second.body.data.payment_status, 'refunded');
    const s = await state(booking.id);
    assert.equal(s.status, 'confirmed');
    assert.deepEqual(s.payments.map((p) => p.status).sort(), ['refunded', 'succeeded']);
  });

  it("a provider payment id already used for another booking is refused and changes nothing", async () => {
    const first = await pendingBooking();
    const second = await pendingBooking();
    const paymentId = `pay_${randomUUID()}`;
    await deliver(event('payment.succeeded', first.booking.id, 400, { payment_id: paymentId }));
    const reused = await deliver(event('payment.succeeded', second.booking.id, 400, { payment_id: paymentId }));
    assert.equal(reused.status, 400);
    const s = await state(second.booking.id);
    assert.equal(s.status, 'pending');
    assert.deepEqual(s.payments, []);
    assert.equal((await state(first.booking.id)).payments[0]?.status, 'succeeded');
  });

  describe('scripts/send-webhook.ts', () => {
    let cwd: string;
    before(() => {
      cwd = mkdtempSync(path.join(tmpdir(), 'spotcast-send-webhook-'));
    });
    after(() => rmSync(cwd, { recursive: true, force: true }));

    /** `node --import tsx scripts/send-webhook.ts …` with only the given settings, in a folder of its own. */
    function run(args: string[], env: Record<string, string> = {}, dir = cwd): Promise<{ code: number; stdout: string; stderr: string }> {
      const base = { ...process.env };
      for (const k of ['PAYMENT_WEBHOOK_SECRET', 'JWT_SECRET', 'SPOTCAST_TOKEN', 'SPOTCAST_URL']) delete base[k];
      return new Promise((resolve) => {
        execFile(
          process.execPath,
          ['--import', TSX_LOADER, SCRIPT, ...args],
          { cwd: dir, env: { ...base, SPOTCAST_URL: server().url, ...env }, timeout: 20_000 },
          (err, stdout, stderr) => {
            const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
            resolve({ code, stdout, stderr });
          },
        );
      });
    }

    it('pays a booking (succeeded, given amount): exit 0, prints the answer, the booking is confirmed', async function () {
      this.timeout(30_000);
      const { booking } = await pendingBooking();
      const out = await run([booking.id, 'succeeded', '400'], { PAYMENT_WEBHOOK_SECRET: TEST_WEBHOOK_SECRET });
      assert.equal(out.code, 0, out.stderr + out.stdout);
      assert.match(out.stdout, /→ 200/);
      assert.match(out.stdout, /"booking_status": "confirmed"/);
      assert.equal((await state(booking.id)).status, 'confirmed');
    });

    it('sends a failure: the payment is failed, the booking stays pending', async function () {
      this.timeout(30_000);
      const { booking } = await pendingBooking();
      const out = await run([booking.id, 'failed', '400'], { PAYMENT_WEBHOOK_SECRET: TEST_WEBHOOK_SECRET });
      assert.equal(out.code, 0, out.stderr + out.stdout);
      const s = await state(booking.id);
      assert.equal(s.status, 'pending');
      assert.equal(s.payments[0].status, 'failed');
    });

    it('without an amount pays the booking’s own amount (read with a token minted from JWT_SECRET)', async function () {
      this.timeout(30_000);
      const { booking } = await pendingBooking();
      const out = await run([booking.id], { PAYMENT_WEBHOOK_SECRET: TEST_WEBHOOK_SECRET, JWT_SECRET: TEST_SECRET });
      assert.equal(out.code, 0, out.stderr + out.stdout);
      assert.match(out.stdout, /400 cents/);
      const s = await state(booking.id);
      assert.equal(s.status, 'confirmed');
      assert.equal(s.payments[0].amount_cents, 400);
    });

    it('without PAYMENT_WEBHOOK_SECRET uses the development secret file .data/dev-webhook-secret', async function () {
      this.timeout(30_000);
      const dir = mkdtempSync(path.join(tmpdir(), 'spotcast-send-webhook-dev-'));
      try {
        mkdirSync(path.join(dir, '.data'));
        writeFileSync(path.join(dir, '.data', 'dev-webhook-secret'), `${TEST_WEBHOOK_SECRET}\n`);
        const { booking } = await pendingBooking();
        const out = await run([booking.id, 'succeeded', '400'], {}, dir);
        assert.equal(out.code, 0, out.stderr + out.stdout);
        assert.equal((await state(booking.id)).status, 'confirmed');
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });

    it('exits non-zero on a non-2xx answer (wrong secret, unknown booking) and on bad usage', async function () {
      this.timeout(60_000);
      const { booking } = await pendingBooking();
      const wrong = await run([booking.id, 'succeeded', '400'], { PAYMENT_WEBHOOK_SECRET: 'some-other-secret-0123456789' });
      assert.notEqual(wrong.code, 0);
      assert.match(wrong.stdout, /→ 401/);
      assert.match(wrong.stdout, /INVALID_SIGNATURE/);
      assert.equal((await state(booking.id)).status, 'pending');

      const unknown = await run([randomUUID(), 'succeeded', '400'], { PAYMENT_WEBHOOK_SECRET: TEST_WEBHOOK_SECRET });
      assert.notEqual(unknown.code, 0);
      assert.match(unknown.stdout, /→ 404/);

      for (const args of [[], ['not-a-uuid'], [booking.id, 'refunded'], [booking.id, 'succeeded', '4.5']]) {
        const bad = await run(args, { PAYMENT_WEBHOOK_SECRET: TEST_WEBHOOK_SECRET });
        assert.equal(bad.code, 2, `${JSON.stringify(args)}: ${bad.stderr}`);
        assert.match(bad.stderr, /usage/);
      }
      assert.equal((await state(booking.id)).status, 'pending');
    });
  });
});

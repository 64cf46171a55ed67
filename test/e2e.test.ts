/**
 * The browser face, end to end: the page in public/ served by a real server, in a real Chromium,
 * against the run's real Postgres. Two pages (separate contexts, so separate logins) watch each
 * other's changes arrive live. Screenshots go to test-output/ (git-ignored).
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import type { Browser, Page } from 'playwright-core';
import { mintToken } from '../server/platform/auth/tokens.js';
import { launchBrowser, LAPTOP, openPage, PHONE, requireChromium, screenshot, type TrackedPage } from './helpers/browser.js';
import { createLot } from './helpers/fixtures.js';
import { JwksServer, newKey, signedBy } from './helpers/jwks.js';
import { startTestServer, TEST_SECRET, type TestServer } from './helpers/server.js';
import { request } from './helpers/http.js';

// The callbacks given to page.evaluate / waitForFunction run in the page, not in Node; this
// project's lib has no DOM types, so name the page's globals here (module scope only).
declare const document: any;
declare const window: any;
declare const localStorage: any;

const WAIT = { timeout: 15_000 };

/** The lots of this suite, as a parking operator would have them. */
const LOTS = [
  { key: 'central', name: 'Central Station Garage', total: 120, free: 46 },
  { key: 'riverside', name: 'Riverside Lot', total: 40, free: 9 },
  { key: 'airport', name: 'Airport P3', total: 500, free: 312 },
  { key: 'oldtown', name: 'Old Town Square', total: 8, free: 0 },
  { key: 'harbour', name: 'Harbour Front', total: 60, free: 22, closed: true },
] as const;
type LotKey = (typeof LOTS)[number]['key'];

const card = (lotId: string) => `.lot[data-lot-id="${lotId}"]`;

/** The free count a page's board shows for a lot (waits for the card). */
async function freeOnBoard(page: Page, lotId: string): Promise<number> {
  const text = await page.locator(`${card(lotId)} [data-free]`).textContent(WAIT);
  return Number(text);
}

/** Waits until the board shows `free` for the lot: the page changed by itself, nobody reloaded it. */
async function waitForFree(page: Page, lotId: string, free: number): Promise<void> {
  await page.waitForFunction(
    ([sel, want]) => document.querySelector(`${sel} [data-free]`)?.textContent === String(want),
    [card(lotId), free] as const,
    WAIT,
  );
}

async function waitLive(p: TrackedPage, role: 'user' | 'admin'): Promise<void> {
  try {
    await p.page.waitForFunction((r) => document.body.dataset.state === 'live' && document.body.dataset.role === r, role, WAIT);
  } catch (err) {
    // Say why: the page's state, its visible error and what went wrong inside it.
    const state = await p.page.evaluate(() => `${document.body.dataset.state}/${document.body.dataset.role}: ${document.querySelector('#auth-error')?.textContent ?? ''}`);
    throw new Error(`the page did not go live as ${role} (${state}); page problems: ${JSON.stringify(p.problems)}`, { cause: err });
  }
}

/** Signs in by typing a token into the token field, as a person would. */
async function typeToken(page: Page, token: string): Promise<void> {
  if (await page.locator('#account').isHidden()) await page.click('#account-toggle');
  await page.fill('#token-input', token);
  await page.click('#token-form button[type="submit"]');
}

describe('browser: live board, bookings and admin console (e2e)', function () {
  this.timeout(60_000);

  let browser: Browser | undefined;
  let server: TestServer;
  const lot = {} as Record<LotKey, string>;
  const pages: TrackedPage[] = [];
  const demoUserId = randomUUID();
  const demoAdminId = randomUUID();

  async function open(viewport = LAPTOP): Promise<TrackedPage> {
    const p = await openPage(browser!, server.url, viewport);
    pages.push(p);
    return p;
  }

  before(async function () {
    const chromiumPath = requireChromium(this);
    const demoTokens = {
      user: mintToken({ secret: TEST_SECRET, userId: demoUserId, email: 'driver@demo.spotcast' }),
      admin: mintToken({ secret: TEST_SECRET, userId: demoAdminId, appRole: 'admin', email: 'operator@demo.spotcast' }),
    };
    server = await startTestServer({}, { demoTokens });
    const adminToken = server.token(demoAdminId, 'admin');
    for (const l of LOTS) {
      lot[l.key] = await createLot(server.db, { name: l.name, total: l.total });
      const body = { available_spaces: l.free, ...('closed' in l ? { is_open: false } : {}) };
      const res = await request(server, 'PUT', `/realtime/parking-lots/${lot[l.key]}/availability`, { token: adminToken, body });
      assert.equal(res.status, 200, JSON.stringify(res.body));
    }
    browser = await launchBrowser(chromiumPath);
  });

  afterEach(function () {
    // Whatever went wrong inside a page (an exception, a CSP violation, a failed request) fails the test.
    const problems = pages.flatMap((p) => p.problems.splice(0));
    if (this.currentTest?.state === 'passed') assert.deepEqual(problems, [], 'the pages reported problems');
  });

  after(async () => {
    for (const p of pages) await p.context.close().catch(() => undefined);
    await browser?.close();
    await server?.stop();
  });

  it('serves the page, its modules and the Socket.IO ESM client under the CSP', async () => {
    for (const path of ['/', '/js/main.js', '/js/spotcast-client.js', '/css/app.css', '/socket.io/socket.io.esm.min.js']) {
      const res = await fetch(`${server.url}${path}`);
      assert.equal(res.status, 200, path);
      await res.arrayBuffer();
    }
    const res = await fetch(`${server.url}/`);
    const csp = res.headers.get('content-security-policy') ?? '';
    assert.match(csp, /script-src 'self'/);
    assert.doesNotMatch(await res.text(), /<script(?![^>]*\bsrc=)[^>]*>|\son[a-z]+=/i, 'no inline scripts or inline handlers');
  });

  it("an admin's edit of a lot's availability in page A shows on page B's board without a reload", async () => {
    const a = await open();
    const b = await open();
    // Both open signed in as the demo user (from /demo/tokens); A switches to the demo admin.
    await waitLive(a, 'user');
    await waitLive(b, 'user');
    await a.page.click('#account-toggle');
    await a.page.click('#demo-admin');
    await waitLive(a, 'admin');
    await a.page.locator('#admin').waitFor({ state: 'visible', ...WAIT });
    await a.page.locator('#stats .stat').first().waitFor(WAIT);

    await b.page.evaluate(() => (window.marker = 'not reloaded'));
    assert.equal(await freeOnBoard(b.page, lot.central), 46);

    await a.page.selectOption('#avail-lot', lot.central);
    await a.page.fill('#avail-free', '3');
    await a.page.fill('#avail-reason', 'Physical count at the gate');
    await a.page.click('#avail-submit');
    await a.page.locator('#avail-result.form-result--ok').waitFor(WAIT);

    await waitForFree(b.page, lot.central, 3);
    assert.equal(await b.page.evaluate(() => window.marker), 'not reloaded');
    assert.equal(await b.page.locator(card(lot.central)).getAttribute('data-level'), 'low');
    await waitForFree(a.page, lot.central, 3);

    // Closing a lot shows on the other board too.
    await a.page.click(`${card(lot.airport)} .lot-edit`);
    await a.page.uncheck('#avail-open');
    await a.page.click('#avail-submit');
    await b.page.locator(`${card(lot.airport)} .tag--closed`).waitFor(WAIT);
    await a.page.click(`${card(lot.airport)} .lot-edit`);
    await a.page.check('#avail-open');
    await a.page.click('#avail-submit');
    await b.page.locator(`${card(lot.airport)} .tag--open`).waitFor(WAIT);

    // An announcement from the admin reaches the user's feed.
    await a.page.fill('#announce-title', 'Level 2 closes tonight');
    await a.page.fill('#announce-message', 'Level 2 of Central Station Garage closes at 22:00 for cleaning.');
    await a.page.selectOption('#announce-type', 'maintenance');
    await a.page.click('#announce-submit');
    await b.page.locator('#feed .feed-item', { hasText: 'Level 2 closes tonight' }).waitFor(WAIT);

    // Connections (REST with the bearer token) list both pages.
    await a.page.click('#connections-refresh');
    await a.page.waitForFunction(() => document.querySelectorAll('#connections tr').length >= 2, undefined, WAIT);
    await screenshot(b.page, 'board-announcement');
  });

  it("the admin console's waitlist shows a full lot's queue live, and an admin's priority reorders it", async () => {
    const a = await open();
    await waitLive(a, 'user');
    await a.page.click('#account-toggle');
    await a.page.click('#demo-admin');
    await waitLive(a, 'admin');
    await a.page.selectOption('#waitlist-lot', lot.oldtown);
    const join = async () => {
      const token = server.token(randomUUID());
      const res = await request(server, 'POST', '/waitlist', { token, body: { parking_lot_id: lot.oldtown, duration_minutes: 60 } });
      assert.equal(res.status, 201, JSON.stringify(res.body));
      return res.body.data.entry.id as string;
    };
    const first = await join();
    const second = await join();
    // Nobody reloads: the second join's waitlist_updated (admin room) refreshes the table.
    const order = () => a.page.evaluate(() => [...document.querySelectorAll('#waitlist tr[data-entry]')].map((r: any) => r.dataset.entry));
    await a.page.waitForFunction(() => document.querySelectorAll('#waitlist tr[data-entry]').length === 2, undefined, WAIT);
    assert.deepEqual(await order(), [first, second]);
    const row = a.page.locator(`#waitlist tr[data-entry="${second}"]`);
    await row.locator('input').fill('3');
    await row.locator('button').click();
    await a.page.waitForFunction((id) => document.querySelector('#waitlist tr[data-entry]')?.dataset.entry === id, second, WAIT);
    assert.deepEqual(await order(), [second, first]);
  });

  it("a booking in page A drops page B's free count by one and shows in A's list as pending", async () => {
    const a = await open();
    await waitLive(a, 'user');
    // B is another user, signed in by pasting a token.
    const b = await open();
    await waitLive(b, 'user');
    const otherUser = randomUUID();
    await typeToken(b.page, server.token(otherUser, 'user'));
    await b.page.waitForFunction((id) => document.body.dataset.state === 'live' && document.querySelector('#who')?.getAttribute('title') === id, otherUser, WAIT);

    const before = await freeOnBoard(b.page, lot.riverside);
    assert.equal(before, 9);

    await a.page.selectOption('#booking-lot', lot.riverside);
    await a.page.selectOption('#booking-duration', '120');
    await a.page.fill('#booking-plate', 'KA-482-EZ');
    await a.page.click('#booking-submit');
    await a.page.locator('#booking-result.form-result--ok').waitFor(WAIT);

    await waitForFree(b.page, lot.riverside, before - 1);
    await waitForFree(a.page, lot.riverside, before - 1);

    const mine = a.page.locator('#my-bookings .booking').filter({ hasText: 'Riverside Lot' }).first();
    await mine.locator('.status[data-status="pending"]').waitFor(WAIT);
    assert.equal((await mine.locator('.status').textContent())?.trim(), 'pending');
    assert.match((await mine.textContent()) ?? '', /KA-482-EZ/);
    const bookingId = await mine.getAttribute('data-booking-id');
    assert.ok(bookingId);
    // The booking is this user's only: the other user's list stays empty.
    assert.equal(await b.page.locator('#my-bookings .booking').count(), 0);

    // A second booking, cancelled from the list: the status moves live and the space comes back.
    await a.page.selectOption('#booking-lot', lot.riverside);
    await a.page.click('#booking-submit');
    await waitForFree(b.page, lot.riverside, before - 2);
    await a.page.waitForFunction(() => document.querySelectorAll('#my-bookings .booking').length === 2, undefined, WAIT);
    const secondId = await a.page.locator('#my-bookings .booking').first().getAttribute('data-booking-id');
    assert.ok(secondId && secondId !== bookingId, 'the newest booking is listed first');
    await a.page.click(`#my-bookings .booking[data-booking-id="${secondId}"] .booking-cancel`);
    await a.page.locator(`#my-bookings .booking[data-booking-id="${secondId}"] .status[data-status="cancelled"]`).waitFor(WAIT);
    await waitForFree(b.page, lot.riverside, before - 1);
    await a.page.locator('#feed .feed-item', { hasText: 'Booking cancelled' }).waitFor(WAIT);

    // A full lot refuses with a readable error.
    await a.page.evaluate((id) => {
      const select = document.querySelector('#booking-lot');
      const option = [...select.options].find((o: { value: string }) => o.value === id);
      option.disabled = false;
      select.value = id;
    }, lot.oldtown);
    await a.page.click('#booking-submit');
    await a.page.locator('#booking-result.form-result--error', { hasText: 'LOT_FULL' }).waitFor(WAIT);

    await a.page.evaluate(() => document.querySelectorAll('.toast').forEach((t: { remove(): void }) => t.remove()));
    await screenshot(a.page, 'board');
  });

  it('a forged or an expired token typed into the token field shows a clear error', async () => {
    const p = await open();
    await waitLive(p, 'user');

    const forged = mintToken({ secret: 'not-the-server-secret-0123456789-abcdefghij', userId: randomUUID(), appRole: 'admin' });
    await typeToken(p.page, forged);
    const alert = p.page.locator('#auth-error');
    await alert.waitFor({ state: 'visible', ...WAIT });
    const text = (await alert.textContent()) ?? '';
    assert.match(text, /Authentication error/);
    assert.match(text, /TOKEN_INVALID/);
    assert.equal(await p.page.evaluate(() => document.body.dataset.state), 'auth-error');
    assert.equal(await p.page.locator('#admin').isVisible(), false, 'a forged admin token shows no admin view');
    // The refused token is not kept: a reload opens with the demo user again.
    assert.notEqual(await p.page.evaluate(() => localStorage.getItem('spotcast.token')), forged);
    await screenshot(p.page, 'token-error', { fullPage: false });

    const expired = server.token(randomUUID(), 'user', { expiresInSeconds: -120 });
    await typeToken(p.page, expired);
    await p.page.locator('#auth-error', { hasText: 'TOKEN_EXPIRED' }).waitFor(WAIT);

    // The demo login still works from the same panel.
    await p.page.click('#demo-user');
    await waitLive(p, 'user');
    assert.equal(await alert.isVisible(), false);
  });

  it('a token that expires while connected signs the page out with a clear message', async () => {
    const p = await open();
    await waitLive(p, 'user');
    await typeToken(p.page, server.token(randomUUID(), 'user', { expiresInSeconds: 2 }));
    await p.page.locator('#auth-error', { hasText: 'TOKEN_EXPIRED' }).waitFor(WAIT);
    assert.equal(await p.page.evaluate(() => document.body.dataset.state), 'auth-error');
    assert.equal(await p.page.evaluate(() => localStorage.getItem('spotcast.token')), null, 'the expired token is forgotten');
  });

  it('after a dropped connection the page reconnects by itself and catches up on what it missed', async () => {
    const p = await open();
    await waitLive(p, 'user');
    const id = randomUUID();
    await typeToken(p.page, server.token(id, 'user'));
    await p.page.waitForFunction((u) => document.body.dataset.state === 'live' && document.querySelector('#who')?.getAttribute('title') === u, id, WAIT);

    await p.page.selectOption('#booking-lot', lot.central);
    await p.page.click('#booking-submit');
    const booking = p.page.locator('#my-bookings .booking').first();
    await booking.locator('.status[data-status="pending"]').waitFor(WAIT);
    const bookingId = await booking.getAttribute('data-booking-id');
    const freeBefore = await freeOnBoard(p.page, lot.airport);

    // Drop the page's transport (as a network blip would); while it is away, an admin cancels the
    // booking and changes a lot. The page reconnects by itself and must show both.
    const adminToken = server.token(demoAdminId, 'admin');
    for (const s of server.app.io.of('/').sockets.values()) if (s.data.principal.userId === id) s.conn.close();
    const cancelled = await request(server, 'POST', `/bookings/${bookingId}/cancel`, { token: adminToken, body: { reason: 'Gate maintenance' } });
    assert.equal(cancelled.status, 200, JSON.stringify(cancelled.body));
    const changed = await request(server, 'PUT', `/realtime/parking-lots/${lot.airport}/availability`, { token: adminToken, body: { available_spaces: freeBefore - 10 } });
    assert.equal(changed.status, 200, JSON.stringify(changed.body));

    await p.page.waitForFunction(() => document.body.dataset.connections === '2' && document.body.dataset.state === 'live', undefined, WAIT);
    await p.page.locator(`#my-bookings .booking[data-booking-id="${bookingId}"] .status[data-status="cancelled"]`).waitFor(WAIT);
    await waitForFree(p.page, lot.airport, freeBefore - 10);
    await p.page.locator('#feed .feed-item', { hasText: 'Gate maintenance' }).waitFor(WAIT);
  });

  it('Pay (test) on a pending booking: the payment, the confirmation and the activation show live', async () => {
    const p = await open();
    await waitLive(p, 'user');
    const id = randomUUID();
    await typeToken(p.page, server.token(id, 'user'));
    await p.page.waitForFunction((u) => document.body.dataset.state === 'live' && document.querySelector('#who')?.getAttribute('title') === u, id, WAIT);
    await p.page.selectOption('#booking-lot', lot.airport);
    await p.page.click('#booking-submit');
    const booking = p.page.locator('#my-bookings .booking').first();
    await booking.locator('.status[data-status="pending"]').waitFor(WAIT);
    const bookingId = await booking.getAttribute('data-booking-id');
    // Every state the list shows for this booking, as it draws them: its status, and whether it says it is paid.
    await p.page.evaluate((bid) => {
      window.shown = [];
      new window.MutationObserver((records: any[]) => {
        for (const r of records) {
          for (const n of r.addedNodes) {
            if (n.dataset?.bookingId === bid) window.shown.push(`${n.dataset.status}${/Payment succeeded/.test(n.textContent) ? ' (paid)' : ''}`);
          }
        }
      }).observe(document.querySelector('#my-bookings'), { childList: true });
    }, bookingId);

    await booking.locator('.booking-pay').click();
    const row = p.page.locator(`#my-bookings .booking[data-booking-id="${bookingId}"]`);
    await row.locator('.status[data-status="active"]').waitFor(WAIT);
    assert.match((await row.locator('.booking-note').textContent()) ?? '', /Payment succeeded/);
    assert.equal(await row.locator('.booking-pay').count(), 0, 'nothing left to pay');
    // Consecutive redraws of one state count once; a redraw of the unpaid hold before the payment
    // arrives (another event of the user's stream landing meanwhile) is not a state it moved to.
    const drawn = await p.page.evaluate(() => window.shown.filter((s: string, i: number, all: string[]) => s !== all[i - 1]));
    const shown = drawn.slice(drawn.findIndex((s: string) => s !== 'pending'));
    assert.deepEqual(shown, ['pending (paid)', 'confirmed (paid)', 'active (paid)'], 'payment_updated, then the confirmation, then the activation, each drawn live');
    await p.page.locator('#feed .feed-item', { hasText: 'Booking confirmed' }).waitFor(WAIT);
  });

  it('without /demo/tokens (production) the page asks for a token, and a pasted one signs in', async () => {
    const prod = await startTestServer();
    try {
      const p = await openPage(browser!, prod.url);
      pages.push(p);
      await p.page.waitForFunction(() => document.body.dataset.state === 'signed-out', undefined, WAIT);
      assert.equal(await p.page.locator('#account').isVisible(), true, 'the token field is shown');
      assert.equal(await p.page.locator('#demo-logins').isVisible(), false, 'no demo buttons');
      const id = randomUUID();
      await typeToken(p.page, prod.token(id, 'user'));
      await waitLive(p, 'user');
      assert.equal(await p.page.locator('#who').getAttribute('title'), id);
      await p.page.locator(card(lot.central)).waitFor(WAIT);
      // A pending booking, and no "Pay (test)": that is the development default's only.
      const created = await request(prod, 'POST', '/bookings', { token: prod.token(id, 'user'), body: { parking_lot_id: lot.airport, duration_minutes: 30 } });
      assert.equal(created.status, 201, JSON.stringify(created.body));
      await p.page.locator('#my-bookings .booking .status[data-status="pending"]').waitFor(WAIT);
      assert.equal(await p.page.locator('.booking-pay').count(), 0);
      // The page asked for /demo/tokens and got the 404 it expects here.
      const expected = (m: string) => m.includes('404');
      assert.ok(p.problems.every(expected), JSON.stringify(p.problems));
      p.problems.splice(0);
      await p.context.close();
    } finally {
      await prod.stop();
    }
  });

  it('a server that cannot fetch its signing keys (AUTH_KEYS_UNAVAILABLE): the page keeps the token, retries, and signs in once they are back', async () => {
    const key = newKey('ES256');
    const jwks = await JwksServer.start([key.jwk]);
    jwks.down();
    const keyed = await startTestServer({ JWT_JWKS_URL: jwks.url, JWT_JWKS_COOLDOWN_MS: '200' });
    try {
      const p = await openPage(browser!, keyed.url);
      pages.push(p);
      await p.page.waitForFunction(() => document.body.dataset.state === 'signed-out', undefined, WAIT);
      const id = randomUUID();
      const token = signedBy(key, id);
      await typeToken(p.page, token);
      await p.page.locator('#banner', { hasText: 'AUTH_KEYS_UNAVAILABLE' }).waitFor(WAIT);
      assert.equal(await p.page.evaluate(() => document.body.dataset.state), 'connecting', 'not signed out: still trying');
      assert.equal(await p.page.locator('#auth-error').isVisible(), false);
      jwks.serve([key.jwk]);
      await waitLive(p, 'user');
      assert.equal(await p.page.locator('#who').getAttribute('title'), id);
      assert.equal(await p.page.evaluate(() => localStorage.getItem('spotcast.token')), token, 'the token was kept');
      // The page asked for /demo/tokens and got the 404 it expects here.
      assert.ok(p.problems.every((m) => m.includes('404')), JSON.stringify(p.problems));
      p.problems.splice(0);
      await p.context.close();
    } finally {
      await keyed.stop();
      await jwks.close();
    }
  });

  it('a valid token typed in is remembered across a reload', async () => {
    const p = await open();
    await waitLive(p, 'user');
    const id = randomUUID();
    await typeToken(p.page, server.token(id, 'user'));
    await p.page.waitForFunction((u) => document.querySelector('#who')?.getAttribute('title') === u, id, WAIT);
    await p.page.reload();
    await waitLive(p, 'user');
    assert.equal(await p.page.locator('#who').getAttribute('title'), id);
  });

  it('screenshots: the board and the admin console, on a laptop and on a phone', async () => {
    for (const [name, viewport] of [['laptop', LAPTOP], ['phone', PHONE]] as const) {
      const user = await open(viewport);
      await waitLive(user, 'user');
      await user.page.locator(card(lot.central)).waitFor(WAIT);
      await user.page.locator('#my-bookings .booking').first().waitFor(WAIT); // the demo user's bookings from above
      const admin = await open(viewport);
      await waitLive(admin, 'user');
      await admin.page.click('#account-toggle');
      await admin.page.click('#demo-admin');
      await waitLive(admin, 'admin');
      await admin.page.locator('#stats .stat').first().waitFor(WAIT);
      await admin.page.waitForFunction(() => document.querySelectorAll('#activity tr').length > 0, undefined, WAIT);
      for (const p of [user.page, admin.page]) await p.evaluate(() => document.querySelectorAll('.toast').forEach((t: { remove(): void }) => t.remove()));
      await screenshot(user.page, name === 'laptop' ? 'board-laptop' : 'board-phone');
      await screenshot(admin.page, name === 'laptop' ? 'admin' : 'admin-phone');
    }
  });
});

/**
 * The admin console's history tools in a real Chromium against a real server and Postgres: a
 * booking's history (typed in, and by clicking its Booking activity row), a lot's availability at
 * a past instant, and the rebuild's check.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import type { Browser } from 'playwright-core';
import { mintToken } from '../server/platform/auth/tokens.js';
import { launchBrowser, openPage, requireChromium, type TrackedPage } from './helpers/browser.js';
import { createLot } from './helpers/fixtures.js';
import { request } from './helpers/http.js';
import { startTestServer, TEST_SECRET, type TestServer } from './helpers/server.js';

declare const document: any;

const WAIT = { timeout: 15_000 };

describe('browser: the admin console shows history, past availability and the rebuild', function () {
  this.timeout(60_000);

  let browser: Browser | undefined;
  let server: TestServer;
  let page: TrackedPage | undefined;
  const adminId = randomUUID();

  before(async function () {
    const chromiumPath = requireChromium(this);
    const demoTokens = {
      user: mintToken({ secret: TEST_SECRET, userId: randomUUID() }),
      admin: mintToken({ secret: TEST_SECRET, userId: adminId, appRole: 'admin' }),
    };
    server = await startTestServer({}, { demoTokens });
    browser = await launchBrowser(chromiumPath);
  });

  after(async () => {
    await page?.context.close().catch(() => undefined);
    await browser?.close();
    await server?.stop();
  });

  it('an admin reads a booking’s changes, the lot’s availability an instant ago, and a clean rebuild check', async () => {
    const lot = await createLot(server.db, { name: 'History Garage', total: 4 });
    const driver = server.token(randomUUID());
    const made = await request(server, 'POST', '/bookings', { token: driver, body: { parking_lot_id: lot, duration_minutes: 60 } });
    const bookingId = made.body.data.booking.id as string;
    const at = new Date(Date.now() + 1000);
    await new Promise((r) => setTimeout(r, 1100)); // the instant asked about is past, with the booking holding
    await request(server, 'POST', `/bookings/${bookingId}/cancel`, { token: server.token(adminId, 'admin') });

    page = await openPage(browser!, server.url);
    const p = page.page;
    await p.waitForFunction(() => document.body.dataset.state === 'live', undefined, WAIT);
    await p.click('#account-toggle');
    await p.click('#demo-admin');
    await p.waitForFunction(() => document.body.dataset.state === 'live' && document.body.dataset.role === 'admin', undefined, WAIT);
    await p.locator('#admin').waitFor({ state: 'visible', ...WAIT });

    // By clicking its row in Booking activity.
    await p.locator('#activity tr', { hasText: 'cancelled' }).first().click(WAIT);
    await p.waitForFunction(() => document.querySelectorAll('#history tr').length === 2, undefined, WAIT);
    const rows = await p.locator('#history tr').allTextContents();
    assert.match(rows[0]!, /created.*– → pending.*History Garage.*owner/);
    assert.match(rows[1]!, /cancelled.*pending → cancelled.*History Garage.*you/);
    assert.equal(await p.inputValue('#history-booking'), bookingId);

    // An unknown id says so.
    await p.fill('#history-booking', randomUUID());
    await p.click('#history-submit');
    await p.waitForFunction(() => /does not exist/.test(document.querySelector('#history-result')?.textContent ?? ''), undefined, WAIT);

    await p.selectOption('#past-lot', lot);
    const local = new Date(at.getTime() - at.getTimezoneOffset() * 60_000).toISOString().slice(0, 19);
    await p.fill('#past-at', local);
    await p.click('#past-submit');
    await p.waitForFunction(() => /: 3 of 4 free \(1 held by bookings/.test(document.querySelector('#past-result')?.textContent ?? ''), undefined, WAIT);

    await p.selectOption('#rebuild-lot', lot);
    await p.click('#rebuild-check');
    await p.waitForFunction(() => /No drift/.test(document.querySelector('#rebuild-result')?.textContent ?? ''), undefined, WAIT);
    assert.deepEqual(page.problems, []);
  });
});

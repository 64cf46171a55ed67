/**
 * @spotcast/client/react in React 19, in Chromium, against a real server: the hooks under
 * StrictMode (effects run, undone and run again) open one connection and hold each room once;
 * state arrives live; an unmount lets everything go; a dropped connection shows as reconnecting,
 * then connected. The page comes from a frontend server of its own (a cross-origin app, as a
 * React dev server would be), at an origin the server's FRONTEND_URL allows.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { launchBrowser, requireChromium } from '../helpers/browser.js';
import { createLot } from '../helpers/fixtures.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { waitUntil } from '../helpers/measure.js';
import { request } from '../helpers/http.js';

declare const window: any;

const HERE = path.dirname(fileURLToPath(import.meta.url));
const WAIT = { timeout: 10_000 };
const PAGE = '<!doctype html><title>app</title><div id="root"></div><script type="module" src="/app.js"></script>';

async function appBundle(spotcastUrl: string): Promise<string> {
  const result = await build({
    entryPoints: [path.join(HERE, 'react-app.ts')],
    bundle: true,
    write: false,
    format: 'esm',
    platform: 'browser',
    target: 'chrome120',
    define: { 'process.env.NODE_ENV': '"development"', SPOTCAST_URL: JSON.stringify(spotcastUrl) },
    logLevel: 'silent',
  });
  return result.outputFiles[0]!.text;
}

describe('client/react: the hooks in React 19 under StrictMode, in Chromium, against a real server', function () {
  this.timeout(60_000);
  let server: TestServer;
  let frontend: Server;
  let bundle = '';
  let browser: Browser;
  let context: BrowserContext | undefined;
  /** Connections the server accepted, per user. */
  const connections = new Map<string, number>();
  const admin = randomUUID();

  before(async function () {
    const chromium = requireChromium(this);
    frontend = createServer((req, res) => {
      const isScript = req.url === '/app.js';
      res.writeHead(200, { 'content-type': isScript ? 'text/javascript' : 'text/html' }).end(isScript ? bundle : PAGE);
    });
    await new Promise<void>((resolve) => frontend.listen(0, '127.0.0.1', resolve));
    const origin = `http://127.0.0.1:${(frontend.address() as AddressInfo).port}`;
    server = await startTestServer({ FRONTEND_URL: origin });
    server.app.io.on('connection', (s) => connections.set(s.data.principal.userId, (connections.get(s.data.principal.userId) ?? 0) + 1));
    bundle = await appBundle(server.url);
    browser = await launchBrowser(chromium);
  });
  after(async () => {
    await browser?.close();
    await server?.stop();
    frontend?.close();
  });
  afterEach(async () => {
    await context?.close();
    context = undefined;
  });

  async function mounted(userId: string, lotId: string, strict = true): Promise<{ page: Page; problems: string[] }> {
    context = await browser.newContext();
    const page = await context.newPage();
    const problems: string[] = [];
    page.on('pageerror', (err) => problems.push(`pageerror: ${err.message}`));
    page.on('console', (msg) => msg.type() === 'error' && problems.push(`console: ${msg.text()}`));
    await page.goto(`http://127.0.0.1:${(frontend.address() as AddressInfo).port}/`);
    await page.waitForFunction(() => window.app !== undefined, undefined, WAIT);
    await page.evaluate((o) => window.app.mount(o), { token: server.token(userId), lotId, strict });
    await page.waitForFunction((id) => window.app.snapshot().commits.some((c: any) => c.status === 'connected' && c.free !== null), lotId, WAIT);
    return { page, problems };
  }
  const serverSockets = (userId: string) => [...server.app.io.of('/').sockets.values()].filter((s) => s.data.principal.userId === userId);

  it('StrictMode: one connection, each room held once, and the state of the lot and the bookings live', async () => {
    const lotId = await createLot(server.db, { total: 12 });
    const userId = randomUUID();
    const { page, problems } = await mounted(userId, lotId);
    const [socket] = serverSockets(userId);
    assert.equal(connections.get(userId), 1, 'the doubled effects opened one connection');
    const incoming: string[] = [];
    socket!.onAny((event: string) => incoming.push(event));
    // The lot's room came with the handshake (the hook subscribed before the provider connected).
    assert.deepEqual(Object.keys((socket!.handshake.auth as { last_seq: object }).last_seq), [`parking_lot:${lotId}`]);
    assert.ok(socket!.rooms.has(`parking_lot:${lotId}`));

    const res = await request(server, 'PUT', `/realtime/parking-lots/${lotId}/availability`, { token: server.token(admin, 'admin'), body: { available_spaces: 7 } });
    assert.equal(res.status, 200);
    await page.waitForFunction(() => window.app.snapshot().commits.at(-1).free === 7, undefined, WAIT);

    const booked = await page.evaluate((id) => window.app.book(id), lotId);
    assert.equal(booked.ok, true, JSON.stringify(booked));
    await page.waitForFunction(() => window.app.snapshot().commits.at(-1).bookings.join() === 'pending', undefined, WAIT);
    await page.waitForFunction(() => window.app.snapshot().commits.at(-1).free === 6, undefined, WAIT);

    assert.deepEqual(incoming.filter((e) => e === 'subscribe' || e === 'unsubscribe'), [], 'no room was left and joined again');

    // A component mounted into the connected app: StrictMode subscribes, releases and subscribes again at once.
    const other = await createLot(server.db, { total: 4 });
    await page.evaluate((id) => window.app.watch(id), other);
    await page.waitForFunction((id) => window.app.later()[id] === 4, other, WAIT);
    assert.deepEqual(incoming.filter((e) => e === 'subscribe' || e === 'unsubscribe'), ['subscribe'], 'one subscribe, no unsubscribe');
    assert.ok(socket!.rooms.has(`parking_lot:${other}`));
    assert.equal(connections.get(userId), 1);
    assert.equal((await page.evaluate(() => window.app.snapshot())).socketListeners, 3);
    assert.deepEqual(problems, []);
  });

  it('unmount lets the socket and the rooms go; a new mount connects again with the same listeners on the socket', async () => {
    const lotId = await createLot(server.db, { total: 3 });
    const userId = randomUUID();
    const { page } = await mounted(userId, lotId);
    await page.evaluate(() => window.app.unmount());
    await waitUntil(() => serverSockets(userId).length === 0, 5000, 'the server to drop the socket');
    const after = await page.evaluate((room) => ({ ...window.app.snapshot(), held: window.app.held(room) }), `parking_lot:${lotId}`);
    assert.equal(after.status, 'closed');
    assert.equal(after.held, false, 'the room was released');
    for (let i = 0; i < 3; i++) {
      await page.evaluate((o) => window.app.mount(o), { token: server.token(userId), lotId, strict: true });
      await page.waitForFunction(() => window.app.snapshot().status === 'connected', undefined, WAIT);
      await page.evaluate(() => window.app.unmount());
    }
    await waitUntil(() => serverSockets(userId).length === 0, 5000, 'the server to drop the socket');
    assert.equal(connections.get(userId), 4, 'one connection per mount');
    assert.equal((await page.evaluate(() => window.app.snapshot())).socketListeners, 3, 'no listener added by the mounts');
  });

  it('a dropped connection shows as reconnecting, then connected, with the missed change', async () => {
    const lotId = await createLot(server.db, { total: 9 });
    const userId = randomUUID();
    const { page } = await mounted(userId, lotId);
    for (const s of serverSockets(userId)) s.conn.close();
    const res = await request(server, 'PUT', `/realtime/parking-lots/${lotId}/availability`, { token: server.token(admin, 'admin'), body: { available_spaces: 2 } });
    assert.equal(res.status, 200);
    await page.waitForFunction(() => window.app.snapshot().commits.at(-1).free === 2 && window.app.snapshot().status === 'connected', undefined, WAIT);
    const seen = (await page.evaluate(() => window.app.snapshot())).commits.map((c: { status: string }) => c.status);
    const statuses = seen.filter((s: string, i: number) => s !== seen[i - 1]);
    assert.deepEqual(statuses.slice(-3), ['connected', 'reconnecting', 'connected']);
  });
});

/**
 * The document's `useRealtime` hook ("Frontend Integration › React Hook Example"), built from the
 * document with React 19 and run for real in Chromium: effects, state updates, cleanup on unmount
 * and on a token change. The page comes from a frontend server of its own, whose origin is the
 * server's FRONTEND_URL (the document's, on a free port), and talks to the server across origins
 * as the frontend does.
 */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { launchBrowser, requireChromium } from '../helpers/browser.js';
import { browserBundle } from './build.js';
import { environment } from './document.js';
import { lot, setAvailability, startWorld, user, type World } from './world.js';
import { waitUntil } from '../helpers/measure.js';

// These callbacks run in the page, whose globals this project's lib does not type.
declare const window: any;

const WAIT = { timeout: 10_000 };
const PAGE = '<!doctype html><title>app</title><div id="root"></div><script type="module" src="/app.js"></script>';

/**
 * The frontend's own server (a React dev server would be at localhost:3000): the page and its
 * script. A real one, not one the browser fakes, because a page of unknown address may not reach
 * a loopback server at all (Chromium's local network access rules).
 */
async function frontendServer(script: () => string): Promise<{ origin: string; server: Server }> {
  const server = createServer((req, res) => {
    const isScript = req.url === '/app.js';
    res.writeHead(200, { 'content-type': isScript ? 'text/javascript' : 'text/html' }).end(isScript ? script() : PAGE);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server };
}

describe('reference document: the useRealtime hook in React 19, in Chromium, against a real server', function () {
  this.timeout(60_000);
  let world: World;
  let browser: Browser;
  let bundle: string;
  /** At FRONTEND_URL, and at another origin. */
  let frontend: { origin: string; server: Server };
  let elsewhere: { origin: string; server: Server };
  let context: BrowserContext | undefined;
  let page: Page | undefined;
  let problems: string[] = [];

  before(async function () {
    const chromium = requireChromium(this);
    frontend = await frontendServer(() => bundle);
    elsewhere = await frontendServer(() => bundle);
    // The document's FRONTEND_URL names the frontend's origin; here that origin has a free port.
    assert.ok(environment().FRONTEND_URL, 'the document sets FRONTEND_URL');
    world = await startWorld({ ...environment(), FRONTEND_URL: frontend.origin });
    bundle = await browserBundle(world.server.url);
    browser = await launchBrowser(chromium);
  });
  after(async () => {
    await browser?.close();
    await world?.close();
    frontend?.server.close();
    elsewhere?.server.close();
  });
  afterEach(async () => {
    // Closed while the page still runs: a page that just goes leaves a long-polling session to time out.
    await page?.evaluate(() => window.app.disconnectAll());
    await waitUntil(() => world.server.app.io.of('/').sockets.size === 0, 5000, 'every socket of the page to be gone');
    await context?.close();
    context = undefined;
    page = undefined;
  });

  /** The app's page, from the frontend server (or `origin`), with the hook not yet mounted. */
  async function openApp(origin = frontend.origin): Promise<Page> {
    context = await browser.newContext();
    problems = [];
    const opened = await context.newPage();
    page = opened;
    opened.on('pageerror', (err) => problems.push(`pageerror: ${err.message}`));
    opened.on('console', (msg) => msg.type() === 'error' && problems.push(`console: ${msg.text()}`));
    await opened.goto(`${origin}/`);
    await opened.waitForFunction(() => window.app !== undefined, undefined, WAIT);
    return opened;
  }

  /** The app's page with the hook mounted for `token`, once its connectionStatus is "connected". */
  async function mounted(token: string, options: { strict?: boolean } = {}): Promise<Page> {
    const opened = await openApp();
    await opened.evaluate(([t, o]) => window.app.mount(t, o), [token, options] as const);
    await opened.waitForFunction(() => window.app.snapshot().commits.some((c: any) => c.connectionStatus === 'connected'), undefined, WAIT);
    return opened;
  }

  const snapshot = (page: Page) => page.evaluate(() => window.app.snapshot());
  const socketsOf = async (userId: string) => (await world.server.app.io.in(`user:${userId}`).fetchSockets()).map((s) => s.id);

  it('mounted with a token: connects from the FRONTEND_URL origin, connectionStatus becomes "connected", the transport upgrades to WebSocket', async () => {
    const me = user(world);
    const page = await mounted(me.token);
    await page.waitForFunction(() => window.app.snapshot().services[0]?.transport === 'websocket', undefined, WAIT);
    const s = await snapshot(page);
    assert.deepEqual(s.commits[0], { connectionStatus: 'disconnected', parkingData: [], service: -1 });
    assert.equal(s.services.length, 1);
    assert.equal(s.services[0].ui[0].method, 'handleConnection');
    assert.equal(s.services[0].ui[0].data.user.id, me.id);
    const [onServer] = await world.server.app.io.in(`user:${me.id}`).fetchSockets();
    assert.equal(onServer?.handshake.headers.origin, frontend.origin);
    assert.deepEqual(problems, []);
  });

  it("subscribeToParkingLot(id): parking_updated reaches the class's updateParkingDisplay and the hook's parkingData updater", async () => {
    const lotId = await lot(world);
    const page = await mounted(user(world).token);
    await page.evaluate((id) => window.app.subscribeToParkingLot(id), lotId);
    await page.waitForFunction((room) => window.app.snapshot().services[0].received.some((r: any) => r.event === 'subscribed' && r.data.room === room), `parking_lot:${lotId}`, WAIT);
    const before = (await snapshot(page)).commits.length;

    await setAvailability(world, lotId, 8);
    await page.waitForFunction((id) => window.app.snapshot().services[0].ui.some((c: any) => c.method === 'updateParkingDisplay' && c.data.parking_lot_id === id), lotId, WAIT);
    await page.waitForFunction((n) => window.app.snapshot().commits.length > n, before, WAIT);
    const s = await snapshot(page);
    assert.equal(s.services[0].ui.find((c: any) => c.method === 'updateParkingDisplay').data.available_spaces, 8);
    // The hook's updater ran (one more commit). It maps over the lots it holds, and the
    // document's hook starts with none and never adds any, so there is none to change.
    assert.deepEqual(s.commits.slice(before), [{ connectionStatus: 'connected', parkingData: [], service: 0 }]);
    assert.deepEqual(problems, []);
  });

  it('getParkingAvailability() from the hook: { parking_lot_id: null } is answered with parking_availability for every lot', async () => {
    const lotId = await lot(world);
    const page = await mounted(user(world).token);
    await page.evaluate(() => window.app.getParkingAvailability());
    await page.waitForFunction(() => window.app.snapshot().services[0].received.some((r: any) => r.event === 'parking_availability'), undefined, WAIT);
    const reply = (await snapshot(page)).services[0].received.find((r: any) => r.event === 'parking_availability').data;
    assert.ok(reply.lots.some((l: { parking_lot_id: string }) => l.parking_lot_id === lotId));
    assert.deepEqual(problems, []);
  });

  it('unmount: the cleanup disconnects the socket, and the server lets it go', async () => {
    const me = user(world);
    const page = await mounted(me.token);
    await waitUntil(async () => (await socketsOf(me.id)).length === 1, 5000, 'the socket on the server');
    await page.evaluate(() => window.app.unmount());
    assert.equal((await snapshot(page)).services[0].connected, false);
    await waitUntil(async () => (await socketsOf(me.id)).length === 0, 5000, 'the server to drop the socket');
  });

  it("a token change: the old user's socket is disconnected, the new user's connects", async () => {
    const [a, b] = [user(world), user(world)];
    const page = await mounted(a.token);
    await waitUntil(async () => (await socketsOf(a.id)).length === 1, 5000, "A's socket");
    await page.evaluate((t) => window.app.setToken(t), b.token);
    await page.waitForFunction(() => window.app.snapshot().services[1]?.connected === true, undefined, WAIT);
    await waitUntil(async () => (await socketsOf(b.id)).length === 1, 5000, "B's socket");
    await waitUntil(async () => (await socketsOf(a.id)).length === 0, 5000, "A's socket to go");
    const s = await snapshot(page);
    assert.deepEqual(s.services.map((x: any) => [x.token === a.token ? 'A' : 'B', x.connected]), [['A', false], ['B', true]]);
  });

  it('under React.StrictMode (as Create React App renders): the doubled effect leaves exactly one live socket', async () => {
    const me = user(world);
    const page = await mounted(me.token, { strict: true });
    const s = await snapshot(page);
    assert.deepEqual(s.services.map((x: any) => x.connected), [false, true]);
    await waitUntil(async () => (await socketsOf(me.id)).length === 1, 5000, 'one socket on the server');
    assert.deepEqual(await socketsOf(me.id), [s.services[1].id]);
  });

  it('served from an origin that is not FRONTEND_URL: the browser refuses the connection', async () => {
    const me = user(world);
    const page = await openApp(elsewhere.origin);
    await page.evaluate((t) => window.app.mount(t), me.token);
    await page.waitForFunction(() => window.app.snapshot().services[0]?.received.some((r: any) => r.event === 'connect_error'), undefined, WAIT);
    const s = await snapshot(page);
    assert.ok(s.commits.every((c: any) => c.connectionStatus === 'disconnected'));
    assert.deepEqual(await socketsOf(me.id), []);
    assert.ok(
      problems.some((p) => p.includes(`from origin '${elsewhere.origin}' has been blocked by CORS policy: No 'Access-Control-Allow-Origin' header`)),
      `the browser says why: ${problems.join('; ')}`,
    );
  });
});

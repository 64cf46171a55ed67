import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmdirSync, rmSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { pino } from 'pino';
import { startEmbeddedPostgres, type EmbeddedDatabase } from '../server/platform/db/embedded.js';
import { FALLBACK_ROOT } from '../server/platform/db/embedded-location.js';
import { freePort, withClient } from './helpers/env.js';
import { type ServerProcess, startServerProcess } from './helpers/processes.js';

const run = promisify(execFile);

describe('embedded default (npm start with no settings)', function () {
  this.timeout(120_000);
  let server: ServerProcess | undefined;
  let folder = '';
  let port = 0;
  let pgPort = 0;
  before(async () => {
    folder = mkdtempSync(path.join(tmpdir(), 'spotcast-embedded-'));
    port = await freePort();
    pgPort = await freePort();
  });

  after(async () => {
    await server?.stop();
    if (folder) rmSync(folder, { recursive: true, force: true });
  });

  it('boots from an empty folder, seeds demo lots, prints tokens and serves the same to the demo page', async () => {
    // Only the folder and ports differ from a newcomer's run, so parallel runs do not collide.
    server = startServerProcess({ PORT: String(port), EMBEDDED_PG_DIR: path.join(folder, 'postgres'), EMBEDDED_PG_PORT: String(pgPort) });
    const output = await server.waitFor(/spotcast is listening/);

    assert.match(output, /starting the embedded Postgres/);
    assert.match(output, /seeded demo parking lots/);
    assert.match(output, /single node \(no REDIS_URL: in-memory adapter\)/);
    await server.waitFor(/admin token \(24 h\):\s+\S+\.\S+\.\S+/);
    const printed = {
      user: server.output().match(/user token \(24 h\):\s+(\S+)/)?.[1],
      admin: server.output().match(/admin token \(24 h\):\s+(\S+)/)?.[1],
    };
    const res = await fetch(`http://127.0.0.1:${port}/demo/tokens`);
    assert.equal(res.status, 200);
    assert.deepEqual(((await res.json()) as { data: unknown }).data, printed);
  });

  it('the smoke check, given only the data folder as npm start had it, finds the server, its secret, and a pushed event', async () => {
    const { stdout } = await run(process.execPath, ['test/websocket-test.js'], {
      env: { PATH: process.env.PATH, EMBEDDED_PG_DIR: path.join(folder, 'postgres') },
    });
    assert.match(stdout, new RegExp(`connecting to http://localhost:${port} \\(from ${folder}/dev-server\\.json`));
    assert.match(stdout, /ok {3}lot Central Station Garage: \d+\/120 free/);
    assert.match(stdout, /ok {3}pushed system_announcement arrived/);
    assert.match(stdout, /PASS smoke check/);
  });

  it('shuts down cleanly on SIGTERM, stopping its Postgres', async () => {
    assert.ok(server);
    assert.equal(await server.stop(), 0);
    const { stdout } = await run('sh', ['-c', `(echo > /dev/tcp/127.0.0.1/${pgPort}) 2>/dev/null && echo open || echo closed`], { shell: '/bin/bash' }).catch(() => ({ stdout: 'closed' }));
    assert.match(stdout, /closed/);
  });
});

describe('embedded Postgres as root, in a project folder the postgres user cannot enter (a clone under /root, mode 700)', function () {
  this.timeout(120_000);
  let closed = '';
  let configured = '';
  const hadFallbackRoot = existsSync(FALLBACK_ROOT);
  const lines: string[] = [];
  const logger = pino({ level: 'info' }, { write: (line: string) => lines.push(line) });
  let db: EmbeddedDatabase | undefined;

  before(function () {
    if (userInfo().uid !== 0) {
      console.warn('    SKIPPED (not running as root): the postgres-user fallback only applies to root');
      this.skip();
    }
    closed = mkdtempSync(path.join(tmpdir(), 'spotcast-closed-'));
    chmodSync(closed, 0o700);
    configured = path.join(closed, 'project', '.data', 'postgres');
  });
  after(async () => {
    await db?.stop();
    if (db && db.dataDir.startsWith(`${FALLBACK_ROOT}/`)) rmSync(path.dirname(db.dataDir), { recursive: true, force: true });
    if (!hadFallbackRoot && existsSync(FALLBACK_ROOT) && readdirSync(FALLBACK_ROOT).length === 0) rmdirSync(FALLBACK_ROOT);
    if (closed) rmSync(closed, { recursive: true, force: true });
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

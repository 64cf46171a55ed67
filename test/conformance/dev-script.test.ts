/**
 * `npm run dev`, the document's command ("API Testing"): the server in watch mode. It must
 * answer, restart when a server source changes (and not for test output or .data), and stop on
 * Ctrl-C (SIGINT to its process group) leaving no process behind.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdirSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { freePort } from '../helpers/env.js';
import { testEnv } from '../helpers/global-setup.js';
import { TEST_SECRET, TEST_WEBHOOK_SECRET } from '../helpers/server.js';
import { block, HERE } from './document.js';

const ROOT = path.resolve(HERE, '../..');

/** Output so far, and a wait for a pattern to appear `times` times in it. */
function watchOutput(child: ChildProcess) {
  let output = '';
  child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  return {
    text: () => output,
    async waitFor(pattern: RegExp, times = 1, timeoutMs = 60_000): Promise<void> {
      const deadline = Date.now() + timeoutMs;
      while ((output.match(new RegExp(pattern, 'g')) ?? []).length < times) {
        if (child.exitCode !== null) throw new Error(`npm run dev exited with ${child.exitCode}:\n${output}`);
        if (Date.now() > deadline) throw new Error(`no ${pattern} (×${times}) within ${timeoutMs} ms:\n${output}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    },
  };
}

/** Whether any process of the group is still there. */
function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ESRCH') return false;
    throw err;
  }
}

describe('reference document: npm run dev', function () {
  this.timeout(120_000);
  let child: ChildProcess | undefined;
  const probes: string[] = [];

  after(() => {
    if (child?.pid && groupAlive(child.pid)) process.kill(-child.pid, 'SIGKILL');
    for (const p of probes) rmSync(p, { force: true });
  });

  it('is the command the document gives', () => {
    assert.match(block('API Testing').code, /^npm run dev$/m);
  });

  it('starts a server that answers, restarts it when a server source changes (not for test output or .data), and stops on Ctrl-C leaving no process', async () => {
    const port = await freePort();
    child = spawn('npm', ['run', 'dev'], {
      cwd: ROOT,
      detached: true, // its own process group, as a terminal gives it: Ctrl-C signals the whole group
      stdio: ['ignore', 'pipe', 'pipe'],
      env: {
        PATH: process.env.PATH,
        HOME: process.env.HOME,
        PORT: String(port),
        DATABASE_URL: testEnv().databaseUrl,
        JWT_SECRET: TEST_SECRET,
        PAYMENT_WEBHOOK_SECRET: TEST_WEBHOOK_SECRET,
      },
    });
    const out = watchOutput(child);
    const listening = /spotcast is listening/;
    await out.waitFor(listening);
    const live = async () => {
      const res = await fetch(`http://127.0.0.1:${port}/health/live`);
      assert.equal(res.status, 200);
      return ((await res.json()) as { data: { node_id: string } }).data.node_id;
    };
    const first = await live();

    for (const dir of ['test-output', '.data']) {
      mkdirSync(path.join(ROOT, dir), { recursive: true });
      const probe = path.join(ROOT, dir, `dev-watch-probe-${randomUUID()}`);
      probes.push(probe);
      writeFileSync(probe, 'not a source');
    }
    await new Promise((r) => setTimeout(r, 500)); // apart from the touch below, so that tsx would name them
    const now = new Date();
    utimesSync(path.join(ROOT, 'server', 'index.ts'), now, now);
    await out.waitFor(listening, 2);
    const restarts = out.text().match(/change in \S+/g);
    assert.deepEqual(restarts, ['change in ./server/index.ts']);
    assert.notEqual(await live(), first, 'a new process answers');

    const exited = new Promise<number | null>((resolve) => child!.once('exit', resolve));
    process.kill(-child.pid!, 'SIGINT');
    await exited;
    await out.waitFor(/"signal":"SIGINT","msg":"shutting down"/);
    const deadline = Date.now() + 10_000;
    while (groupAlive(child.pid!) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    assert.equal(groupAlive(child.pid!), false, 'a process of npm run dev outlived it');
  });
});

/** A Redis server of a test's own, on a free port, without persistence: to stop and start it in outage tests. */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { Redis } from 'ioredis';
import { freePort } from './env.js';
import { sleep } from './measure.js';
import { track, type Cluster, type ExitInfo } from './processes.js';

const OUTPUT_KEEP = 64 * 1024;

export class OwnRedis {
  private child: ChildProcess | undefined;
  private exited: Promise<ExitInfo> | undefined;
  private log = '';
  constructor(readonly port: number) {}

  static async start(): Promise<OwnRedis> {
    const r = new OwnRedis(await freePort());
    await r.start();
    return r;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  get running(): boolean {
    return this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null;
  }

  output(): string {
    return this.log;
  }

  async start(timeoutMs = 10_000): Promise<void> {
    if (this.running) return;
    const child = spawn('redis-server', ['--port', String(this.port), '--save', '', '--appendonly', 'no', '--bind', '127.0.0.1'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    track(child);
    child.stdout?.on('data', (c: Buffer) => (this.log = (this.log + c.toString()).slice(-OUTPUT_KEEP)));
    child.stderr?.on('data', (c: Buffer) => (this.log = (this.log + c.toString()).slice(-OUTPUT_KEEP)));
    this.exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
    this.child = child;
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (!this.running) throw new Error(`redis-server exited:\n${this.log}`);
      const probe = new Redis(this.url, { lazyConnect: true, maxRetriesPerRequest: 0, connectTimeout: 500, retryStrategy: () => null });
      probe.on('error', () => undefined);
      const ok = await probe.connect().then(() => probe.ping().then((p) => p === 'PONG'), () => false).catch(() => false);
      probe.disconnect();
      if (ok) return;
      if (Date.now() > deadline) throw new Error(`redis-server did not answer on ${this.port}:\n${this.log}`);
      await sleep(50);
    }
  }

  async kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<ExitInfo | undefined> {
    if (!this.child || !this.exited) return undefined;
    if (this.running) this.child.kill(signal);
    return this.exited;
  }
}

/** For suites that stop and start Redis: a redis-server of their own. Without the binary the suite is skipped, and says so (a failure under CI). */
export async function ownRedisFor(ctx: Mocha.Context, suite: string): Promise<OwnRedis> {
  if (spawnSync('redis-server', ['--version']).status !== 0) {
    if (process.env.CI) throw new Error('redis-server is required under CI but is not installed');
    console.warn(`    SKIPPED (no redis-server binary): ${suite}`);
    ctx.skip();
  }
  return OwnRedis.start();
}

/** Ends a cluster on its own Redis: Redis up first (the nodes stop gracefully only with it: BullMQ closes its worker through it), the nodes, then Redis. */
export async function stopWithOwnRedis(cluster: Cluster | undefined, redis: OwnRedis | undefined): Promise<void> {
  if (redis && !redis.running) await redis.start().catch(() => undefined);
  await cluster?.stopAll();
  await redis?.kill('SIGKILL');
}

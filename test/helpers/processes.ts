/**
 * spotcast as real processes (`node --import tsx server/index.ts`), as `npm start` runs it: one
 * server with its output and a clean stop, or a cluster of nodes on local ports sharing the run's
 * Postgres and one Redis, as a deployment behind a load balancer would run. Every cluster gets a
 * Socket.IO adapter channel prefix, a BullMQ queue and key prefix of its own, so clusters (and
 * runs) never hear each other. No child process outlives the test process.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { pino } from 'pino';
import type { AppRole } from '../../server/platform/auth/principal.js';
import { mintToken as mint } from '../../server/platform/auth/tokens.js';
import { Db } from '../../server/platform/db/db.js';
import { freePort, removeRedisKeys, uniqueName } from './env.js';
import { testEnv } from './global-setup.js';
import { sleep } from './measure.js';
import { TEST_SECRET, TEST_WEBHOOK_SECRET } from './server.js';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const OUTPUT_KEEP = 64 * 1024;

// Whatever happens to the test process, no child of it outlives it.
const live = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of live) child.kill('SIGKILL');
});

/** Registers a child process to be killed if the test process exits first; forgets it when it exits. */
export function track(child: ChildProcess): ChildProcess {
  live.add(child);
  child.once('exit', () => live.delete(child));
  return child;
}

/** The server's entry point, run by tsx from any working directory. */
function spawnServer(env: NodeJS.ProcessEnv, cwd = ROOT): ChildProcess {
  // tsx by its resolved URL: from a cwd outside the project the bare name would not resolve.
  const tsx = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;
  return track(spawn(process.execPath, ['--import', tsx, path.join(ROOT, 'server', 'index.ts')], { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] }));
}

export interface ServerProcess {
  child: ChildProcess;
  output(): string;
  /** Resolves with the output once it matches; rejects if the process exits first or the timeout passes. */
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<string>;
  /** SIGTERM, and the exit code once it is gone. */
  stop(): Promise<number | null>;
}

/** Starts the server with exactly `env` (plus PATH and HOME), from `cwd` (default: the project). */
export function startServerProcess(env: NodeJS.ProcessEnv, opts: { cwd?: string } = {}): ServerProcess {
  const child = spawnServer({ PATH: process.env.PATH, HOME: process.env.HOME, ...env }, opts.cwd);
  let text = '';
  child.stdout!.on('data', (chunk: Buffer) => (text += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (text += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return {
    child,
    output: () => text,
    async waitFor(pattern, timeoutMs = 90_000) {
      const deadline = Date.now() + timeoutMs;
      while (!pattern.test(text)) {
        if (child.exitCode !== null || child.signalCode !== null) throw new Error(`server exited (${child.exitCode ?? child.signalCode}) before ${pattern}; output:\n${text}`);
        if (Date.now() > deadline) throw new Error(`no ${pattern} within ${timeoutMs} ms; output:\n${text}`);
        await new Promise((r) => setTimeout(r, 50));
      }
      return text;
    },
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      return exited;
    },
  };
}

export interface ExitInfo {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface ClusterNode {
  /** NODE_ID: node-a, node-b, … */
  readonly id: string;
  readonly port: number;
  readonly url: string;
  /** True while the process runs. */
  readonly running: boolean;
  readonly pid: number | undefined;
  /** What the process printed (the last 64 KiB of stdout and stderr, across restarts). */
  output(): string;
  /** Sends the signal; resolves when the process has exited. */
  kill(signal?: NodeJS.Signals): Promise<ExitInfo>;
  /** SIGTERM (graceful); resolves with the exit code (null if it had to be killed after the timeout). */
  stop(timeoutMs?: number): Promise<number | null>;
  /** Starts the node again on the same port with the same id (stopping it first if it runs); resolves when ready. */
  restart(): Promise<void>;
  /** Resolves when GET /health/ready answers 200. */
  waitReady(timeoutMs?: number): Promise<void>;
}

export interface Cluster {
  nodes: ClusterNode[];
  redisUrl: string;
  adapterKey: string;
  queueName: string;
  jobsPrefix: string;
  /** The run's database, as the service (for fixtures and for checking what was committed). */
  db: Db;
  node(id: string): ClusterNode;
  mintToken(userId: string, role?: AppRole): string;
  /** Stops every running node (SIGTERM, then SIGKILL after a while), removes the cluster's Redis keys, closes the db. */
  stopAll(): Promise<void>;
}

export interface ClusterOptions {
  nodes?: number;
  redisUrl: string;
  /** Extra or overriding environment for every node. */
  env?: Record<string, string>;
  readyTimeoutMs?: number;
}

class Node implements ClusterNode {
  readonly url: string;
  private child: ChildProcess | undefined;
  private exited: Promise<ExitInfo> | undefined;
  private buffer = '';

  constructor(
    readonly id: string,
    readonly port: number,
    private readonly env: Record<string, string>,
    private readonly readyTimeoutMs: number,
  ) {
    this.url = `http://127.0.0.1:${port}`;
  }

  get running(): boolean {
    return this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  output(): string {
    return this.buffer;
  }

  private append(chunk: Buffer): void {
    this.buffer += chunk.toString();
    if (this.buffer.length > OUTPUT_KEEP) this.buffer = this.buffer.slice(-OUTPUT_KEEP);
  }

  spawn(): void {
    if (this.running) throw new Error(`${this.id} is already running`);
    this.buffer += `\n----- ${this.id} starting on port ${this.port} -----\n`;
    const child = spawnServer({ ...this.env, PORT: String(this.port), NODE_ID: this.id });
    child.stdout?.on('data', (c: Buffer) => this.append(c));
    child.stderr?.on('data', (c: Buffer) => this.append(c));
    this.exited = new Promise((resolve) => {
      child.once('exit', (code, signal) => {
        this.buffer += `\n----- ${this.id} exited: code ${code}, signal ${signal} -----\n`;
        resolve({ code, signal });
      });
    });
    this.child = child;
  }

  async waitReady(timeoutMs = this.readyTimeoutMs): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let last = 'no answer';
    for (;;) {
      if (!this.running) throw new Error(`${this.id} exited before it was ready:\n${this.output()}`);
      try {
        const res = await fetch(`${this.url}/health/ready`, { signal: AbortSignal.timeout(3000) });
        if (res.status === 200) return;
        last = `${res.status} ${await res.text()}`;
      } catch (err) {
        last = String(err);
      }
      if (Date.now() > deadline) throw new Error(`${this.id} not ready within ${timeoutMs} ms (last: ${last}):\n${this.output()}`);
      await sleep(100);
    }
  }

  async kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<ExitInfo> {
    const child = this.child;
    if (!child || !this.exited) throw new Error(`${this.id} was never started`);
    if (this.running) child.kill(signal);
    return this.exited;
  }

  async stop(timeoutMs = 20_000): Promise<number | null> {
    if (!this.child || !this.exited) return null;
    if (!this.running) return (await this.exited).code;
    this.child.kill('SIGTERM');
    const timer = new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), timeoutMs).unref());
    const outcome = await Promise.race([this.exited, timer]);
    if (outcome === 'timeout') {
      this.child.kill('SIGKILL');
      await this.exited;
      return null;
    }
    return outcome.code;
  }

  async restart(): Promise<void> {
    if (this.running) await this.stop();
    this.spawn();
    await this.waitReady();
  }
}

/** Starts `nodes` server processes (node-a, node-b, …) and resolves when every one is ready. */
export async function startCluster(opts: ClusterOptions): Promise<Cluster> {
  const count = opts.nodes ?? 3;
  const adapterKey = uniqueName('spotcast_io');
  const queueName = uniqueName('q');
  const jobsPrefix = uniqueName('spotcast_test');
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '',
    ...(process.env.HOME ? { HOME: process.env.HOME } : {}),
    NODE_ENV: 'test',
    HOST: '127.0.0.1',
    DATABASE_URL: testEnv().databaseUrl,
    REDIS_URL: opts.redisUrl,
    REDIS_ADAPTER_KEY: adapterKey,
    // REDIS_ADAPTER=sharded npx mocha … runs a cluster suite on the sharded adapter
    ...(process.env.REDIS_ADAPTER ? { REDIS_ADAPTER: process.env.REDIS_ADAPTER } : {}),
    JOBS_QUEUE_NAME: queueName,
    JOBS_PREFIX: jobsPrefix,
    JWT_SECRET: TEST_SECRET,
    PAYMENT_WEBHOOK_SECRET: TEST_WEBHOOK_SECRET,
    SEED_DEMO_DATA: 'false',
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'warn',
    OUTBOX_SWEEP_INTERVAL_MS: '200',
    OUTBOX_SWEEP_GRACE_MS: '500',
    BOOKING_MAX_PENDING_PER_USER: '100000',
    ACTIVITY_FLUSH_INTERVAL_MS: '100',
    ...opts.env,
  };
  const ports = new Set<number>();
  while (ports.size < count) ports.add(await freePort());
  const nodes = [...ports].map((port, i) => new Node(`node-${String.fromCharCode(97 + i)}`, port, env, opts.readyTimeoutMs ?? 90_000));
  const db = new Db({ url: testEnv().databaseUrl, poolMax: 5, roleClaimPath: ['app_metadata', 'role'], logger: pino({ level: 'silent' }), nodeId: null });

  let stopped: Promise<void> | undefined;
  const cluster: Cluster = {
    nodes,
    redisUrl: opts.redisUrl,
    adapterKey,
    queueName,
    jobsPrefix,
    db,
    node(id) {
      const n = nodes.find((x) => x.id === id);
      if (!n) throw new Error(`no node ${id}`);
      return n;
    },
    mintToken: (userId, role = 'user') => mint({ secret: TEST_SECRET, userId, appRole: role, expiresInSeconds: 3600 }),
    stopAll() {
      stopped ??= (async () => {
        await Promise.all(nodes.map((n) => n.stop(15_000).catch(() => n.kill('SIGKILL').catch(() => undefined))));
        await removeRedisKeys(opts.redisUrl, [`${jobsPrefix}:*`, `${adapterKey}*`]).catch(() => undefined);
        await db.close().catch(() => undefined);
      })();
      return stopped;
    },
  };

  try {
    // Two at a time: on a small machine, tsx compiling for every node at once is slow, not broken.
    for (let i = 0; i < nodes.length; i += 2) {
      const batch = nodes.slice(i, i + 2);
      for (const n of batch) n.spawn();
      await Promise.all(batch.map((n) => n.waitReady()));
    }
  } catch (err) {
    await cluster.stopAll();
    throw err;
  }
  return cluster;
}

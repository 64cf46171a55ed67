/**
 * A cluster of real spotcast processes (`node --import tsx server/index.ts`) on local ports,
 * sharing the run's Postgres and one Redis, as a deployment behind a load balancer would run.
 * Every cluster gets a Socket.IO adapter channel prefix, a BullMQ queue and key prefix of its own,
 * so clusters (and runs) never hear each other. Also: a client that follows one room's stream by
 * sequence number and can move to another node, resuming with the last seq it saw.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { io, type Socket } from 'socket.io-client';
import type { AppRole } from '../../server/platform/auth/principal.js';
import { mintToken as mint } from '../../server/platform/auth/tokens.js';
import { Db } from '../../server/platform/db/db.js';
import { freePort, uniqueName } from './env.js';
import { testEnv } from './global-setup.js';
import { TEST_SECRET, TEST_WEBHOOK_SECRET } from './server.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const OUTPUT_KEEP = 64 * 1024;

// Whatever happens to the test process, no server process outlives it.
const live = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of live) child.kill('SIGKILL');
});

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
    const child = spawn(process.execPath, ['--import', 'tsx', 'server/index.ts'], {
      env: { ...this.env, PORT: String(this.port), NODE_ID: this.id },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    live.add(child);
    child.stdout?.on('data', (c: Buffer) => this.append(c));
    child.stderr?.on('data', (c: Buffer) => this.append(c));
    this.exited = new Promise((resolve) => {
      child.once('exit', (code, signal) => {
        live.delete(child);
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

async function removeRedisKeys(url: string, patterns: string[]): Promise<void> {
  const redis = new Redis(url, { maxRetriesPerRequest: 1, connectTimeout: 2000, retryStrategy: () => null, lazyConnect: true });
  redis.on('error', () => undefined);
  try {
    await redis.connect();
    for (const match of patterns) {
      let cursor = '0';
      do {
        const [next, keys] = await redis.scan(cursor, 'MATCH', match, 'COUNT', 1000);
        cursor = next;
        if (keys.length) await redis.del(...keys);
      } while (cursor !== '0');
    }
  } finally {
    redis.disconnect();
  }
}

/** A Redis server of the test's own, on a free port, without persistence: for outage tests. */
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
    live.add(child);
    child.stdout?.on('data', (c: Buffer) => (this.log = (this.log + c.toString()).slice(-OUTPUT_KEEP)));
    child.stderr?.on('data', (c: Buffer) => (this.log = (this.log + c.toString()).slice(-OUTPUT_KEEP)));
    this.exited = new Promise((resolve) => child.once('exit', (code, signal) => (live.delete(child), resolve({ code, signal }))));
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

// ---- clients ----------------------------------------------------------------------------------

const sockets = new Set<Socket>();

/** Closes every socket made by the helpers of this module. */
export function closeClusterClients(): void {
  for (const s of sockets) s.close();
  sockets.clear();
}

/** A websocket client of one node, not reconnecting by itself; resolves on `connected`. */
export function openSocket(url: string, auth: Record<string, unknown>, opts: { timeoutMs?: number; reconnection?: boolean } = {}): Promise<{ socket: Socket; connected: any }> {
  const socket = io(url, { auth, transports: ['websocket'], reconnection: opts.reconnection ?? false, forceNew: true });
  sockets.add(socket);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      socket.close();
      reject(new Error(`no connected event from ${url} within ${opts.timeoutMs ?? 10_000} ms`));
    }, opts.timeoutMs ?? 10_000);
    socket.once('connected', (connected) => {
      clearTimeout(timer);
      resolve({ socket, connected });
    });
    socket.once('connect_error', (err) => {
      clearTimeout(timer);
      socket.close();
      reject(err);
    });
  });
}

export interface Resumed {
  rooms: { room: string; replayed: number; snapshot: boolean; seq: number }[];
  failed: { room: string; code: string; message: string }[];
}

/**
 * A client that follows one room's stream (`parking_updated` of `parking_lot:<id>`) the way a
 * careful frontend does: it drops events whose seq it has seen, keeps what it got by seq, and on a
 * new connection (to any node) says the last seq it saw so the server replays what it missed.
 */
export class StreamClient {
  socket: Socket | undefined;
  /** seq → first payload seen with it. */
  readonly bySeq = new Map<number, any>();
  /** Seqs in the order they first arrived (duplicates dropped). */
  readonly order: number[] = [];
  /** Every arrival, duplicates included. */
  arrivals = 0;
  readonly snapshots: any[] = [];
  /** The newest seq the client may consider itself up to date with (raised by snapshots too). */
  private head = 0;
  /** Called on every disconnect of the current socket (reason). */
  onDisconnect: ((reason: string) => void) | undefined;
  nodeUrl: string | undefined;
  disconnects: string[] = [];

  constructor(
    readonly token: string,
    readonly room: string,
    readonly label = room,
  ) {}

  /** The last seq such that every seq up to it was received (what a client should resume from). */
  lastContiguous(): number {
    let s = this.head;
    while (this.bySeq.has(s + 1)) s++;
    return s;
  }

  maxSeq(): number {
    return Math.max(this.head, ...this.bySeq.keys());
  }

  has(seq: number): boolean {
    return this.bySeq.has(seq) || seq <= this.head;
  }

  /** The seqs of `expected` this client has not seen. */
  missing(expected: number[]): number[] {
    return expected.filter((s) => !this.bySeq.has(s));
  }

  /**
   * Connects to `url`. With `resume: 'handshake'` the handshake carries `last_seq` for the room and
   * the call resolves on `resumed`; with `resume: 'subscribe'` it subscribes with `last_seq`; with
   * `resume: false` it subscribes plainly (a first visit).
   */
  async connect(url: string, resume: 'handshake' | 'subscribe' | false, lastSeq = this.lastContiguous()): Promise<{ connected: any; resumed?: Resumed; subscribed?: any }> {
    this.close();
    const auth: Record<string, unknown> = { token: this.token, ...(resume === 'handshake' ? { last_seq: { [this.room]: lastSeq } } : {}) };
    const socket = io(url, { auth, transports: ['websocket'], reconnection: false, forceNew: true });
    sockets.add(socket);
    this.socket = socket;
    this.nodeUrl = url;
    socket.on('parking_updated', (p: any) => {
      if (p.room !== this.room) return;
      this.arrivals++;
      if (this.bySeq.has(p.seq)) return;
      this.bySeq.set(p.seq, p);
      this.order.push(p.seq);
    });
    socket.on('room_snapshot', (p: any) => {
      if (p.room !== this.room) return;
      this.snapshots.push(p);
      this.head = Math.max(this.head, p.seq);
    });
    const resumed = resume === 'handshake' ? new Promise<Resumed>((resolve) => socket.once('resumed', resolve)) : undefined;
    socket.on('disconnect', (reason) => {
      this.disconnects.push(reason);
      if (this.socket === socket) this.onDisconnect?.(reason);
    });
    const connected = await new Promise<any>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${this.label}: no connected event from ${url}`)), 10_000);
      socket.once('connected', (c) => (clearTimeout(timer), resolve(c)));
      socket.once('connect_error', (err) => (clearTimeout(timer), reject(err)));
    });
    if (resume === 'handshake') {
      const r = await withTimeout(resumed!, 15_000, `${this.label}: resumed from ${url}`);
      return { connected, resumed: r };
    }
    const ack = await socket.timeout(15_000).emitWithAck('subscribe', { room: this.room, ...(resume === 'subscribe' ? { last_seq: lastSeq } : {}) });
    if (!ack.ok) throw new Error(`${this.label}: subscribe refused: ${JSON.stringify(ack.error)}`);
    return { connected, subscribed: ack.data };
  }

  close(): void {
    const s = this.socket;
    this.socket = undefined;
    if (s) {
      s.close();
      sockets.delete(s);
    }
  }
}

export function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    p.finally(() => clearTimeout(timer)),
    new Promise<T>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms);
    }),
  ]);
}

/** fetch against a node with a bearer token; a connection error resolves as status 0 with the error. */
export async function api(
  url: string,
  method: string,
  path: string,
  opts: { token?: string; body?: unknown; timeoutMs?: number } = {},
): Promise<{ status: number; body: any; error?: string }> {
  const headers: Record<string, string> = {};
  if (opts.token) headers.authorization = `Bearer ${opts.token}`;
  if (opts.body !== undefined) headers['content-type'] = 'application/json';
  try {
    const res = await fetch(`${url}${path}`, {
      method,
      headers,
      ...(opts.body !== undefined ? { body: JSON.stringify(opts.body) } : {}),
      signal: AbortSignal.timeout(opts.timeoutMs ?? 30_000),
    });
    const text = await res.text();
    let body: unknown = text;
    try {
      body = JSON.parse(text);
    } catch {
      // keep text
    }
    return { status: res.status, body };
  } catch (err) {
    const cause = (err as { cause?: { code?: string; message?: string } }).cause;
    return { status: 0, body: undefined, error: cause?.code ?? cause?.message ?? String(err) };
  }
}

/** The seqs a stream has in the event log, in order. */
export async function loggedSeqs(db: Db, stream: string): Promise<number[]> {
  const { rows } = await db.asSystem((tx) => tx.query<{ seq: number }>('select seq::float8 as seq from public.event_log where stream = $1 order by seq', [stream]));
  return rows.map((r) => r.seq);
}

export function percentile(values: number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const idx = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[idx]!;
}

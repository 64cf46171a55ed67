/**
 * The pieces the scenarios share: server processes (spotcast nodes and the bare Socket.IO
 * server), the fleet of load-generating processes, the orchestrator's own trigger sockets, lots.
 */
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { io, type Socket } from 'socket.io-client';
import { mintToken } from '../../../server/platform/auth/tokens.js';
import { Child, wallNow } from './ipc.js';
import { merge } from './stats.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));
export const ROOT = path.resolve(HERE, '../../..');
const SCRIPT = (name: string) => path.join(ROOT, 'scripts', 'bench', name);

export const BENCH_SECRET = 'bench-secret-that-is-long-enough-for-hs256-0123456789';
export const BENCH_WEBHOOK_SECRET = 'bench-webhook-secret-0123456789';
/** Limits raised so that they never refuse bench traffic. */
const NO_LIMITS = {
  RATE_LIMIT_SOCKET_EVENTS: '1000000/1',
  RATE_LIMIT_USER_EVENTS: '1000000/1',
  RATE_LIMIT_BOOKINGS: '1000000/1',
  RATE_LIMIT_HTTP: '1000000/1',
  RATE_LIMIT_CONNECTIONS: '1000000/1',
  RATE_LIMIT_DISCONNECT_AFTER: '1000000',
  // each booker is one user holding many unpaid bookings
  BOOKING_MAX_PENDING_PER_USER: '100000',
};

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
export const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);

export interface BenchContext {
  databaseUrl: string;
  /** The maintenance database of the same server, for creating and dropping databases. */
  adminUrl: string;
  /** Registers a clean-up the orchestrator runs at the end, also after an error or Ctrl-C. */
  onCleanup: (name: string, run: () => Promise<unknown>) => void;
  redisUrl: string | undefined;
  /** Unique per invocation: names the Redis adapter channel, queues and key prefixes. */
  runId: string;
  log: (msg: string) => void;
}

export interface Server {
  name: string;
  kind: 'spotcast' | 'bare';
  child: Child;
  url: string;
}

function baseEnv(): Record<string, string> {
  return { PATH: process.env.PATH ?? '', ...(process.env.HOME ? { HOME: process.env.HOME } : {}) };
}

export interface NodeFlags {
  /** --expose-gc, for memory measurements after a forced GC. */
  gc?: boolean;
  /** --cpu-prof into this directory. */
  cpuProfDir?: string;
}

function execArgv(flags: NodeFlags): string[] {
  return [...(flags.gc ? ['--expose-gc'] : []), ...(flags.cpuProfDir ? ['--cpu-prof', `--cpu-prof-dir=${flags.cpuProfDir}`] : [])];
}

/**
 * A spotcast node configured through its environment, as a deployment would configure it.
 * `redis: true` adds REDIS_URL with this run's adapter key, queue and prefix (`cluster` names a
 * group of nodes that must share them).
 */
export async function startSpotcast(
  ctx: BenchContext,
  name: string,
  opts: { env?: Record<string, string>; redis?: boolean; cluster?: string; flags?: NodeFlags } = {},
): Promise<Server> {
  const cluster = opts.cluster ?? name;
  if (opts.redis && !ctx.redisUrl) throw new Error('Redis is not reachable');
  const env: Record<string, string> = {
    ...baseEnv(),
    NODE_ENV: 'production',
    HOST: '127.0.0.1',
    PORT: '0',
    NODE_ID: name,
    DATABASE_URL: ctx.databaseUrl,
    DATABASE_POOL_MAX: '10',
    JWT_SECRET: BENCH_SECRET,
    PAYMENT_WEBHOOK_SECRET: BENCH_WEBHOOK_SECRET,
    METRICS_TOKEN: 'bench-metrics-token-0123456789', // production refuses an open /metrics
    SEED_DEMO_DATA: 'false',
    LOG_LEVEL: 'warn',
    JOBS_QUEUE_NAME: `bench_${ctx.runId}_${cluster}`,
    JOBS_PREFIX: `spotcast_bench_${ctx.runId}`,
    ...NO_LIMITS,
    ...(opts.redis ? { REDIS_URL: ctx.redisUrl!, REDIS_ADAPTER_KEY: `spotcast_bench_io_${ctx.runId}_${cluster}` } : {}),
    ...opts.env,
  };
  const child = await Child.start(name, SCRIPT('spotcast-server.ts'), { env, execArgv: execArgv(opts.flags ?? {}) });
  return { name, kind: 'spotcast', child, url: `http://127.0.0.1:${String(child.info.port)}` };
}

/** The bare Socket.IO server; with `databaseUrl`, each trigger commits a Postgres transaction before its broadcast. */
export async function startBare(name: string, flags: NodeFlags = {}, databaseUrl?: string, redis?: { url: string; key: string }, poolMax?: number): Promise<Server> {
  const env = {
    ...baseEnv(),
    NODE_ENV: 'production',
    ...(poolMax ? { BARE_POOL_MAX: String(poolMax) } : {}),
    ...(databaseUrl ? { BARE_DATABASE_URL: databaseUrl } : {}),
    ...(redis ? { BARE_REDIS_URL: redis.url, BARE_REDIS_KEY: redis.key } : {}),
  };
  const child = await Child.start(name, SCRIPT('bare-server.ts'), { env, execArgv: execArgv(flags) });
  return { name, kind: 'bare', child, url: `http://127.0.0.1:${String(child.info.port)}` };
}

/** Splits n as evenly as possible over k parts. */
export function split(n: number, k: number): number[] {
  return Array.from({ length: k }, (_, i) => Math.floor(n / k) + (i < n % k ? 1 : 0));
}

export interface Collected {
  /** Distinct deliveries (event × socket). */
  count: number;
  /** Second copies of an event on a socket that already had it. */
  dups: number;
  first: number;
  last: number;
  lat: Float64Array;
  perKey: Record<string, number>;
}

interface ConnectAnswer {
  ok: number;
  failed: number;
  errors: Record<string, number>;
  ms: number;
  total: number;
}

/** The load-generating processes, addressed together. */
export class Fleet {
  private constructor(readonly clients: Child[]) {}

  static async start(k: number): Promise<Fleet> {
    const clients = await Promise.all(
      Array.from({ length: k }, (_, i) => Child.start(`load-client-${i}`, SCRIPT('load-client.ts'), { env: { ...baseEnv(), NODE_ENV: 'production' } })),
    );
    return new Fleet(clients);
  }

  get size(): number {
    return this.clients.length;
  }

  split(n: number): number[] {
    return split(n, this.clients.length);
  }

  /** `n` new sockets in `group`, spread over the processes; spotcast sockets each get a user of their own. */
  async connect(group: string, server: Server, n: number, opts: { admin?: boolean; concurrency?: number; keyBy?: 'value' | 'seq' } = {}) {
    const parts = this.split(n);
    const started = wallNow();
    const answers = await Promise.all(
      this.clients.map((c, i) =>
        parts[i]! > 0
          ? c.call<ConnectAnswer>('connect', {
              group,
              url: server.url,
              count: parts[i],
              ...(server.kind === 'spotcast' ? { secret: BENCH_SECRET } : {}),
              admin: opts.admin ?? false,
              concurrency: opts.concurrency ?? 50,
              ...(opts.keyBy ? { keyBy: opts.keyBy } : {}),
            }, 600_000)
          : Promise.resolve<ConnectAnswer>({ ok: 0, failed: 0, errors: {}, ms: 0, total: 0 }),
      ),
    );
    const errors: Record<string, number> = {};
    for (const a of answers) for (const [k, v] of Object.entries(a.errors)) errors[k] = (errors[k] ?? 0) + v;
    return { ok: sum(answers.map((a) => a.ok)), failed: sum(answers.map((a) => a.failed)), errors, ms: wallNow() - started };
  }

  /** Subscribes the first perClient[i] sockets of the group in each process to the room. */
  async subscribe(group: string, room: string, perClient: number[]) {
    const answers = await Promise.all(
      this.clients.map((c, i) =>
        perClient[i]! > 0
          ? c.call<{ ok: number; failed: number; errors: Record<string, number> }>('subscribe', { group, from: 0, count: perClient[i], room }, 600_000)
          : Promise.resolve({ ok: 0, failed: 0, errors: {} }),
      ),
    );
    const failed = sum(answers.map((a) => a.failed));
    if (failed > 0) throw new Error(`${failed} subscriptions to ${room} failed: ${JSON.stringify(answers.map((a) => a.errors))}`);
    return sum(answers.map((a) => a.ok));
  }

  async disconnect(group: string): Promise<void> {
    await Promise.all(this.clients.map((c) => c.call('disconnect', { group })));
  }

  async wait(keys: string[], perClient: number[], timeoutMs: number): Promise<boolean> {
    const answers = await Promise.all(
      this.clients.map((c, i) =>
        perClient[i]! > 0 ? c.call<{ complete: boolean }>('wait', { keys, expected: perClient[i], timeoutMs }, timeoutMs + 30_000) : Promise.resolve({ complete: true }),
      ),
    );
    return answers.every((a) => a.complete);
  }

  async collect(args: { keys?: string[]; prefix?: string; t0?: Record<string, number>; latencies?: boolean }): Promise<Collected> {
    const answers = await Promise.all(this.clients.map((c) => c.call<Collected>('collect', args)));
    const perKey: Record<string, number> = {};
    for (const a of answers) for (const [k, v] of Object.entries(a.perKey)) perKey[k] = (perKey[k] ?? 0) + v;
    return {
      count: sum(answers.map((a) => a.count)),
      dups: sum(answers.map((a) => a.dups)),
      first: Math.min(...answers.map((a) => a.first)),
      last: Math.max(...answers.map((a) => a.last)),
      lat: merge(answers.map((a) => a.lat)),
      perKey,
    };
  }

  async clear(): Promise<void> {
    await Promise.all(this.clients.map((c) => c.call('clear')));
  }

  async stop(): Promise<void> {
    await Promise.all(this.clients.map((c) => c.stop(10_000)));
  }
}

// ---- the orchestrator's own sockets (triggers) --------------------------------------------------

const ownSockets = new Set<Socket>();

export function closeOwnSockets(): void {
  for (const s of ownSockets) s.close();
  ownSockets.clear();
}

/** An admin socket on a spotcast node (waits for `connected`), or a plain one on the bare server. */
export async function triggerSocket(server: Server): Promise<Socket> {
  const token = server.kind === 'spotcast' ? mintToken({ secret: BENCH_SECRET, userId: randomUUID(), appRole: 'admin', expiresInSeconds: 6 * 3600 }) : undefined;
  const socket = io(server.url, { transports: ['websocket'], reconnection: false, forceNew: true, auth: token ? { token } : {} });
  ownSockets.add(socket);
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no connection to ${server.name}`)), 15_000);
    socket.once(token ? 'connected' : 'connect', () => (clearTimeout(timer), resolve()));
    socket.once('connect_error', (err) => (clearTimeout(timer), reject(err)));
  });
  return socket;
}

export interface Trigger {
  name: string;
  /** What a subscriber records the broadcast under. */
  key(lotId: string, value: number): string;
  fire(lotId: string, value: number): Promise<void>;
}

async function acked(socket: Socket, event: string, payload: unknown): Promise<void> {
  const answer = (await socket.timeout(60_000).emitWithAck(event, payload)) as { ok: boolean; error?: { code: string; message: string } };
  if (!answer.ok) throw new Error(`${event} refused: ${answer.error?.code} ${answer.error?.message}`);
}

const lotKey = (lotId: string, value: number) => `${lotId}|availability_updated|${value}`;

/** The admin path: set_parking_availability → SQL (lot lock, audit row, event log) → commit → emit. */
export function availabilityTrigger(socket: Socket, name = 'spotcast set_parking_availability'): Trigger {
  return {
    name,
    key: lotKey,
    fire: (lotId, value) => acked(socket, 'set_parking_availability', { parking_lot_id: lotId, available_spaces: value }),
  };
}

/** send_announcement to the lot room: an audit row, then a plain emit (no event log). */
export function announcementTrigger(socket: Socket): Trigger {
  return {
    name: 'spotcast send_announcement',
    key: (_lotId, value) => `bench ${value}`,
    fire: (lotId, value) => acked(socket, 'send_announcement', { message: `bench ${value}`, room: `parking_lot:${lotId}` }),
  };
}

/** The bare server broadcasting a payload shaped (and sized) like spotcast's parking_updated. */
export function bareTrigger(socket: Socket, name = 'bare Socket.IO'): Trigger {
  let seq = 0;
  return {
    name,
    key: lotKey,
    fire: (lotId, value) =>
      acked(socket, 'trigger', {
        room: `parking_lot:${lotId}`,
        event: 'parking_updated',
        payload: {
          parking_lot_id: lotId,
          name: `Bench lot ${lotId.slice(0, 8)}`,
          total_spaces: 1_000_000,
          out_of_service: 0,
          occupied_unbooked: 1_000_000 - value,
          held: 0,
          available_spaces: value,
          is_open: true,
          updated_at: new Date().toISOString(),
          action: 'availability_updated',
          timestamp: new Date().toISOString(),
          event_id: 1_000_000 + ++seq,
          room: `parking_lot:${lotId}`,
          seq,
        },
      }),
  };
}

let nextValue = 1000;
/** A value never used before in this invocation: each broadcast is told apart by it. */
export const freshValue = (): number => nextValue++;

// ---- data -----------------------------------------------------------------------------------

export async function createLots(databaseUrl: string, n: number, opts: { total: number; hourlyRateCents?: number; label: string }): Promise<string[]> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    const { rows } = await client.query<{ id: string }>(
      `insert into public.parking_lots (name, total_spaces, hourly_rate_cents)
       select $1 || ' ' || g, $2, $3 from generate_series(1, $4) g returning id`,
      [`Bench ${opts.label}`, opts.total, opts.hourlyRateCents ?? 250, n],
    );
    return rows.map((r) => r.id);
  } finally {
    await client.end();
  }
}

export async function sql(databaseUrl: string, text: string, values: unknown[] = []): Promise<pg.QueryResult> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    return await client.query(text, values);
  } finally {
    await client.end();
  }
}

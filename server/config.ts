import { hostname } from 'node:os';
import { z } from 'zod';
import type { JwtConfig } from './platform/auth/jwt.js';
import { KeyError, parsePublicKeySetting, type PublicKeySpec } from './platform/auth/keys.js';
import type { LogConfig } from './platform/logger.js';
import type { LimitsConfig } from './platform/limits/rate-limits.js';
import type { SocketLimits } from './platform/socket/types.js';

/**
 * Every setting of the server, parsed once from the environment. Nothing else in the
 * server reads process.env: modules receive the parts of Config they need.
 */

const optionalString = z
  .string()
  .trim()
  .transform((v) => (v === '' ? undefined : v))
  .optional();

const bool = (fallback: boolean) =>
  z
    .enum(['true', 'false', '1', '0', 'yes', 'no', ''])
    .optional()
    .transform((v) => (v === undefined || v === '' ? fallback : ['true', '1', 'yes'].includes(v)));

const int = (fallback: number, min: number, max: number) =>
  z.coerce.number().int().min(min).max(max).default(fallback);

const limit = (fallback: string) =>
  z
    .string()
    .regex(/^\d+\/\d+$/, 'write a limit as points/seconds, e.g. 30/1')
    .default(fallback)
    .transform((v) => {
      const [points, seconds] = v.split('/').map(Number) as [number, number];
      return { points, seconds };
    })
    .refine((v) => v.points >= 1 && v.seconds >= 1, 'points and seconds must be at least 1');

const DEFAULT_EMBEDDED_PG_DIR = '.data/postgres';

const envSchema = z.object({
  NODE_ENV: z.enum(['development', 'production', 'test']).default('development'),
  PORT: int(5000, 0, 65535),
  HOST: z.string().default('0.0.0.0'),
  NODE_ID: optionalString,

  DATABASE_URL: optionalString,
  DATABASE_POOL_MAX: int(10, 1, 200),
  DATABASE_QUERY_TIMEOUT_MS: int(10_000, 100, 600_000),
  /** Unset: .data/postgres, or (as root, when the postgres user cannot reach it) a folder under /var/lib/spotcast. */
  EMBEDDED_PG_DIR: optionalString,
  EMBEDDED_PG_PORT: int(54329, 1, 65535),
  SEED_DEMO_DATA: z.enum(['auto', 'true', 'false']).default('auto'),

  REDIS_URL: optionalString,

  /** `supabase`: callers' commands go through Supabase's HTTP API (rpc) with their own JWT. */
  DATA_API: z.enum(['postgres', 'supabase']).default('postgres'),
  SUPABASE_URL: optionalString,
  SUPABASE_ANON_KEY: optionalString,
  /** Channel prefix of the Socket.IO Redis adapter: nodes of one deployment share it. */
  REDIS_ADAPTER_KEY: z.string().regex(/^[A-Za-z0-9_.:-]{1,100}$/).default('spotcast.io'),
  /**
   * `classic`: one Redis channel, every node receives every broadcast. `sharded`: Redis 7 sharded
   * pub/sub (SPUBLISH/SSUBSCRIBE), a channel per room, a node receives only the rooms it has
   * sockets in (and works with Redis Cluster). Every node of a deployment must use the same mode.
   */
  REDIS_ADAPTER: z.enum(['classic', 'sharded']).default('classic'),

  JWT_SECRET: optionalString,
  JWT_PUBLIC_KEY: optionalString,
  /** Default with SUPABASE_URL: its JWKS. `off`: none. */
  JWT_JWKS_URL: optionalString,
  JWT_JWKS_REFRESH_MS: int(600_000, 100, 86_400_000),
  JWT_JWKS_COOLDOWN_MS: int(30_000, 100, 3_600_000),
  JWT_ISSUER: optionalString,
  JWT_AUDIENCE: optionalString,
  JWT_ROLE_CLAIM: z.string().regex(/^[A-Za-z0-9_]+(\.[A-Za-z0-9_]+)*$/).default('app_metadata.role'),
  /** Where the operator (organization) id sits: an admin without it is the platform admin. */
  JWT_ORG_CLAIM: z.string().regex(/^[A-Za-z0-9_]+(\.[A-Za-z0-9_]+)*$/).default('app_metadata.org_id'),
  JWT_CLOCK_TOLERANCE_SECONDS: int(5, 0, 300),

  FRONTEND_URL: z.string().default('http://localhost:3000,http://localhost:5173'),
  /** Behind a load balancer: its address(es) or `loopback`, `uniquelocal`… (proxy-addr syntax). */
  TRUST_PROXY: z.string().regex(/^[\w.:/, -]{1,500}$/).default('loopback'),

  BOOKING_HOLD_SECONDS: int(900, 1, 86_400),
  /** How long a waitlist offer's hold lasts before it passes to the next waiter. */
  WAITLIST_OFFER_SECONDS: int(120, 1, 86_400),
  BOOKING_MAX_HOURS: int(24, 1, 24 * 31),
  BOOKING_MAX_PENDING_PER_USER: int(5, 1, 100_000),
  BOOKING_MAX_DAYS_AHEAD: int(90, 1, 3650),

  PAYMENT_WEBHOOK_SECRET: optionalString,
  PAYMENT_WEBHOOK_TOLERANCE_SECONDS: int(300, 1, 3600),

  OUTBOX_SWEEP_INTERVAL_MS: int(1000, 50, 60_000),
  OUTBOX_SWEEP_GRACE_MS: int(2000, 0, 600_000),
  /** Also the bound on a hold's release when its node is gone (BullMQ alone can sleep up to 10 s then). */
  JOBS_SWEEP_INTERVAL_MS: int(1000, 100, 3_600_000),
  JOBS_CLEANUP_INTERVAL_MS: int(3_600_000, 1000, 7 * 86_400_000),
  JOBS_QUEUE_NAME: z.string().regex(/^[A-Za-z0-9_-]{1,100}$/).default('spotcast-bookings'),
  JOBS_PREFIX: z.string().regex(/^[A-Za-z0-9_-]{1,100}$/).default('spotcast'),

  /** Test-only: `exit-after-commit` makes the process die between a booking's commit and its emit. */
  FAULT_INJECTION: z.enum(['', 'exit-after-commit']).default(''),

  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  LOG_PRETTY: bool(false),
  ACTIVITY_LOG_ENABLED: bool(true),
  ACTIVITY_FLUSH_INTERVAL_MS: int(1000, 10, 60_000),
  ACTIVITY_BATCH_MAX: int(500, 1, 10_000),
  ACTIVITY_BUFFER_MAX: int(50_000, 100, 1_000_000),
  LOG_RETENTION_DAYS: int(30, 1, 3650),
  EVENT_LOG_RETENTION_HOURS: int(72, 1, 24 * 365),
  REPLAY_MAX_EVENTS: int(1000, 1, 100_000),

  SHUTDOWN_TIMEOUT_MS: int(10_000, 100, 120_000),

  /** Limits are points/seconds. */
  RATE_LIMIT_SOCKET_EVENTS: limit('50/1'),
  RATE_LIMIT_USER_EVENTS: limit('100/1'),
  RATE_LIMIT_BOOKINGS: limit('30/60'),
  RATE_LIMIT_HTTP: limit('300/10'),
  RATE_LIMIT_CONNECTIONS: limit('300/10'),
  RATE_LIMIT_DISCONNECT_AFTER: int(200, 1, 1_000_000),
  /** Events replayed from the event log per user; past it a resuming client gets a snapshot. */
  RATE_LIMIT_REPLAY_EVENTS: limit('5000/60'),

  /** Output queued for one socket (not yet taken by its client) past which it is disconnected. */
  SOCKET_MAX_PENDING_BYTES: int(1_048_576, 1024, 1_073_741_824),
  /** Time a new Engine.IO session has to authenticate (send its connect packet and pass the checks). */
  SOCKET_CONNECT_TIMEOUT_MS: int(10_000, 100, 120_000),
  /** Sessions of this node waiting to authenticate; a handshake past it closes the oldest of them. */
  SOCKET_MAX_UNAUTHENTICATED: int(2000, 1, 1_000_000),
  /** Sockets one user may hold on this node. */
  SOCKET_MAX_PER_USER: int(20, 1, 100_000),
  METRICS_TOKEN: optionalString,
  /** Serve GET /metrics on this port of its own (and not on PORT): for a network only Prometheus reaches. */
  METRICS_PORT: z
    .string()
    .trim()
    .optional()
    .transform((v) => (v === undefined || v === '' ? undefined : Number(v)))
    .pipe(z.number().int().min(0).max(65535).optional()),
  METRICS_HOST: z.string().default('0.0.0.0'),
  /** The commit this build came from, for spotcast_build_info (the Dockerfile sets it). */
  BUILD_COMMIT: z.string().regex(/^[\w.-]{1,64}$/).default('unknown'),
  /** How long one round of readiness checks answers GET /health/ready (0: every request checks). */
  HEALTH_CACHE_MS: int(500, 0, 60_000),
});

export type Env = z.infer<typeof envSchema>;
export type { JwtConfig };

export interface Config {
  env: Env['NODE_ENV'];
  port: number;
  host: string;
  nodeId: string;
  database:
    | { kind: 'external'; url: string; poolMax: number; queryTimeoutMs: number }
    | { kind: 'embedded'; dir: string; dirFromEnv: boolean; port: number; poolMax: number; queryTimeoutMs: number };
  seedDemoData: boolean;
  redisUrl?: string | undefined;
  redisAdapterKey: string;
  redisAdapter: 'classic' | 'sharded';
  dataApi: { kind: 'postgres' } | { kind: 'supabase'; url: string; anonKey: string };
  jwt: JwtConfig;
  corsOrigins: string[] | '*';
  bookings: { holdSeconds: number; maxHours: number; maxPendingPerUser: number; maxDaysAhead: number };
  waitlist: { offerSeconds: number };
  /** Express's `trust proxy`: which hops' X-Forwarded-For to believe for the client address. */
  trustProxy: string;
  payments: { webhookSecret?: string | undefined; toleranceSeconds: number };
  outbox: { sweepIntervalMs: number; graceMs: number; retentionHours: number; replayMaxEvents: number };
  jobs: { sweepIntervalMs: number; cleanupIntervalMs: number; queueName: string; prefix: string };
  faultInjection?: 'exit-after-commit' | undefined;
  log: LogConfig;
  activity: { enabled: boolean; flushIntervalMs: number; batchMax: number; bufferMax: number; retentionDays: number };
  shutdownTimeoutMs: number;
  limits: LimitsConfig;
  /** GET /metrics: behind `token` when set; on a listener of its own at `port` when set, else on PORT. */
  metrics: { token?: string | undefined; port?: number | undefined; host: string };
  buildCommit: string;
  health: { cacheMs: number };
  sockets: SocketLimits;
}

export class ConfigError extends Error {
  override name = 'ConfigError';
}

export function loadConfig(source: NodeJS.ProcessEnv = process.env): Config {
  const parsed = envSchema.safeParse(source);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `  ${i.path.join('.')}: ${i.message}`);
    throw new ConfigError(`Invalid configuration:\n${lines.join('\n')}`);
  }
  const e = parsed.data;
  if (e.NODE_ENV === 'production' && e.FAULT_INJECTION) {
    throw new ConfigError('FAULT_INJECTION is for tests and is refused in production');
  }
  if (e.DATA_API === 'supabase' && (!e.SUPABASE_URL || !e.SUPABASE_ANON_KEY)) {
    throw new ConfigError('DATA_API=supabase needs SUPABASE_URL and SUPABASE_ANON_KEY');
  }
  if (e.PAYMENT_WEBHOOK_SECRET && e.PAYMENT_WEBHOOK_SECRET.length < 16) {
    throw new ConfigError('PAYMENT_WEBHOOK_SECRET must be at least 16 characters');
  }
  if (e.JWT_SECRET && e.JWT_SECRET.length < 32) {
    throw new ConfigError('JWT_SECRET must be at least 32 characters');
  }
  const jwt = jwtConfig(e);
  if (e.NODE_ENV === 'production' && !jwt.secret && !jwt.publicKeys && !jwt.jwks) {
    throw new ConfigError('In production a JWT key is required: JWT_SECRET, JWT_PUBLIC_KEY, or a JWKS (JWT_JWKS_URL, or SUPABASE_URL)');
  }
  checkMetricsExposure(e);
  const embedded = !e.DATABASE_URL;
  return {
    env: e.NODE_ENV,
    port: e.PORT,
    host: e.HOST,
    nodeId: e.NODE_ID ?? `${hostname()}-${process.pid}`,
    database: e.DATABASE_URL
      ? { kind: 'external', url: e.DATABASE_URL, poolMax: e.DATABASE_POOL_MAX, queryTimeoutMs: e.DATABASE_QUERY_TIMEOUT_MS }
      : { kind: 'embedded', dir: e.EMBEDDED_PG_DIR ?? DEFAULT_EMBEDDED_PG_DIR, dirFromEnv: e.EMBEDDED_PG_DIR !== undefined, port: e.EMBEDDED_PG_PORT, poolMax: e.DATABASE_POOL_MAX, queryTimeoutMs: e.DATABASE_QUERY_TIMEOUT_MS },
    seedDemoData: e.SEED_DEMO_DATA === 'auto' ? embedded : e.SEED_DEMO_DATA === 'true',
    redisUrl: e.REDIS_URL,
    redisAdapterKey: e.REDIS_ADAPTER_KEY,
    redisAdapter: e.REDIS_ADAPTER,
    dataApi:
      e.DATA_API === 'supabase' && e.SUPABASE_URL && e.SUPABASE_ANON_KEY
        ? { kind: 'supabase', url: e.SUPABASE_URL, anonKey: e.SUPABASE_ANON_KEY }
        : { kind: 'postgres' },
    jwt,
    corsOrigins: e.FRONTEND_URL.trim() === '*' ? '*' : e.FRONTEND_URL.split(',').map((s) => s.trim()).filter(Boolean),
    bookings: {
      holdSeconds: e.BOOKING_HOLD_SECONDS,
      maxHours: e.BOOKING_MAX_HOURS,
      maxPendingPerUser: e.BOOKING_MAX_PENDING_PER_USER,
      maxDaysAhead: e.BOOKING_MAX_DAYS_AHEAD,
    },
    waitlist: { offerSeconds: e.WAITLIST_OFFER_SECONDS },
    trustProxy: e.TRUST_PROXY,
    payments: { webhookSecret: e.PAYMENT_WEBHOOK_SECRET, toleranceSeconds: e.PAYMENT_WEBHOOK_TOLERANCE_SECONDS },
    outbox: { sweepIntervalMs: e.OUTBOX_SWEEP_INTERVAL_MS, graceMs: e.OUTBOX_SWEEP_GRACE_MS, retentionHours: e.EVENT_LOG_RETENTION_HOURS, replayMaxEvents: e.REPLAY_MAX_EVENTS },
    jobs: {
      sweepIntervalMs: e.JOBS_SWEEP_INTERVAL_MS,
      cleanupIntervalMs: e.JOBS_CLEANUP_INTERVAL_MS,
      queueName: e.JOBS_QUEUE_NAME,
      prefix: e.JOBS_PREFIX,
    },
    faultInjection: e.FAULT_INJECTION === '' ? undefined : e.FAULT_INJECTION,
    log: { level: e.LOG_LEVEL, pretty: e.LOG_PRETTY },
    activity: {
      enabled: e.ACTIVITY_LOG_ENABLED,
      flushIntervalMs: e.ACTIVITY_FLUSH_INTERVAL_MS,
      batchMax: e.ACTIVITY_BATCH_MAX,
      bufferMax: e.ACTIVITY_BUFFER_MAX,
      retentionDays: e.LOG_RETENTION_DAYS,
    },
    shutdownTimeoutMs: e.SHUTDOWN_TIMEOUT_MS,
    limits: {
      socket_event: e.RATE_LIMIT_SOCKET_EVENTS,
      user_event: e.RATE_LIMIT_USER_EVENTS,
      booking: e.RATE_LIMIT_BOOKINGS,
      http: e.RATE_LIMIT_HTTP,
      connect: e.RATE_LIMIT_CONNECTIONS,
      // Twice the connection budget: attempts past the first are still told why (a readable
      // connect_error), past the second they are refused before Engine.IO makes a session.
      handshake: { points: e.RATE_LIMIT_CONNECTIONS.points * 2, seconds: e.RATE_LIMIT_CONNECTIONS.seconds },
      replay: e.RATE_LIMIT_REPLAY_EVENTS,
      disconnectAfter: e.RATE_LIMIT_DISCONNECT_AFTER,
    },
    metrics: { token: e.METRICS_TOKEN, port: e.METRICS_PORT, host: e.METRICS_HOST },
    buildCommit: e.BUILD_COMMIT,
    health: { cacheMs: e.HEALTH_CACHE_MS },
    sockets: {
      maxPendingBytes: e.SOCKET_MAX_PENDING_BYTES,
      connectTimeoutMs: e.SOCKET_CONNECT_TIMEOUT_MS,
      maxUnauthenticated: e.SOCKET_MAX_UNAUTHENTICATED,
      maxPerUser: e.SOCKET_MAX_PER_USER,
    },
  };
}

/**
 * /metrics tells anyone who can read it the traffic, the users connected and the errors of the
 * node. In production it is either behind METRICS_TOKEN or on METRICS_PORT, a listener of its
 * own that the load balancer does not route to.
 */
function checkMetricsExposure(e: Env): void {
  if (e.METRICS_TOKEN !== undefined && e.METRICS_TOKEN.length < 16) throw new ConfigError('METRICS_TOKEN must be at least 16 characters');
  if (e.METRICS_PORT !== undefined && e.METRICS_PORT !== 0 && e.METRICS_PORT === e.PORT) {
    throw new ConfigError(`METRICS_PORT must differ from PORT (${e.PORT}): it is the metrics' own listener`);
  }
  if (e.NODE_ENV === 'production' && e.METRICS_TOKEN === undefined && e.METRICS_PORT === undefined) {
    throw new ConfigError(
      'In production GET /metrics must not be open on the public port: set METRICS_TOKEN (Prometheus sends it as a bearer token), ' +
        'or METRICS_PORT to serve metrics on a port of their own that only Prometheus reaches',
    );
  }
}

/**
 * The keys are checked here, not at first use: a JWT_PUBLIC_KEY that cannot verify anything stops
 * the start with its reason. JWT_SECRET and the public keys may be set together (a switch-over).
 */
function jwtConfig(e: Env): JwtConfig {
  let publicKeys: PublicKeySpec[] | undefined;
  if (e.JWT_PUBLIC_KEY) {
    try {
      publicKeys = parsePublicKeySetting(e.JWT_PUBLIC_KEY.replace(/\\n/g, '\n'));
    } catch (err) {
      if (err instanceof KeyError) throw new ConfigError(`JWT_PUBLIC_KEY: ${err.message}`);
      throw err;
    }
  }
  return {
    secret: e.JWT_SECRET,
    publicKeys,
    jwks: jwksConfig(e),
    issuer: e.JWT_ISSUER,
    audience: e.JWT_AUDIENCE,
    roleClaimPath: e.JWT_ROLE_CLAIM.split('.'),
    orgClaimPath: e.JWT_ORG_CLAIM.split('.'),
    clockToleranceSeconds: e.JWT_CLOCK_TOLERANCE_SECONDS,
  };
}

const LOOPBACK = new Set(['localhost', '127.0.0.1', '[::1]']);

function jwksConfig(e: Env): JwtConfig['jwks'] {
  if (e.JWT_JWKS_URL?.toLowerCase() === 'off') return undefined;
  const from = e.JWT_JWKS_URL ? 'JWT_JWKS_URL' : 'SUPABASE_URL';
  // Where Supabase publishes a project's signing keys (Auth > JWT signing keys).
  const raw = e.JWT_JWKS_URL ?? (e.SUPABASE_URL ? `${e.SUPABASE_URL.replace(/\/+$/, '')}/auth/v1/.well-known/jwks.json` : undefined);
  if (!raw) return undefined;
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new ConfigError(`${from}: ${JSON.stringify(raw)} is not a URL`);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new ConfigError(`${from}: the JWKS URL must be http(s), not ${url.protocol}`);
  // Whoever can change the key set in transit can sign tokens: plain http only to this machine.
  if (e.NODE_ENV === 'production' && url.protocol === 'http:' && !LOOPBACK.has(url.hostname)) {
    throw new ConfigError(`${from}: in production the JWKS must be fetched over https (${url.host} is not this machine)`);
  }
  return { url: url.toString(), refreshMs: e.JWT_JWKS_REFRESH_MS, cooldownMs: e.JWT_JWKS_COOLDOWN_MS, from };
}

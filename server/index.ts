import { createServer } from 'node:http';
import path from 'node:path';
import { createApplication } from './app.js';
import { loadOrCreateDevSecret } from './platform/auth/dev-secret.js';
import { createTokenVerifier } from './platform/auth/jwt.js';
import { mintToken } from './platform/auth/tokens.js';
import { ConfigError, loadConfig, type Config } from './config.js';
import { createSupabaseCalls } from './platform/data/supabase-calls.js';
import { Db } from './platform/db/db.js';
import { startEmbeddedPostgres, type EmbeddedDatabase } from './platform/db/embedded.js';
import { runMigrations } from './platform/db/migrate.js';
import { DEMO_ADMIN_ID, DEMO_USER_ID, seedDemoData } from './features/demo/seed.js';
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
    const jwt = resolveJwt(config, logger);
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
      logger,
      nodeId: config.nodeId,
    });
    cleanups.push(() => db.close());
    if (config.seedDemoData) await seedDemoData(db, logger);

    const redis = config.redisUrl ? createRedisClients(config.redisUrl, config.redisAdapterKey, logger) : undefined;
    if (redis) cleanups.push(() => redis.close());
    const scheduler = redis
      ? new BullMqScheduler({
          ...config.jobs,
          queueConnection: redis.jobsQueue,
          workerConnection: redis.jobsWorker,
          logger: logger.child({ component: 'jobs' }),
        })
      : undefined;

    const demoTokens = jwt.secret && config.seedDemoData && config.env !== 'production' ? mintDemoTokens(jwt.secret) : undefined;
    const httpServer = createServer();
    const app = createApplication(httpServer, {
      demoTokens,
      calls: config.dataApi.kind === 'supabase' ? createSupabaseCalls({ ...config.dataApi, nodeId: config.nodeId }) : undefined,
      config: { ...config, payments },
      db,
      logger,
      verifier,
      ...(redis ? { adapter: redis.adapter, link: redis.link, scheduler, redis: redis.pub, readinessChecks: { redis: () => redis.ping() } } : {}),
    });
    cleanups.push(() => app.stop());
    await app.start();
    if (config.dataApi.kind === 'supabase') logger.info({ url: config.dataApi.url }, "callers' commands go through Supabase's HTTP API (rpc) with their own JWT");
    logger.info({ jobs: app.scheduler.kind }, app.scheduler.kind === 'bullmq' ? 'booking jobs run on BullMQ' : 'booking jobs run in this process');

    await new Promise<void>((resolve, reject) => {
      httpServer.once('error', reject);
      httpServer.listen(config.port, config.host, resolve);
    });
    logger.info(
      { port: config.port, database: config.database.kind, adapter: config.redisUrl ? 'redis' : 'in-memory' },
      config.redisUrl ? 'spotcast is listening' : 'spotcast is listening as a single node (no REDIS_URL: in-memory adapter)',
    );
    if (demoTokens) printDemoTokens(config, demoTokens);
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
  const embedded: EmbeddedDatabase = await startEmbeddedPostgres({ dir: config.database.dir, port: config.database.port, logger });
  cleanups.push(() => embedded.stop());
  return embedded.url;
}

function resolveJwt(config: Config, logger: Logger): Config['jwt'] {
  if (config.jwt.secret || config.jwt.publicKeys || config.jwt.jwks) return config.jwt;
  const dataDir = path.dirname(path.resolve(config.database.kind === 'embedded' ? config.database.dir : '.data/postgres'));
  const dev = loadOrCreateDevSecret(dataDir, 'dev-jwt-secret');
  logger.warn({ file: dev.file, created: dev.created }, 'no JWT key (JWT_SECRET, JWT_PUBLIC_KEY, JWT_JWKS_URL): using a development secret (never in production)');
  return { ...config.jwt, secret: dev.secret };
}

function resolveWebhookSecret(config: Config, logger: Logger): Config['payments'] {
  if (config.payments.webhookSecret || config.env === 'production') return config.payments;
  const dataDir = path.dirname(path.resolve(config.database.kind === 'embedded' ? config.database.dir : '.data/postgres'));
  const dev = loadOrCreateDevSecret(dataDir, 'dev-webhook-secret');
  logger.warn({ file: dev.file }, 'no PAYMENT_WEBHOOK_SECRET: using a development webhook secret (never in production)');
  return { ...config.payments, webhookSecret: dev.secret };
}

function mintDemoTokens(secret: string): { user: string; admin: string } {
  const day = 24 * 3600;
  return {
    user: mintToken({ secret, userId: DEMO_USER_ID, email: 'driver@demo.spotcast', expiresInSeconds: day }),
    admin: mintToken({ secret, userId: DEMO_ADMIN_ID, appRole: 'admin', email: 'operator@demo.spotcast', expiresInSeconds: day }),
  };
}

function printDemoTokens(config: Config, tokens: { user: string; admin: string }): void {
  const url = `http://localhost:${config.port}`;
  process.stdout.write(
    `\n  spotcast demo is ready at ${url}\n\n` +
      `  user token (24 h):\n  ${tokens.user}\n\n  admin token (24 h):\n  ${tokens.admin}\n\n` +
      `  try: node test/websocket-test.js\n\n`,
  );
}

void main();

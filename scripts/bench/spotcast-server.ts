/**
 * A spotcast node for the bench, built exactly as server/index.ts builds one (env → loadConfig →
 * migrations → Db → Redis clients and BullMQ when REDIS_URL is set → createApplication → listen),
 * driven by the orchestrator over IPC: `mem` (process.memoryUsage() after a forced GC when run with
 * --expose-gc), `stats`, `stop` (graceful, then a normal exit so --cpu-prof writes its profile).
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { writeHeapSnapshot } from 'node:v8';
import { createApplication } from '../../server/app.js';
import { createTokenVerifier } from '../../server/platform/auth/jwt.js';
import { loadConfig } from '../../server/config.js';
import { Db } from '../../server/platform/db/db.js';
import { runMigrations } from '../../server/platform/db/migrate.js';
import { BullMqScheduler } from '../../server/platform/jobs/bullmq-scheduler.js';
import { createLogger } from '../../server/platform/logger.js';
import { createRedisClients } from '../../server/platform/redis.js';
import { serve } from './lib/ipc.js';
import { forcedGcMemory } from './lib/memory.js';
import { writeSyscalls } from './lib/proc.js';

async function main(): Promise<void> {
  const config = loadConfig(process.env);
  if (config.database.kind !== 'external') throw new Error('the bench node needs DATABASE_URL');
  const logger = createLogger(config);
  await runMigrations(config.database.url, logger);
  const db = new Db({ url: config.database.url, poolMax: config.database.poolMax, roleClaimPath: config.jwt.roleClaimPath, logger, nodeId: config.nodeId });
  const redis = config.redisUrl ? createRedisClients(config.redisUrl, config.redisAdapterKey, logger, config.redisAdapter) : undefined;
  const scheduler = redis
    ? new BullMqScheduler({ ...config.jobs, queueConnection: redis.jobsQueue, workerConnection: redis.jobsWorker, logger: logger.child({ component: 'jobs' }) })
    : undefined;
  const httpServer = createServer();
  const app = createApplication(httpServer, {
    config,
    db,
    logger,
    verifier: await createTokenVerifier(config.jwt, { logger }),
    ...(redis ? { adapter: redis.adapter, link: redis.link, scheduler, redis: redis.pub, readinessChecks: { redis: () => redis.ping() } } : {}),
  });
  await app.start();
  await new Promise<void>((resolve, reject) => {
    httpServer.once('error', reject);
    httpServer.listen(config.port, config.host, resolve);
  });
  // What this node receives from Redis (the adapter's subscriber connection): messages and bytes.
  // (Its own publishes come back too: Redis sends a channel's messages to every subscriber.)
  const redisIn = { messages: 0 };
  const countIn = () => void redisIn.messages++;
  redis?.sub.on('pmessageBuffer', countIn); // the classic adapter's pattern subscription
  redis?.sub.on('messageBuffer', countIn);
  redis?.sub.on('smessageBuffer', countIn);
  const lag = monitorEventLoopDelay({ resolution: 10 });
  lag.enable();

  let stopped: Promise<void> | undefined;
  const stop = () => {
    stopped ??= (async () => {
      lag.disable();
      await app.stop();
      await db.close();
      await redis?.close();
    })();
    return stopped;
  };

  serve(
    {
      /** The monotonic clock (µs) the V8 CPU profile stamps its samples with: brackets the workload. */
      mark: () => Number(process.hrtime.bigint() / 1000n),
      /** CPU time this process used so far (µs, user + system): what a workload cost, whatever the machine's load. */
      cpu: () => {
        const u = process.cpuUsage();
        return u.user + u.system;
      },
      writes: () => writeSyscalls(),
      /** process.memoryUsage() as it is (no GC): what the process holds right now, garbage included. */
      memRaw: () => process.memoryUsage(),
      async mem() {
        // Buffered log rows are not per-socket state: write them before measuring.
        await app.activity.flush();
        return { ...(await forcedGcMemory()), sockets: app.io.engine.clientsCount };
      },
      /** A heap snapshot after a forced GC, into `file` (scripts/bench/heap.ts compares two). */
      async snapshot(file: string) {
        await app.activity.flush();
        await forcedGcMemory();
        return writeHeapSnapshot(file);
      },
      stats() {
        const s = {
          sockets: app.io.engine.clientsCount,
          dispatcher: app.dispatcher.stats,
          sweeper: app.sweeper.stats,
          activity: app.activity.stats,
          loopDelayP99Ms: lag.percentile(99) / 1e6,
          loopDelayMaxMs: lag.max / 1e6,
          redisIn: { messages: redisIn.messages, bytes: redis?.sub.stream?.bytesRead ?? 0 },
        };
        lag.reset();
        return s;
      },
    },
    { port: (httpServer.address() as AddressInfo).port, pid: process.pid, jobs: app.scheduler.kind },
    stop,
  );
}

main().catch((err: unknown) => {
  console.error('bench spotcast node failed to start:', err);
  process.exit(1);
});

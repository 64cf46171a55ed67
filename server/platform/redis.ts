import { createAdapter } from '@socket.io/redis-adapter';
import { Redis, type RedisOptions } from 'ioredis';
import type { Logger } from './logger.js';

export interface RedisClients {
  pub: Redis;
  sub: Redis;
  /** For adding BullMQ jobs: fails at once while Redis is away instead of queueing the command. */
  jobsQueue: Redis;
  /** For BullMQ's worker: maxRetriesPerRequest must be null, it blocks on the connection. */
  jobsWorker: Redis;
  adapter: ReturnType<typeof createAdapter>;
  ping(): Promise<void>;
  close(): Promise<void>;
}

/**
 * The node's Redis connections. Every client has an error listener and retries forever with a
 * capped backoff: a Redis outage degrades cross-node delivery and jobs, it never crashes a node.
 */
export function createRedisClients(url: string, adapterKey: string, logger: Logger): RedisClients {
  const log = logger.child({ component: 'redis' });
  const make = (name: string, extra: RedisOptions = {}) => {
    const client = new Redis(url, {
      connectionName: `spotcast-${name}`,
      retryStrategy: (times) => Math.min(times * 200, 2000),
      ...extra,
    });
    let down = false;
    client.on('error', (err) => {
      if (!down) log.warn({ err: err.message, client: name }, 'Redis connection error');
      down = true;
    });
    client.on('ready', () => {
      if (down) log.info({ client: name }, 'Redis connection restored');
      down = false;
    });
    return client;
  };
  const pub = make('pub');
  const sub = make('sub');
  const jobsQueue = make('jobs-queue', { enableOfflineQueue: false, maxRetriesPerRequest: 1 });
  const jobsWorker = make('jobs-worker', { maxRetriesPerRequest: null });
  // The adapter publishes without handling the promise; once ioredis gives up on a queued command
  // (a Redis outage past its retries) that would be an unhandled rejection, which ends the process.
  const publish = pub.publish.bind(pub) as (...args: unknown[]) => Promise<number>;
  (pub as unknown as { publish: (...args: unknown[]) => Promise<number> }).publish = (...args) => {
    const sent = publish(...args);
    sent.catch((err: unknown) => log.warn({ err: err instanceof Error ? err.message : String(err) }, 'Redis publish failed; clients catch up with last_seq'));
    return sent;
  };
  let closed = false;
  return {
    pub,
    sub,
    jobsQueue,
    jobsWorker,
    adapter: createAdapter(pub, sub, { key: adapterKey, requestsTimeout: 3000 }),
    async ping() {
      const answer = await pub.ping();
      if (answer !== 'PONG') throw new Error(`unexpected PING answer ${answer}`);
    },
    async close() {
      if (closed) return;
      closed = true;
      await Promise.allSettled([pub.quit(), sub.quit(), jobsQueue.quit(), jobsWorker.quit()]);
    },
  };
}

import { createAdapter } from '@socket.io/redis-adapter';
import { Redis, type RedisOptions } from 'ioredis';
import { rooms } from '../contract/rooms.js';
import type { Logger } from './logger.js';
import { createDeliveryLink, type DeliveryLink } from './redis-link.js';
import { createShardedRedisAdapter } from './redis-sharded.js';

export type RedisAdapterMode = 'classic' | 'sharded';

export interface RedisClients {
  pub: Redis;
  sub: Redis;
  /** For adding BullMQ jobs: fails at once while Redis is away instead of queueing the command. */
  jobsQueue: Redis;
  /** For BullMQ's worker: maxRetriesPerRequest must be null, it blocks on the connection. */
  jobsWorker: Redis;
  /** The Socket.IO adapter factory (`io.adapter(…)`): classic or sharded. */
  adapter: ReturnType<typeof createAdapter> | ReturnType<typeof createShardedRedisAdapter>;
  /** Whether the adapter's publishes got through, and when this node's subscription was interrupted. */
  link: DeliveryLink;
  ping(): Promise<void>;
  close(): Promise<void>;
}

/**
 * The node's Redis connections. Every client has an error listener and retries forever with a
 * capped backoff: a Redis outage degrades cross-node delivery and jobs, it never crashes a node.
 */
export function createRedisClients(url: string, adapterKey: string, logger: Logger, mode: RedisAdapterMode = 'classic'): RedisClients {
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
  // A publish queued while Redis is away is given up after two reconnection attempts: the outbox
  // sends an unconfirmed event again once Redis answers, so a long queue would only add duplicates.
  const pub = make('pub', { maxRetriesPerRequest: 2 });
  const sub = make('sub');
  const jobsQueue = make('jobs-queue', { enableOfflineQueue: false, maxRetriesPerRequest: 1 });
  const jobsWorker = make('jobs-worker', { maxRetriesPerRequest: null });
  const link = createDeliveryLink(pub, sub, { logger: log });
  let closed = false;
  return {
    pub,
    sub,
    jobsQueue,
    jobsWorker,
    adapter:
      mode === 'sharded'
        ? // every parking_updated goes to parking_updates, which nodes of a city all have sockets in
          createShardedRedisAdapter(pub, sub, { channelPrefix: adapterKey, broadRooms: [rooms.parkingUpdates] })
        : createAdapter(pub, sub, { key: adapterKey, requestsTimeout: 3000 }),
    link,
    async ping() {
      const answer = await pub.ping();
      if (answer !== 'PONG') throw new Error(`unexpected PING answer ${answer}`);
    },
    async close() {
      if (closed) return;
      closed = true;
      link.stop();
      await Promise.allSettled([pub.quit(), sub.quit(), jobsQueue.quit(), jobsWorker.quit()]);
    },
  };
}

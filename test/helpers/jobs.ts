import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { BullMqScheduler } from '../../server/platform/jobs/bullmq-scheduler.js';
import { uniqueName } from './env.js';

export interface TestQueue {
  queueName: string;
  prefix: string;
  /** A scheduler on the shared queue, as one node would have. */
  scheduler(): BullMqScheduler;
  /** Direct access to the queue, to inspect or remove jobs as an operator could. */
  queue: Queue;
  close(): Promise<void>;
}

/** A BullMQ queue with a random name and key prefix, so suites and runs never share jobs. */
export function testQueue(redisUrl: string): TestQueue {
  const queueName = uniqueName('q');
  const prefix = uniqueName('spotcast_test');
  const connections: Redis[] = [];
  const connect = (opts: { enableOfflineQueue?: boolean; maxRetriesPerRequest?: number | null } = { maxRetriesPerRequest: null }) => {
    const c = new Redis(redisUrl, opts);
    connections.push(c);
    return c;
  };
  const queue = new Queue(queueName, { connection: connect(), prefix });
  const schedulers: BullMqScheduler[] = [];
  return {
    queueName,
    prefix,
    queue,
    scheduler() {
      const s = new BullMqScheduler({
        // As server/platform/redis.ts makes them: a fail-fast producer connection, a blocking worker one.
        queueConnection: connect({ enableOfflineQueue: false, maxRetriesPerRequest: 1 }),
        workerConnection: connect(),
        queueName,
        prefix,
        logger: pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' }),
      });
      schedulers.push(s);
      return s;
    },
    async close() {
      await Promise.allSettled(schedulers.map((s) => s.stop()));
      await queue.obliterate({ force: true }).catch(() => undefined);
      await queue.close();
      await Promise.allSettled(connections.map((c) => c.quit()));
    },
  };
}

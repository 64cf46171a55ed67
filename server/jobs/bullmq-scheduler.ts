import { DelayedError, Queue, Worker, type Job } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Logger } from '../logger.js';
import { jobId, NotDueError, type JobHandlers, type ScheduledWork, type Scheduler, type Transition } from './scheduler.js';

export interface BullMqSchedulerOptions {
  /** For adding jobs: enableOfflineQueue false, so an add fails at once while Redis is away (BullMQ's advice for producers). */
  queueConnection: Redis;
  /** For the worker: maxRetriesPerRequest null, it blocks on the connection. */
  workerConnection: Redis;
  queueName: string;
  prefix: string;
  logger: Logger;
  concurrency?: number;
}

const TRANSITIONS = new Set<string>(['expire', 'activate', 'complete']);

/**
 * Booking transitions as delayed BullMQ jobs with deterministic ids, retried with backoff by
 * BullMQ itself. Any node's worker may run any job. What Redis loses (a flush, a restart without
 * persistence) the periodic sweep of every node finds in the database.
 */
export class BullMqScheduler implements Scheduler {
  readonly kind = 'bullmq' as const;
  private readonly queue: Queue;
  private worker: Worker | undefined;

  constructor(private readonly opts: BullMqSchedulerOptions) {
    this.queue = new Queue(opts.queueName, {
      connection: opts.queueConnection,
      prefix: opts.prefix,
      defaultJobOptions: {
        attempts: 5,
        backoff: { type: 'exponential', delay: 500 },
        removeOnComplete: true,
        removeOnFail: 1000,
      },
    });
    this.queue.on('error', (err) => opts.logger.warn({ err }, 'job queue error'));
  }

  async start(handlers: Pick<JobHandlers, 'advance'>): Promise<void> {
    this.worker = new Worker(this.opts.queueName, (job, token) => this.run(job, handlers, token), {
      connection: this.opts.workerConnection,
      prefix: this.opts.prefix,
      concurrency: this.opts.concurrency ?? 10,
    });
    this.worker.on('error', (err) => this.opts.logger.warn({ err }, 'job worker error'));
    this.worker.on('failed', (job, err) =>
      this.opts.logger.warn({ err, job: job?.id, attempts: job?.attemptsMade }, 'job failed; BullMQ retries it with backoff'),
    );
  }

  async schedule(work: ScheduledWork[]): Promise<void> {
    if (work.length === 0) return;
    await this.queue.addBulk(
      work.map((w) => ({
        name: w.transition,
        data: { bookingId: w.bookingId },
        opts: { jobId: jobId(w), delay: Math.max(0, w.at.getTime() - Date.now()) },
      })),
    );
  }

  async depth(): Promise<number> {
    const counts = await this.queue.getJobCounts('waiting', 'delayed', 'active', 'prioritized');
    return Object.values(counts).reduce((a, b) => a + b, 0);
  }

  async stop(): Promise<void> {
    await this.worker?.close();
    this.worker = undefined;
    await this.queue.close();
  }

  private async run(job: Job, handlers: Pick<JobHandlers, 'advance'>, token: string | undefined): Promise<unknown> {
    if (TRANSITIONS.has(job.name)) {
      const bookingId = (job.data as { bookingId?: unknown }).bookingId;
      if (typeof bookingId !== 'string') throw new Error(`job ${job.id} has no bookingId`);
      try {
        return await handlers.advance(bookingId, job.name as Transition);
      } catch (err) {
        if (!(err instanceof NotDueError)) throw err;
        // BullMQ's way to run the same job again later, keeping its id (and not counting a failure).
        await job.moveToDelayed(err.retryAt.getTime(), token);
        throw new DelayedError();
      }
    }
    throw new Error(`unknown job ${job.name}`);
  }
}

import { DelayedError, Queue, Worker, type Job } from 'bullmq';
import type { Redis } from 'ioredis';
import { BOOKING_TRANSITIONS } from '../../contract/index.js';
import type { Logger } from '../logger.js';
import { InProcessScheduler } from './in-process-scheduler.js';
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

const TRANSITIONS = new Set<string>(BOOKING_TRANSITIONS);

/** Work due within this is also timed in this process (holds, their window edges, and bookings starting or ending soon). */
const LOCAL_HORIZON_MS = 60 * 60_000;

/**
 * Booking transitions as delayed BullMQ jobs with deterministic ids, retried with backoff by
 * BullMQ itself. Any node's worker may run any job. What Redis loses (a flush, a restart without
 * persistence) the periodic sweep of every node finds in the database.
 */
export class BullMqScheduler implements Scheduler {
  readonly kind = 'bullmq' as const;
  private readonly queue: Queue;
  private worker: Worker | undefined;
  /**
   * This node's own timers for work due soon. Redis answers a worker blocked until a delayed job
   * is due only on its server cron tick (hz 10 by default: up to 100 ms late, 50 ms on average),
   * while a timer here fires on time, and also while Redis is unreachable. The BullMQ job stays
   * the durable copy, for when this node is gone: once the timer has done the work it removes
   * the job, and a job that runs anyway finds nothing left to do (every transition is guarded).
   */
  private readonly local: InProcessScheduler;

  constructor(private readonly opts: BullMqSchedulerOptions) {
    this.local = new InProcessScheduler({ logger: opts.logger, horizonMs: LOCAL_HORIZON_MS });
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
    await this.local.start({
      advance: async (bookingId, transition) => {
        const done = await handlers.advance(bookingId, transition);
        // Done, or nothing left to do: the queued copy is no longer needed. One that is running
        // right now is not removed, and finds nothing to do.
        this.queue.remove(jobId({ bookingId, transition })).catch(() => undefined);
        return done;
      },
    });
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
    await this.local.schedule(work);
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
    await this.local.stop();
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

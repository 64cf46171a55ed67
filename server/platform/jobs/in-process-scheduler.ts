import type { Logger } from '../logger.js';
import { jobId, NotDueError, type JobHandlers, type ScheduledWork, type Scheduler } from './scheduler.js';

/** setTimeout's limit; later work is left to the periodic sweep, which finds it when it is due. */
const MAX_DELAY_MS = 2 ** 31 - 1;

/**
 * The one-node default without Redis: each booking's transitions on timers in this process.
 * Nothing is lost on restart: the periodic sweep finds every due booking in the database.
 */
export class InProcessScheduler implements Scheduler {
  readonly kind = 'in-process' as const;
  private readonly timers = new Map<string, NodeJS.Timeout>();
  private handlers: Pick<JobHandlers, 'advance'> | undefined;
  private pending = new Set<Promise<unknown>>();

  /** `horizonMs`: work due later than this is not timed here (the job queue or the sweep has it). */
  constructor(private readonly opts: { logger: Logger; horizonMs?: number }) {}

  async start(handlers: Pick<JobHandlers, 'advance'>): Promise<void> {
    this.handlers = handlers;
  }

  async schedule(work: ScheduledWork[]): Promise<void> {
    for (const w of work) {
      const id = jobId(w);
      clearTimeout(this.timers.get(id));
      const delay = Math.max(0, w.at.getTime() - Date.now());
      if (delay > Math.min(MAX_DELAY_MS, this.opts.horizonMs ?? MAX_DELAY_MS)) continue;
      const timer = setTimeout(() => {
        this.timers.delete(id);
        if (!this.handlers) return;
        this.track(
          this.handlers.advance(w.bookingId, w.transition).catch((err: unknown) => {
            if (err instanceof NotDueError) return this.schedule([{ ...w, at: err.retryAt }]);
            throw err;
          }),
        );
      }, delay);
      timer.unref();
      this.timers.set(id, timer);
    }
  }

  async depth(): Promise<number> {
    return this.timers.size;
  }

  async stop(): Promise<void> {
    for (const t of this.timers.values()) clearTimeout(t);
    this.timers.clear();
    this.handlers = undefined;
    await Promise.allSettled([...this.pending]);
  }

  private track(p: Promise<unknown>): void {
    const tracked = p.catch((err: unknown) => this.opts.logger.warn({ err }, 'booking timer failed; the job queue or the periodic sweep retries it'));
    this.pending.add(tracked);
    void tracked.finally(() => this.pending.delete(tracked));
  }
}

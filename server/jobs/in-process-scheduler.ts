import type { Logger } from '../logger.js';
import { jobId, NotDueError, type JobHandlers, type ScheduledWork, type Scheduler, type ScheduleTiming } from './scheduler.js';

/** setTimeout's limit; later work is left to the sweep, which finds it when it is due. */
const MAX_DELAY_MS = 2 ** 31 - 1;

/**
 * The one-node default without Redis: the same work as the BullMQ scheduler, on timers in this
 * process. Nothing is lost on restart: the sweep finds every due booking in the database.
 */
export class InProcessScheduler implements Scheduler {
  readonly kind = 'in-process' as const;
  private readonly timers = new Map<string, NodeJS.Timeout>();
  private intervals: NodeJS.Timeout[] = [];
  private handlers: JobHandlers | undefined;
  private pending = new Set<Promise<unknown>>();

  constructor(private readonly opts: ScheduleTiming & { logger: Logger }) {}

  async start(handlers: JobHandlers): Promise<void> {
    this.handlers = handlers;
    this.intervals = [
      setInterval(() => this.track(handlers.sweepDue()), this.opts.sweepIntervalMs),
      setInterval(() => this.track(handlers.cleanup()), this.opts.cleanupIntervalMs),
    ];
    for (const i of this.intervals) i.unref();
    this.track(handlers.sweepDue());
  }

  async schedule(work: ScheduledWork[]): Promise<void> {
    for (const w of work) {
      const id = jobId(w);
      clearTimeout(this.timers.get(id));
      const delay = Math.max(0, w.at.getTime() - Date.now());
      if (delay > MAX_DELAY_MS) continue;
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
    for (const i of this.intervals) clearInterval(i);
    this.intervals = [];
    this.handlers = undefined;
    await Promise.allSettled([...this.pending]);
  }

  private track(p: Promise<unknown>): void {
    const tracked = p.catch((err: unknown) => this.opts.logger.warn({ err }, 'in-process job failed; the sweep will retry'));
    this.pending.add(tracked);
    void tracked.finally(() => this.pending.delete(tracked));
  }
}

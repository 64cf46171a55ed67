import type { Logger } from '../logger.js';
import type { JobHandlers, ScheduleTiming } from './scheduler.js';

/**
 * The safety nets, on a timer in every node: the sweep for due bookings and the log clean-up.
 * Not BullMQ repeatable jobs: those live in Redis and are gone after Redis restarts empty, which
 * is exactly when the sweep is needed. Running on every node is harmless (each transition is a
 * guarded update under the lot lock; the clean-up takes an advisory lock) and survives any node.
 */
export class PeriodicWork {
  private timers: NodeJS.Timeout[] = [];
  private running = new Set<Promise<unknown>>();

  constructor(private readonly opts: ScheduleTiming & { logger: Logger }) {}

  start(handlers: Pick<JobHandlers, 'sweepDue' | 'cleanup'>): void {
    if (this.timers.length > 0) return;
    const every = (ms: number, work: () => Promise<unknown>, what: string) => {
      let inFlight = false;
      // A pass that outlasts the interval (a backlog) is not joined by a second one.
      const timer = setInterval(() => {
        if (inFlight) return;
        inFlight = true;
        this.track(work().finally(() => (inFlight = false)), what);
      }, ms);
      timer.unref();
      this.timers.push(timer);
    };
    every(this.opts.sweepIntervalMs, handlers.sweepDue, 'sweep of due bookings');
    every(this.opts.cleanupIntervalMs, handlers.cleanup, 'log clean-up');
    // At start too: whatever fell due while no node was running is applied now.
    this.track(handlers.sweepDue(), 'sweep of due bookings');
  }

  async stop(): Promise<void> {
    for (const t of this.timers) clearInterval(t);
    this.timers = [];
    await Promise.allSettled([...this.running]);
  }

  private track(p: Promise<unknown>, what: string): void {
    const tracked = p.catch((err: unknown) => this.opts.logger.warn({ err }, `${what} failed; it runs again on the next tick`));
    this.running.add(tracked);
    void tracked.finally(() => this.running.delete(tracked));
  }
}

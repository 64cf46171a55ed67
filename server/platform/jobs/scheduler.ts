import type { BookingTransition } from '../../contract/index.js';

/** Time-based work on bookings. Each is a guarded SQL update, so running one late or twice is harmless. */
export type Transition = BookingTransition;

/** A transition ran before it was due by the database's clock; run it again at `retryAt`. */
export class NotDueError extends Error {
  constructor(readonly retryAt: Date) {
    super(`not due until ${retryAt.toISOString()}`);
    this.name = 'NotDueError';
  }
}

export interface ScheduledWork {
  transition: Transition;
  bookingId: string;
  at: Date;
}

export interface JobHandlers {
  /** Applies one transition (and dispatches its events); false when there was nothing to do; NotDueError when early. */
  advance(bookingId: string, transition: Transition): Promise<boolean>;
  /** Finds and applies every transition that is due (the safety net for lost jobs). */
  sweepDue(): Promise<number>;
  /** Deletes old log rows and old dispatched events. */
  cleanup(): Promise<unknown>;
}

/** Runs each booking's delayed transitions at their time. The periodic safety nets are PeriodicWork. */
export interface Scheduler {
  readonly kind: 'bullmq' | 'in-process';
  schedule(work: ScheduledWork[]): Promise<void>;
  start(handlers: Pick<JobHandlers, 'advance'>): Promise<void>;
  stop(): Promise<void>;
  /** Jobs waiting or delayed, for metrics and health. */
  depth(): Promise<number>;
}

/** Deterministic job id: scheduling the same work twice keeps one job (BullMQ forbids ':' in ids). */
export const jobId = (w: Pick<ScheduledWork, 'transition' | 'bookingId'>): string => `${w.transition}-${w.bookingId}`;

export interface ScheduleTiming {
  /** How often the sweep for due bookings runs. */
  sweepIntervalMs: number;
  /** How often old logs are cleaned up. */
  cleanupIntervalMs: number;
}

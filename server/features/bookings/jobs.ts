import { TRANSITION_RULES, type BookingTransition } from '../../contract/index.js';
import type { Db } from '../../platform/db/db.js';
import { callAsSystem } from '../../platform/data/pg-calls.js';
import { NotDueError } from '../../platform/jobs/scheduler.js';
import type { Logger } from '../../platform/logger.js';
import type { AfterCommit } from './follow-ups.js';
import type { CommandResult } from './types.js';

/** The least wait before re-trying a transition that came early, so clock skew cannot spin. */
const RETRY_EARLY_MS = 20;

export interface BookingJobs {
  /** Applies one transition; false when there was nothing to do; NotDueError when early. */
  advance(bookingId: string, transition: BookingTransition): Promise<boolean>;
  /** Finds and applies every transition that is due (the safety net for lost jobs). */
  sweepDue(): Promise<number>;
  /** Writes the hold and maximum length into the database, which enforces them for every caller. */
  configure(limits: { holdSeconds: number; maxHours: number; maxPendingPerUser: number; maxDaysAhead: number }): Promise<void>;
}

/** Time-based transitions (expire, activate, complete, a hold's window edges): the server's own work, as service_role. */
export function createBookingJobs(deps: { db: Db; afterCommit: AfterCommit; logger: Logger }): BookingJobs {
  const { db, logger } = deps;

  async function advance(bookingId: string, transition: BookingTransition): Promise<boolean> {
    const result = await callAsSystem<CommandResult | { not_due: true; due_at: string } | null>(db, 'public.advance_booking($1, $2)', [
      bookingId,
      transition,
    ]);
    if (!result) return false;
    if ('not_due' in result) {
      // Early by our clock (or by rounded-away microseconds): the scheduler runs it again then.
      throw new NotDueError(new Date(Math.max(Date.parse(result.due_at) + 1, Date.now() + RETRY_EARLY_MS)));
    }
    logger.info({ bookingId, transition, status: result.booking.status }, 'booking advanced');
    // A transition that keeps the status (a hold's window edge) leaves the booking's plan as it was.
    const rule = TRANSITION_RULES[transition];
    await deps.afterCommit(result, !rule.from.includes(rule.to));
    return true;
  }

  return {
    advance,

    async sweepDue() {
      const { rows } = await db.asSystem((tx) =>
        tx.query<{ booking_id: string; transition: BookingTransition }>('select booking_id, transition from public.due_bookings(500)'),
      );
      let done = 0;
      for (const row of rows) {
        const applied = await advance(row.booking_id, row.transition).catch((err: unknown) => {
          if (!(err instanceof NotDueError)) logger.warn({ err, ...row }, 'due booking transition failed; next sweep retries');
          return false;
        });
        if (applied) done++;
      }
      if (done > 0) logger.info({ done }, 'sweep applied due booking transitions');
      return done;
    },

    async configure(limits) {
      await db.statementAsSystem('select public.configure_bookings($1, $2, $3, $4)', [
        limits.holdSeconds,
        limits.maxHours,
        limits.maxPendingPerUser,
        limits.maxDaysAhead,
      ]);
    },
  };
}

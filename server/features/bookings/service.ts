import type { Principal } from '../../platform/auth/principal.js';
import type { CommandResult, DataCommands } from '../../platform/data/commands.js';
import type { Db } from '../../platform/db/db.js';
import { callAsSystem } from '../../platform/data/pg-commands.js';
import { AppError, NotFoundError } from '../../platform/errors.js';
import type { EventDispatcher } from '../../outbox/dispatcher.js';
import type { LoggedEvent } from '../../outbox/logged-event.js';
import { NotDueError, type Scheduler, type ScheduledWork, type Transition } from '../../platform/jobs/scheduler.js';
import type { Logger } from '../../platform/logger.js';
import type { Booking, CreateBookingCommand, PaymentEventCommand, PaymentOutcome } from './types.js';

export interface BookingService {
  create(principal: Principal, cmd: CreateBookingCommand): Promise<{ booking: Booking; replayed: boolean }>;
  get(principal: Principal, bookingId: string): Promise<Booking>;
  /** The caller's bookings; `userId` lists another user's, which RLS allows admins only. */
  listOwn(principal: Principal, opts: { limit: number; status?: string; userId?: string }): Promise<Booking[]>;
  cancel(principal: Principal, bookingId: string, reason?: string): Promise<Booking>;
  applyPayment(cmd: PaymentEventCommand): Promise<PaymentOutcome>;
  advance(bookingId: string, transition: Transition): Promise<boolean>;
  sweepDue(): Promise<number>;
  /** Writes the hold and maximum length into the database, which enforces them for every caller. */
  configure(limits: { holdSeconds: number; maxHours: number; maxPendingPerUser: number; maxDaysAhead: number }): Promise<void>;
}

export interface BookingServiceDeps {
  /** For the server's own work (jobs, webhook): service_role. */
  db: Db;
  /** For the caller's commands and reads: as that user. */
  commands: DataCommands;
  dispatcher: EventDispatcher;
  scheduler: Scheduler;
  logger: Logger;
  /** Counts creation outcomes (created, replayed, or an error code). */
  onOutcome?: (outcome: string) => void;
  /** Test-only fault injection: called after commit, before the events are emitted. */
  afterCommit?: (events: LoggedEvent[]) => void;
}

/** The least wait before re-trying a transition that came early, so clock skew cannot spin. */
const RETRY_EARLY_MS = 20;

/**
 * The booking lifecycle. The SQL functions decide (capacity under the lot lock, legal
 * transitions) and log the events in the same transaction; this service then emits the events,
 * and schedules what happens next. REST routes, socket handlers, jobs and the payment webhook
 * all come through here.
 */
export function createBookingService(deps: BookingServiceDeps): BookingService {
  const { db, commands, dispatcher, scheduler, logger } = deps;

  /** After commit: announce, then plan the booking's next transitions. */
  async function committed(result: { booking?: Booking | null; events?: LoggedEvent[] }, next: ScheduledWork[]): Promise<void> {
    const events = result.events ?? [];
    deps.afterCommit?.(events);
    dispatcher.dispatch(events);
    if (next.length > 0) {
      // This node's timer (BullMQ's scheduler arms one first) or the sweep runs them if this
      // fails (Redis down): log, don't fail the request.
      await scheduler
        .schedule(next)
        .catch((err: unknown) => logger.warn({ err, next }, "could not queue booking jobs; this node's timer or the sweep will run them"));
    }
  }

  function followUps(b: Booking): ScheduledWork[] {
    // +1 ms: the database keeps microseconds that Date.parse rounds away.
    const at = (iso: string) => new Date(Date.parse(iso) + 1);
    if (b.status === 'pending' && b.hold_expires_at) return [{ transition: 'expire', bookingId: b.id, at: at(b.hold_expires_at) }];
    if (b.status === 'confirmed') {
      return [
        { transition: 'activate', bookingId: b.id, at: at(b.starts_at) },
        { transition: 'complete', bookingId: b.id, at: at(b.ends_at) },
      ];
    }
    if (b.status === 'active') return [{ transition: 'complete', bookingId: b.id, at: at(b.ends_at) }];
    return [];
  }

  async function advance(bookingId: string, transition: Transition): Promise<boolean> {
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
    await committed(result, followUps(result.booking));
    return true;
  }

  return {
    async create(principal, cmd) {
      const result = await commands
        .createBooking(principal, {
          parking_lot_id: cmd.parking_lot_id,
          starts_at: cmd.starts_at?.toISOString() ?? null,
          ends_at: cmd.ends_at?.toISOString() ?? null,
          duration_minutes: cmd.duration_minutes ?? null,
          idempotency_key: cmd.idempotency_key ?? null,
          vehicle_plate: cmd.vehicle_plate ?? null,
        })
        .catch((err: unknown) => {
          deps.onOutcome?.(err instanceof AppError ? err.code : 'INTERNAL_ERROR');
          throw err;
        });
      deps.onOutcome?.(result.replayed ? 'replayed' : 'created');
      await committed(result, result.replayed ? [] : followUps(result.booking));
      return { booking: result.booking, replayed: result.replayed };
    },

    async get(principal, bookingId) {
      // Under RLS: another user's booking is simply not there.
      const booking = await commands.getBooking(principal, bookingId);
      if (!booking) throw new NotFoundError(`Booking ${bookingId} does not exist`);
      return booking;
    },

    listOwn: (principal, opts) => commands.listBookings(principal, opts),

    async cancel(principal, bookingId, reason) {
      const result = await commands.cancelBooking(principal, bookingId, reason ?? null);
      await committed(result, []);
      return result.booking;
    },

    async applyPayment(cmd) {
      const result = await callAsSystem<PaymentOutcome & { booking?: Booking; events?: LoggedEvent[] }>(
        db,
        'public.apply_payment_event($1, $2, $3, $4, $5, $6, $7)',
        [cmd.event_id, cmd.type, cmd.booking_id, cmd.amount_cents, cmd.currency, cmd.payment_id, cmd.failure_reason ?? null],
      );
      if (!result.duplicate) await committed(result, result.booking ? followUps(result.booking) : []);
      const { booking: _b, events: _e, ...outcome } = result;
      return outcome;
    },

    advance,

    async configure(limits) {
      await db.asSystem((tx) =>
        tx.query('select public.configure_bookings($1, $2, $3, $4)', [limits.holdSeconds, limits.maxHours, limits.maxPendingPerUser, limits.maxDaysAhead]),
      );
    },

    async sweepDue() {
      const { rows } = await db.asSystem((tx) =>
        tx.query<{ booking_id: string; transition: Transition }>('select booking_id, transition from public.due_bookings(500)'),
      );
      let done = 0;
      for (const row of rows) {
        if (await advance(row.booking_id, row.transition).catch((err: unknown) => {
          if (!(err instanceof NotDueError)) logger.warn({ err, ...row }, 'due booking transition failed; next sweep retries');
          return false;
        })) done++;
      }
      if (done > 0) logger.info({ done }, 'sweep applied due booking transitions');
      return done;
    },
  };
}

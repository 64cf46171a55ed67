import type { Principal } from '../auth/principal.js';
import type { Db, Tx } from '../db/db.js';
import { NotFoundError } from '../errors.js';
import type { EventDispatcher } from '../events/dispatcher.js';
import type { LoggedEvent } from '../events/types.js';
import type { Scheduler, ScheduledWork, Transition } from '../jobs/scheduler.js';
import type { Logger } from '../logger.js';
import type { Booking, CreateBookingCommand, PaymentEventCommand, PaymentOutcome } from './types.js';

export interface BookingService {
  create(principal: Principal, cmd: CreateBookingCommand): Promise<{ booking: Booking; replayed: boolean }>;
  get(principal: Principal, bookingId: string): Promise<Booking>;
  listOwn(principal: Principal, opts: { limit: number; status?: string }): Promise<Booking[]>;
  cancel(principal: Principal, bookingId: string, reason?: string): Promise<Booking>;
  applyPayment(cmd: PaymentEventCommand): Promise<PaymentOutcome>;
  advance(bookingId: string, transition: Transition): Promise<boolean>;
  sweepDue(): Promise<number>;
}

export interface BookingServiceDeps {
  db: Db;
  dispatcher: EventDispatcher;
  scheduler: Scheduler;
  logger: Logger;
  holdSeconds: number;
  maxHours: number;
  /** Test-only fault injection: called after commit, before the events are emitted. */
  afterCommit?: (events: LoggedEvent[]) => void;
}

interface CommandResult {
  booking: Booking;
  events: LoggedEvent[];
}

/** Calls one SQL command function and returns its jsonb result. */
async function command<T>(tx: Tx, sql: string, values: unknown[]): Promise<T> {
  const { rows } = await tx.query<{ r: T }>(`select ${sql} as r`, values);
  return rows[0]!.r;
}

/**
 * The booking lifecycle. The SQL functions decide (capacity under the lot lock, legal
 * transitions) and log the events in the same transaction; this service then emits the events,
 * and schedules what happens next. REST routes, socket handlers, jobs and the payment webhook
 * all come through here.
 */
export function createBookingService(deps: BookingServiceDeps): BookingService {
  const { db, dispatcher, scheduler, logger } = deps;

  /** After commit: announce, then plan the booking's next transitions. */
  async function committed(result: { booking?: Booking | null; events?: LoggedEvent[] }, next: ScheduledWork[]): Promise<void> {
    const events = result.events ?? [];
    deps.afterCommit?.(events);
    dispatcher.dispatch(events);
    if (next.length > 0) {
      // The sweep job re-finds due bookings if this fails (Redis down): log, don't fail the request.
      await scheduler.schedule(next).catch((err: unknown) => logger.warn({ err, next }, 'could not schedule booking jobs; the sweep will catch them'));
    }
  }

  function followUps(b: Booking): ScheduledWork[] {
    if (b.status === 'pending' && b.hold_expires_at) return [{ transition: 'expire', bookingId: b.id, at: new Date(b.hold_expires_at) }];
    if (b.status === 'confirmed') {
      return [
        { transition: 'activate', bookingId: b.id, at: new Date(b.starts_at) },
        { transition: 'complete', bookingId: b.id, at: new Date(b.ends_at) },
      ];
    }
    if (b.status === 'active') return [{ transition: 'complete', bookingId: b.id, at: new Date(b.ends_at) }];
    return [];
  }

  async function advance(bookingId: string, transition: Transition): Promise<boolean> {
    const result = await db.asSystem((tx) => command<CommandResult | null>(tx, 'public.advance_booking($1, $2)', [bookingId, transition]));
    if (!result) return false;
    logger.info({ bookingId, transition, status: result.booking.status }, 'booking advanced');
    await committed(result, followUps(result.booking));
    return true;
  }

  return {
    async create(principal, cmd) {
      const result = await db.asUser(principal, (tx) =>
        command<CommandResult & { replayed: boolean }>(tx, 'public.create_booking($1, $2, $3, $4, $5, $6, $7, $8)', [
          cmd.parking_lot_id,
          cmd.starts_at?.toISOString() ?? null,
          cmd.ends_at?.toISOString() ?? null,
          deps.holdSeconds,
          cmd.idempotency_key ?? null,
          cmd.vehicle_plate ?? null,
          deps.maxHours,
          cmd.duration_minutes ?? null,
        ]),
      );
      await committed(result, result.replayed ? [] : followUps(result.booking));
      return { booking: result.booking, replayed: result.replayed };
    },

    async get(principal, bookingId) {
      // Under RLS: another user's booking is simply not there.
      const booking = await db.asUser(principal, async (tx) => {
        const { rows } = await tx.query<{ b: Booking }>('select public.booking_json(b) as b from public.bookings b where b.id = $1', [bookingId]);
        return rows[0]?.b;
      });
      if (!booking) throw new NotFoundError(`Booking ${bookingId} does not exist`);
      return booking;
    },

    async listOwn(principal, opts) {
      return db.asUser(principal, async (tx) => {
        const { rows } = await tx.query<{ b: Booking }>(
          `select public.booking_json(b) as b from public.bookings b
            where b.user_id = auth.uid() and ($1::text is null or b.status = $1)
            order by b.created_at desc, b.id limit $2`,
          [opts.status ?? null, opts.limit],
        );
        return rows.map((r) => r.b);
      });
    },

    async cancel(principal, bookingId, reason) {
      const result = await db.asUser(principal, (tx) => command<CommandResult>(tx, 'public.cancel_booking($1, $2)', [bookingId, reason ?? null]));
      await committed(result, []);
      return result.booking;
    },

    async applyPayment(cmd) {
      const result = await db.asSystem((tx) =>
        command<PaymentOutcome & { booking?: Booking; events?: LoggedEvent[] }>(tx, 'public.apply_payment_event($1, $2, $3, $4, $5, $6, $7)', [
          cmd.event_id,
          cmd.type,
          cmd.booking_id,
          cmd.amount_cents,
          cmd.currency,
          cmd.payment_id,
          cmd.failure_reason ?? null,
        ]),
      );
      if (!result.duplicate) await committed(result, result.booking ? followUps(result.booking) : []);
      const { booking: _b, events: _e, ...outcome } = result;
      return outcome;
    },

    advance,

    async sweepDue() {
      const { rows } = await db.asSystem((tx) =>
        tx.query<{ booking_id: string; transition: Transition }>('select booking_id, transition from public.due_bookings(500)'),
      );
      let done = 0;
      for (const row of rows) {
        if (await advance(row.booking_id, row.transition).catch((err: unknown) => {
          logger.warn({ err, ...row }, 'due booking transition failed; next sweep retries');
          return false;
        })) done++;
      }
      if (done > 0) logger.info({ done }, 'sweep applied due booking transitions');
      return done;
    },
  };
}

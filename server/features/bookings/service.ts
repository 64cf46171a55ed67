import { isUuid, type CreateBookingInput } from '../../contract/index.js';
import type { Principal } from '../../platform/auth/principal.js';
import type { UserCalls } from '../../platform/data/calls.js';
import { AppError, NotFoundError } from '../../platform/errors.js';
import type { RateLimits } from '../../platform/limits/rate-limits.js';
import type { AfterCommit } from './follow-ups.js';
import type { Booking, CommandResult, CreateResult } from './types.js';

export interface BookingService {
  create(principal: Principal, input: CreateBookingInput): Promise<{ booking: Booking; replayed: boolean }>;
  get(principal: Principal, bookingId: string): Promise<Booking>;
  /** The caller's bookings; `userId` lists another user's, which RLS allows admins only. */
  list(principal: Principal, opts: { limit: number; status?: string | undefined; userId?: string | undefined }): Promise<Booking[]>;
  cancel(principal: Principal, bookingId: string, reason?: string): Promise<Booking>;
}

export interface BookingServiceDeps {
  calls: UserCalls;
  limits: RateLimits;
  afterCommit: AfterCommit;
  /** Counts creation outcomes (created, replayed, or an error code). */
  onOutcome: (outcome: string) => void;
}

/**
 * What callers do with bookings, over REST and the socket alike. The SQL functions decide
 * (capacity under the lot lock in `create_booking`, legal transitions) and log the events in the
 * same transaction; afterwards the events are emitted and the booking's next transitions planned.
 */
function bookingNotFound(bookingId: string): NotFoundError {
  return new NotFoundError(`Booking ${bookingId} does not exist${isUuid(bookingId) ? '' : ' (booking ids are uuids)'}`);
}

export function createBookingService(deps: BookingServiceDeps): BookingService {
  const { calls } = deps;
  return {
    async create(principal, input) {
      await deps.limits.consume('booking', principal.userId);
      let result: CreateResult;
      try {
        // Dates travel as the client wrote them (validated ISO 8601): Postgres parses them once.
        result = (await calls.call(principal, 'create_booking', {
          p_lot_id: input.parking_lot_id,
          p_starts_at: input.starts_at ?? null,
          p_ends_at: input.ends_at ?? null,
          p_duration_minutes: input.duration_minutes ?? null,
          p_idempotency_key: input.idempotency_key ?? null,
          p_vehicle_plate: input.vehicle_plate ?? null,
        })) as CreateResult;
      } catch (err) {
        deps.onOutcome(err instanceof AppError ? err.code : 'INTERNAL_ERROR');
        throw err;
      }
      deps.onOutcome(result.replayed ? 'replayed' : 'created');
      await deps.afterCommit(result, !result.replayed);
      return { booking: result.booking, replayed: result.replayed };
    },

    async get(principal, bookingId) {
      if (!isUuid(bookingId)) throw bookingNotFound(bookingId);
      // Under RLS: another user's booking is simply not there.
      const booking = (await calls.call(principal, 'get_booking', { p_booking_id: bookingId })) as Booking | null;
      if (!booking) throw bookingNotFound(bookingId);
      return booking;
    },

    async list(principal, opts) {
      return (await calls.call(principal, 'list_bookings', { p_status: opts.status ?? null, p_limit: opts.limit, p_user_id: opts.userId ?? null })) as Booking[];
    },

    async cancel(principal, bookingId, reason) {
      if (!isUuid(bookingId)) throw bookingNotFound(bookingId);
      const result = (await calls.call(principal, 'cancel_booking', { p_booking_id: bookingId, p_reason: reason ?? null })) as CommandResult;
      await deps.afterCommit(result, false);
      return result.booking;
    },
  };
}

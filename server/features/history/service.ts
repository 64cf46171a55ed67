import {
  isUuid,
  type BookingHistoryEntry,
  type BookingHistoryReply,
  type LotAvailabilityAt,
  type RebuildInput,
  type RebuildReport,
} from '../../contract/index.js';
import type { EventDispatcher } from '../../outbox/dispatcher.js';
import type { LoggedEvent } from '../../outbox/logged-event.js';
import type { Principal } from '../../platform/auth/principal.js';
import type { UserCalls } from '../../platform/data/calls.js';
import { ForbiddenError, NotFoundError } from '../../platform/errors.js';

export interface HistoryService {
  /** A booking's history, oldest first: its owner's and admins' (anyone else: NOT_FOUND). */
  bookingHistory(principal: Principal, bookingId: string): Promise<BookingHistoryReply>;
  /** A lot's capacity and the bookings holding it at a past instant (admins). */
  availabilityAt(principal: Principal, lotId: string, at: string): Promise<LotAvailabilityAt>;
  /** Recomputes what spotcast derives from the bookings; with repair, fixes it and announces the lots that drifted (admins). */
  rebuild(principal: Principal, input: RebuildInput): Promise<RebuildReport>;
}

/** The server checks the role first; the SQL functions check is_admin() again. */
function requireAdmin(principal: Principal): void {
  if (principal.role !== 'admin') throw new ForbiddenError('Admin role required');
}

export function createHistoryService(deps: { calls: UserCalls; dispatcher: EventDispatcher }): HistoryService {
  const { calls, dispatcher } = deps;

  return {
    async bookingHistory(principal, bookingId) {
      // Not a uuid: names no booking (as get_booking_status answers it).
      if (!isUuid(bookingId)) throw new NotFoundError(`Booking ${bookingId} does not exist (booking ids are uuids)`);
      const history = (await calls.call(principal, 'booking_history', { p_booking_id: bookingId })) as BookingHistoryEntry[];
      return { booking_id: bookingId, history };
    },

    async availabilityAt(principal, lotId, at) {
      requireAdmin(principal);
      if (!isUuid(lotId)) throw new NotFoundError(`Parking lot ${lotId} does not exist (lot ids are uuids)`);
      return (await calls.call(principal, 'lot_availability_at', { p_lot_id: lotId, p_at: at })) as LotAvailabilityAt;
    },

    async rebuild(principal, input) {
      requireAdmin(principal);
      const result = (await calls.call(principal, 'rebuild_derived_state', {
        p_lot_id: input.parking_lot_id ?? null,
        p_repair: input.repair ?? false,
      })) as RebuildReport & { events: LoggedEvent[] };
      // The repair and its announcements committed together; the corrected availability goes out now.
      const { events, ...report } = result;
      dispatcher.dispatch(events);
      return report;
    },
  };
}

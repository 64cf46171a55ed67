/**
 * The lifecycle facts the database and the server share. The SQL in migrations/ writes the same
 * lists (check constraints, transitions, event names); test/hold-edges.test.ts checks that
 * advance_booking knows every transition listed here and refuses any other name.
 */

export const BOOKING_STATUSES = ['pending', 'confirmed', 'active', 'completed', 'cancelled', 'expired'] as const;
export type BookingStatus = (typeof BOOKING_STATUSES)[number];

/** The statuses in which a booking holds a space of its lot for its window. */
export const HOLDING_STATUSES = ['pending', 'confirmed', 'active'] as const satisfies readonly BookingStatus[];

export const PAYMENT_STATUSES = ['pending', 'succeeded', 'failed', 'refunded'] as const;
export type PaymentStatus = (typeof PAYMENT_STATUSES)[number];

/**
 * Time-based transitions of a booking, each a guarded update in `advance_booking`. `hold_start` and
 * `hold_end` change no status: an unpaid hold's window starts or ends, so what the lot holds now
 * changes, and its watchers hear `parking_updated` (action `hold_started` / `hold_ended`).
 */
export const BOOKING_TRANSITIONS = ['expire', 'activate', 'complete', 'hold_start', 'hold_end'] as const;
export type BookingTransition = (typeof BOOKING_TRANSITIONS)[number];

/** What each transition moves a booking from and to (`to` among `from`: the status stays). */
export const TRANSITION_RULES: Record<BookingTransition, { from: readonly BookingStatus[]; to: BookingStatus }> = {
  expire: { from: ['pending'], to: 'expired' },
  activate: { from: ['confirmed'], to: 'active' },
  complete: { from: ['confirmed', 'active'], to: 'completed' },
  hold_start: { from: ['pending'], to: 'pending' },
  hold_end: { from: ['pending'], to: 'pending' },
};

export const ANNOUNCEMENT_TYPES = ['info', 'warning', 'maintenance', 'emergency'] as const;
export type AnnouncementType = (typeof ANNOUNCEMENT_TYPES)[number];

/**
 * The lifecycle facts the database and the server share. The SQL in migrations/ writes the same
 * lists (check constraints, transitions, event names); test/contract-sql.test.ts holds the two
 * against each other, so neither can drift.
 */

export const BOOKING_STATUSES = ['pending', 'confirmed', 'active', 'completed', 'cancelled', 'expired'] as const;
export type BookingStatus = (typeof BOOKING_STATUSES)[number];

/** The statuses in which a booking holds a space of its lot for its window. */
export const HOLDING_STATUSES = ['pending', 'confirmed', 'active'] as const satisfies readonly BookingStatus[];

export const PAYMENT_STATUSES = ['pending', 'succeeded', 'failed', 'refunded'] as const;
export type PaymentStatus = (typeof PAYMENT_STATUSES)[number];

/** Time-based transitions of a booking, each a guarded update in `advance_booking`. */
export const BOOKING_TRANSITIONS = ['expire', 'activate', 'complete'] as const;
export type BookingTransition = (typeof BOOKING_TRANSITIONS)[number];

/** What each transition moves a booking from and to. */
export const TRANSITION_RULES: Record<BookingTransition, { from: readonly BookingStatus[]; to: BookingStatus }> = {
  expire: { from: ['pending'], to: 'expired' },
  activate: { from: ['confirmed'], to: 'active' },
  complete: { from: ['confirmed', 'active'], to: 'completed' },
};

export const ANNOUNCEMENT_TYPES = ['info', 'warning', 'maintenance', 'emergency'] as const;
export type AnnouncementType = (typeof ANNOUNCEMENT_TYPES)[number];

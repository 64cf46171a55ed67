import type { BookingView, CreateBookingReply } from '../../contract/index.js';
import type { LoggedEvent } from '../../outbox/logged-event.js';

/** A booking as the SQL function `booking_json` returns it: the same shape clients receive. */
export type Booking = BookingView;

/** What a state-changing SQL function returns: the row and the events it logged in the same transaction. */
export interface CommandResult {
  booking: Booking;
  events: LoggedEvent[];
}

export type CreateResult = CreateBookingReply & { events: LoggedEvent[] };

import type { BookingView } from '../../contract/contract.js';

export type BookingStatus = BookingView['status'];

/** A booking as the SQL function `booking_json` returns it: the same shape clients receive. */
export type Booking = BookingView;

/** Without starts_at the booking starts now by the database's clock; give ends_at or duration_minutes. */
export interface CreateBookingCommand {
  parking_lot_id: string;
  starts_at?: Date;
  ends_at?: Date;
  duration_minutes?: number;
  idempotency_key?: string;
  vehicle_plate?: string;
}

export interface PaymentEventCommand {
  event_id: string;
  type: 'payment.succeeded' | 'payment.failed';
  booking_id: string;
  amount_cents: number;
  currency: string;
  payment_id: string;
  failure_reason?: string;
}

export interface PaymentOutcome {
  duplicate: boolean;
  payment_id?: string;
  payment_status?: string;
  booking_status?: string;
}

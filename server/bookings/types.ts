export type BookingStatus = 'pending' | 'confirmed' | 'active' | 'completed' | 'cancelled' | 'expired';

/** A booking as the SQL function `booking_json` returns it (and as clients receive it). */
export interface Booking {
  id: string;
  user_id: string;
  parking_lot_id: string;
  starts_at: string;
  ends_at: string;
  status: BookingStatus;
  hold_expires_at: string | null;
  amount_cents: number;
  currency: string;
  vehicle_plate: string | null;
  created_at: string;
  updated_at: string;
}

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

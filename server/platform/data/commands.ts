import type { Principal } from '../auth/principal.js';
import type { Booking } from '../../features/bookings/types.js';
import type { LoggedEvent } from '../../outbox/logged-event.js';
import type { LotAvailability } from '../../contract/contract.js';

/** What a state-changing SQL function returns: the row and the events it logged in the same transaction. */
export interface CommandResult {
  booking: Booking;
  events: LoggedEvent[];
}

export interface CreateBookingParams {
  parking_lot_id: string;
  starts_at: string | null;
  ends_at: string | null;
  duration_minutes: number | null;
  idempotency_key: string | null;
  vehicle_plate: string | null;
}

export interface SetAvailabilityParams {
  available_spaces: number | null;
  out_of_service: number | null;
  is_open: boolean | null;
  reason: string | null;
}

/**
 * The calls a user's request makes to the database, always as that user (so RLS and the
 * functions' own checks apply): either directly over Postgres, or over Supabase's HTTP API
 * (`rpc`) with the user's JWT. Both call the same SQL functions and return the same shapes.
 */
export interface DataCommands {
  readonly kind: 'postgres' | 'supabase';
  createBooking(principal: Principal, params: CreateBookingParams): Promise<CommandResult & { replayed: boolean }>;
  cancelBooking(principal: Principal, bookingId: string, reason: string | null): Promise<CommandResult>;
  setLotAvailability(principal: Principal, lotId: string, params: SetAvailabilityParams): Promise<{ lot: LotAvailability; events: LoggedEvent[] }>;
  lotAvailability(principal: Principal, lotId: string | null): Promise<LotAvailability[]>;
  getBooking(principal: Principal, bookingId: string): Promise<Booking | undefined>;
  listBookings(principal: Principal, opts: { limit: number; status?: string; userId?: string }): Promise<Booking[]>;
}

/** Timestamps from either path, as ISO strings. */
export function iso(value: string | Date): string {
  return new Date(value).toISOString();
}

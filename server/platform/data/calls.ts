import type { Principal } from '../auth/principal.js';

/**
 * The SQL functions a caller's requests run, with their named parameters. Every read and write a
 * user or admin makes goes through one of these, as that caller (RLS and the functions' own
 * checks apply), on either data path below; the server's own bookkeeping (jobs, sweeps, webhooks,
 * logs) uses `Db.asSystem` instead.
 */
export interface UserFunctions {
  create_booking: { p_lot_id: string; p_starts_at: string | null; p_ends_at: string | null; p_duration_minutes: number | null; p_idempotency_key: string | null; p_vehicle_plate: string | null };
  cancel_booking: { p_booking_id: string; p_reason: string | null };
  get_booking: { p_booking_id: string };
  list_bookings: { p_status: string | null; p_limit: number; p_user_id: string | null };
  set_lot_availability: { p_lot_id: string; p_available_spaces: number | null; p_out_of_service: number | null; p_is_open: boolean | null; p_reason: string | null };
  lot_availability: { p_lot_id: string | null };
  list_notifications: { p_unread_only: boolean; p_limit: number };
  mark_notification_read: { p_id: string };
  mark_all_notifications_read: Record<string, never>;
  read_stream: { p_stream: string; p_after: number; p_limit: number };
  booking_activity: { p_limit: number };
  admin_today: Record<string, never>;
  log_announcement: { p_room: string; p_details: Record<string, unknown> };
  admin_scope: Record<string, never>;
  booking_history: { p_booking_id: string };
  lot_availability_at: { p_lot_id: string; p_at: string };
  rebuild_derived_state: { p_lot_id: string | null; p_repair: boolean };
  join_waitlist: { p_lot_id: string; p_starts_at: string | null; p_ends_at: string | null; p_duration_minutes: number | null };
  leave_waitlist: { p_entry_id: string };
  list_waitlist: { p_status: string | null; p_limit: number };
  admin_waitlist: { p_lot_id: string };
  set_waitlist_priority: { p_entry_id: string; p_priority: number };
}
export type UserFunction = keyof UserFunctions;

/** The same names at run time (complete: the compiler checks every key is listed). */
export const USER_FUNCTIONS = Object.keys({
  create_booking: 1, cancel_booking: 1, get_booking: 1, list_bookings: 1, set_lot_availability: 1, lot_availability: 1,
  list_notifications: 1, mark_notification_read: 1, mark_all_notifications_read: 1, read_stream: 1, booking_activity: 1,
  admin_today: 1, log_announcement: 1, admin_scope: 1, booking_history: 1, lot_availability_at: 1, rebuild_derived_state: 1,
  join_waitlist: 1, leave_waitlist: 1, list_waitlist: 1, admin_waitlist: 1, set_waitlist_priority: 1,
} satisfies Record<UserFunction, 1>) as UserFunction[];

/** Functions that return rows (a set) rather than one jsonb value. */
export const SET_RETURNING: ReadonlySet<UserFunction> = new Set<UserFunction>(['lot_availability']);

/**
 * How a caller's requests reach the database: directly over Postgres with the caller's claims
 * (`postgres`), or over Supabase's HTTP API with the caller's JWT (`supabase`). Both call the
 * same functions and return the same JSON.
 */
export interface UserCalls {
  readonly kind: 'postgres' | 'supabase';
  /** The function's JSON result, as the database returned it (callers name its shape). */
  call<F extends UserFunction>(principal: Principal, fn: F, args: UserFunctions[F]): Promise<unknown>;
}

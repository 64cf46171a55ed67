/**
 * History and rebuild: a booking's permanent history, a lot's availability at a past instant, and
 * the admin rebuild of what spotcast derives from the bookings. Plain types only (the client
 * package ships them); their input schemas are in schemas.ts.
 */
import type { ActorRole } from './payloads.js';
import type { BookingStatus } from './statuses.js';

/**
 * One change of a booking. `reason` is the transition (`created`, `held`, `paid`, `activated`,
 * `completed`, `cancelled`, `expired`, `changed`, `deleted`) or what the code that made it said
 * (a waitlist's `offered`); `from_status` is null when created, `to_status` when deleted.
 */
export interface BookingHistoryEntry {
  id: number;
  booking_id: string;
  user_id: string;
  parking_lot_id: string;
  starts_at: string;
  ends_at: string;
  from_status: BookingStatus | null;
  to_status: BookingStatus | null;
  reason: string;
  /** False when written without one of spotcast's commands (the dashboard, SQL: "directly"). */
  via_command: boolean;
  actor_id: string | null;
  actor_role: ActorRole;
  at: string;
}

export interface BookingHistoryReply {
  booking_id: string;
  history: BookingHistoryEntry[];
}

/** A lot as it was at `at`: its capacity then, and the bookings that held it then. */
export interface LotAvailabilityAt {
  parking_lot_id: string;
  at: string;
  total_spaces: number;
  out_of_service: number;
  occupied_unbooked: number;
  is_open: boolean;
  held: number;
  available_spaces: number;
  /** When the capacity in force at `at` was set. */
  capacity_since: string;
}

/** One row of derived state that differs from what the bookings say. */
export interface DriftRow {
  item: string;
  parking_lot_id?: string | null;
  kind: string;
  [detail: string]: unknown;
}

export interface RebuildItemReport {
  item: string;
  drift_count: number;
  drift: Omit<DriftRow, 'item'>[];
}

export interface RebuildReport {
  parking_lot_id: string | null;
  repaired: boolean;
  checked_at: string;
  drift_count: number;
  items: RebuildItemReport[];
  /** Per lot, per item: how many rows drifted. */
  by_lot: Record<string, Record<string, number>>;
}

export interface RebuildRequest {
  parking_lot_id?: string | null | undefined;
  repair?: boolean | undefined;
}

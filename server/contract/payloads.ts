/**
 * The payloads on the wire, as plain types: what clients send (each tied to its zod schema in
 * schemas.ts, so the two cannot drift) and what the server sends. No zod here: the client
 * package ships these declarations to browsers as they are.
 */
import type { AnnouncementType, BookingStatus, PaymentStatus } from './statuses.js';

// ---- what clients send -----------------------------------------------------------------------

/**
 * `subscribe` / `unsubscribe`: a full room name (`parking_lot:<id>`, `parking_updates`, `admin`,
 * `user:<id>`; `type` then only a hint), or the short forms `{ type: 'parking_lot', room: '<id>' }`
 * and `{ type: 'parking_updates' }`. One of room or type is required.
 */
export interface SubscribePayload {
  room?: string | undefined;
  type?: string | undefined;
  /** The last sequence number seen in this room: the server replays what came after. */
  last_seq?: number | undefined;
}

export interface RefreshTokenPayload {
  token: string;
}

/** `parking_lot_id` absent or null: every lot. */
export interface AvailabilityQueryPayload {
  parking_lot_id?: string | null | undefined;
}

/** An admin's change to a lot (PUT …/availability); at least one of the first three. */
export interface AvailabilityChange {
  available_spaces?: number | undefined;
  out_of_service?: number | undefined;
  is_open?: boolean | undefined;
  reason?: string | undefined;
}

export interface SetAvailabilityPayload extends AvailabilityChange {
  parking_lot_id: string;
}

export interface AnnouncementRequest {
  message: string;
  title?: string | undefined;
  /** Default `info`. */
  type?: AnnouncementType | undefined;
  /** A room to target (e.g. `parking_lot:<id>`); everyone when absent. */
  room?: string | undefined;
}

/** Exactly one of `ends_at` or `duration_minutes`; `starts_at` defaults to now. */
export interface CreateBookingPayload {
  parking_lot_id: string;
  starts_at?: string | undefined;
  ends_at?: string | undefined;
  duration_minutes?: number | undefined;
  idempotency_key?: string | undefined;
  vehicle_plate?: string | undefined;
}

export interface BookingRefPayload {
  booking_id: string;
}

export interface CancelBookingPayload extends BookingRefPayload {
  reason?: string | undefined;
}

// ---- what the server sends -------------------------------------------------------------------

export interface PublicUser {
  id: string;
  role: 'user' | 'admin';
  email?: string;
}

export interface ConnectedPayload {
  message: string;
  user: PublicUser;
  socket_id: string;
  node_id: string;
  rooms: string[];
  token_expires_at: string;
  timestamp: string;
}

export interface LotAvailability {
  /** The same as parking_lot_id, for frontends that key their lots by `id` (the reference document's hook does). */
  id: string;
  parking_lot_id: string;
  name: string;
  total_spaces: number;
  out_of_service: number;
  occupied_unbooked: number;
  held: number;
  available_spaces: number;
  is_open: boolean;
  updated_at: string;
}

export interface AvailabilityReply {
  lots: LotAvailability[];
  timestamp: string;
}

/** Where an event sits in its stream (a room): clients drop duplicates and notice gaps by seq. */
export interface Sequenced {
  event_id: number;
  room: string;
  seq: number;
}

/**
 * Who caused a logged event: a user, an admin, or the system (timed transitions, payments, edits
 * made in the database without a caller's claims).
 */
export type ActorRole = 'user' | 'admin' | 'system';

/** Lot streams are readable by every signed-in user: they say what kind of actor, never which one. */
export interface ParkingUpdatedPayload extends LotAvailability, Sequenced {
  action: string;
  actor_role: ActorRole;
  timestamp: string;
}

/** On a user's own stream: who caused it (null for the system), and as what. */
export interface Actor {
  actor_id: string | null;
  actor_role: ActorRole;
}

export interface BookingView {
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

export interface BookingUpdatedPayload extends Sequenced, Actor {
  booking_id: string;
  status: BookingStatus;
  action: string;
  booking: BookingView;
  timestamp: string;
}

export interface PaymentUpdatedPayload extends Sequenced, Actor {
  payment_id: string;
  booking_id: string;
  status: PaymentStatus;
  action: string;
  payment: Record<string, unknown>;
  timestamp: string;
}

export interface NotificationPayload extends Sequenced, Actor {
  id: string;
  title: string;
  message: string;
  type: string;
  data: unknown;
  timestamp: string;
}

export interface AnnouncementPayload {
  message: string;
  title?: string;
  type: AnnouncementType;
  room?: string;
  /** Sent by this operator's admin, to its audience (its admin room, its lots' rooms, users booked there). */
  operator_id?: string;
  from: string;
  timestamp: string;
}

export interface LiveStats {
  cluster: {
    connections: number;
    by_role: Record<string, number>;
    by_node: Record<string, number>;
    rooms: Record<string, number>;
    partial: boolean;
  };
  today: Record<string, unknown> | null;
  lots: { count: number; total_spaces: number; available_spaces: number };
  /** What these numbers cover: everything (operator_id null, the platform admin) or one operator's. */
  scope: { operator_id: string | null };
}

export interface LiveStatsPayload {
  stats: LiveStats;
  timestamp: string;
}

export interface ReplayInfo {
  room: string;
  /** How many missed events were sent, in order. */
  replayed: number;
  /** True when the gap could not be replayed and a fresh snapshot was sent instead. */
  snapshot: boolean;
  /** The room's latest sequence number: what the client has now seen. */
  seq: number;
}

/** Sent instead of a replay when the gap is older than the event log keeps. */
export interface RoomSnapshotPayload {
  room: string;
  seq: number;
  snapshot: true;
  lots?: LotAvailability[];
  bookings?: BookingView[];
  timestamp: string;
}

export interface ResumedPayload {
  rooms: ReplayInfo[];
  failed: { room: string; code: string; message: string }[];
}

export interface TokenRefreshedPayload {
  token_expires_at: string;
}

export interface ServerShutdownPayload {
  message: string;
  reconnect: boolean;
  timestamp: string;
}

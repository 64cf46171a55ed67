/**
 * The client contract: event names, payload schemas and the typed event maps that Socket.IO's
 * generics take. A frontend may import this module (it depends on zod only).
 */
import { z } from 'zod';

export interface ClientError {
  code: string;
  message: string;
  details?: unknown;
}

export type AckResponse<T> = { ok: true; data: T } | { ok: false; error: ClientError };
export type Ack<T> = (response: AckResponse<T>) => void;

const uuid = z.uuid({ message: 'must be a uuid' });
const text = (max: number) => z.string().trim().min(1).max(max);

// ---- client → server payloads --------------------------------------------------------------

/**
 * `{ room: 'parking_lot:<id>' }`, or `{ type: 'parking_lot', room: '<id>' }`, or `{ type: 'parking_updates' }`.
 * A full room name decides by itself: `type` is then only a hint and any short text is accepted
 * (the reference document sends `type: 'parking'`, `'general'`, `'admin'`).
 */
export const subscribeSchema = z
  .object({
    room: z.string().trim().min(1).max(200).optional(),
    type: z.string().trim().max(50).optional(),
    /** The last sequence number the client saw in this room: the server replays what came after. */
    last_seq: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER).optional(),
  })
  .refine((v) => v.room !== undefined || v.type !== undefined, { message: 'room or type is required' });
export type SubscribeInput = z.infer<typeof subscribeSchema>;

export const unsubscribeSchema = subscribeSchema;

/** Handshake `auth`: the token, and optionally the last seq seen per room (to resume after a reconnect). */
export const handshakeResumeSchema = z.record(z.string().max(200), z.number().int().min(0).max(Number.MAX_SAFE_INTEGER)).refine(
  (v) => Object.keys(v).length <= 100,
  { message: 'at most 100 rooms' },
);

export const refreshTokenSchema = z.object({ token: z.string().min(1).max(8192) });

/**
 * Absent or null: every lot (the reference client sends `{ parking_lot_id: null }` by default).
 * Any id is taken as a lot reference: one that names no lot, uuid or not, is NOT_FOUND.
 */
export const availabilityQuerySchema = z.object({
  parking_lot_id: z
    .string()
    .trim()
    .min(1)
    .max(200)
    .nullish()
    .transform((v) => v ?? undefined),
});
/** The socket form may omit the payload entirely. */
export const availabilityEventSchema = availabilityQuerySchema.optional().transform((v) => v ?? { parking_lot_id: undefined });
export type AvailabilityQuery = z.infer<typeof availabilityQuerySchema>;

export const emptySchema = z.object({}).optional().transform((v) => v ?? {});

export const setAvailabilitySchema = z
  .object({
    available_spaces: z.number().int().min(0).max(100_000).optional(),
    out_of_service: z.number().int().min(0).max(100_000).optional(),
    is_open: z.boolean().optional(),
    reason: z.string().trim().max(500).optional(),
  })
  .refine((v) => v.available_spaces !== undefined || v.out_of_service !== undefined || v.is_open !== undefined, {
    message: 'give at least one of available_spaces, out_of_service, is_open',
  });
export type SetAvailabilityInput = z.infer<typeof setAvailabilitySchema>;

export const setAvailabilityEventSchema = z.intersection(z.object({ parking_lot_id: uuid }), setAvailabilitySchema);

export const announcementTypes = ['info', 'warning', 'maintenance', 'emergency'] as const;
export const announcementSchema = z.object({
  message: text(1000),
  title: text(200).optional(),
  type: z.enum(announcementTypes).default('info'),
  /** A room to target (e.g. `parking_lot:<id>`); everyone when absent. */
  room: z.string().trim().min(1).max(200).optional(),
});
export type AnnouncementInput = z.infer<typeof announcementSchema>;

const isoDate = z.iso.datetime({ offset: true, message: 'must be an ISO 8601 date-time with a time zone' });

export const createBookingSchema = z
  .object({
    parking_lot_id: uuid,
    /** Default: now. */
    starts_at: isoDate.optional(),
    ends_at: isoDate.optional(),
    /** Instead of ends_at. */
    duration_minutes: z.number().int().min(1).max(7 * 24 * 60).optional(),
    idempotency_key: z.string().trim().min(1).max(200).optional(),
    vehicle_plate: z.string().trim().min(1).max(20).optional(),
  })
  .refine((v) => (v.ends_at === undefined) !== (v.duration_minutes === undefined), {
    message: 'give exactly one of ends_at or duration_minutes',
  });
export type CreateBookingInput = z.infer<typeof createBookingSchema>;

export const bookingRefSchema = z.object({ booking_id: uuid });
export const cancelBookingSchema = z.object({ booking_id: uuid, reason: z.string().trim().max(500).optional() });

// ---- server → client payloads --------------------------------------------------------------

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

/** Where an event sits in its stream (a room): clients drop duplicates and notice gaps by seq. */
export interface Sequenced {
  event_id: number;
  room: string;
  seq: number;
}

export interface ParkingUpdatedPayload extends LotAvailability, Partial<Sequenced> {
  action: string;
  timestamp: string;
}

export interface BookingView {
  id: string;
  user_id: string;
  parking_lot_id: string;
  starts_at: string;
  ends_at: string;
  status: 'pending' | 'confirmed' | 'active' | 'completed' | 'cancelled' | 'expired';
  hold_expires_at: string | null;
  amount_cents: number;
  currency: string;
  vehicle_plate: string | null;
  created_at: string;
  updated_at: string;
}

export interface BookingUpdatedPayload extends Sequenced {
  booking_id: string;
  status: BookingView['status'];
  action: string;
  booking: BookingView;
  timestamp: string;
}

export interface PaymentUpdatedPayload extends Sequenced {
  payment_id: string;
  booking_id: string;
  status: 'pending' | 'succeeded' | 'failed' | 'refunded';
  action: string;
  payment: Record<string, unknown>;
  timestamp: string;
}

export interface AvailabilityReply {
  lots: LotAvailability[];
  timestamp: string;
}

export interface NotificationPayload extends Partial<Sequenced> {
  id?: string;
  title: string;
  message: string;
  type: string;
  data?: unknown;
  timestamp: string;
}

export interface AnnouncementPayload {
  message: string;
  title?: string;
  type: string;
  room?: string;
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
}

export interface LiveStatsPayload {
  stats: LiveStats;
  timestamp: string;
}

export interface ReplayInfo {
  room: string;
  replayed: number;
  snapshot: boolean;
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

export interface ErrorPayload {
  message: string;
  code: string;
  event?: string;
}

// ---- event maps ----------------------------------------------------------------------------

export interface ClientToServerEvents {
  subscribe: (payload: SubscribeInput, ack?: Ack<{ room: string; replay?: ReplayInfo }>) => void;
  refresh_token: (payload: z.input<typeof refreshTokenSchema>, ack?: Ack<{ token_expires_at: string }>) => void;
  unsubscribe: (payload: SubscribeInput, ack?: Ack<{ room: string; was_subscribed: boolean }>) => void;
  get_parking_availability: (payload?: z.input<typeof availabilityQuerySchema>, ack?: Ack<AvailabilityReply>) => void;
  get_live_stats: (payload?: Record<string, never>, ack?: Ack<LiveStatsPayload>) => void;
  send_announcement: (payload: z.input<typeof announcementSchema>, ack?: Ack<AnnouncementPayload>) => void;
  set_parking_availability: (payload: z.input<typeof setAvailabilityEventSchema>, ack?: Ack<LotAvailability>) => void;
  create_booking: (payload: CreateBookingInput, ack?: Ack<{ booking: BookingView; replayed: boolean }>) => void;
  cancel_booking: (payload: z.input<typeof cancelBookingSchema>, ack?: Ack<{ booking: BookingView }>) => void;
  get_booking_status: (payload: z.input<typeof bookingRefSchema>, ack?: Ack<{ booking: BookingView }>) => void;
}

export interface ServerToClientEvents {
  connected: (payload: ConnectedPayload) => void;
  subscribed: (payload: { room: string; replay?: ReplayInfo }) => void;
  room_snapshot: (payload: RoomSnapshotPayload) => void;
  resumed: (payload: { rooms: ReplayInfo[]; failed: { room: string; code: string; message: string }[] }) => void;
  token_refreshed: (payload: { token_expires_at: string }) => void;
  server_shutdown: (payload: { message: string; reconnect: boolean; timestamp: string }) => void;
  unsubscribed: (payload: { room: string; was_subscribed: boolean }) => void;
  parking_availability: (payload: AvailabilityReply) => void;
  parking_updated: (payload: ParkingUpdatedPayload) => void;
  booking_updated: (payload: BookingUpdatedPayload) => void;
  payment_updated: (payload: PaymentUpdatedPayload) => void;
  booking_created: (payload: { booking: BookingView; replayed: boolean }) => void;
  booking_cancelled: (payload: { booking: BookingView }) => void;
  booking_status: (payload: { booking: BookingView }) => void;
  notification: (payload: NotificationPayload) => void;
  system_announcement: (payload: AnnouncementPayload) => void;
  live_stats: (payload: LiveStatsPayload) => void;
  announcement_sent: (payload: AnnouncementPayload) => void;
  error: (payload: ErrorPayload) => void;
}

export type ClientEventName = keyof ClientToServerEvents;

/** Every event a client may send; anything else is answered UNKNOWN_EVENT. */
export const CLIENT_EVENTS: ReadonlySet<string> = new Set<ClientEventName>([
  'subscribe',
  'unsubscribe',
  'get_parking_availability',
  'get_live_stats',
  'send_announcement',
  'set_parking_availability',
  'create_booking',
  'cancel_booking',
  'get_booking_status',
  'refresh_token',
]);

/** The event maps Socket.IO's generics take: every event name with its payload and acknowledgement. */
import type { z } from 'zod';
import type { Ack, ErrorPayload } from './errors.js';
import type {
  AnnouncementPayload,
  AvailabilityReply,
  BookingUpdatedPayload,
  BookingView,
  ConnectedPayload,
  LiveStatsPayload,
  LotAvailability,
  NotificationPayload,
  ParkingUpdatedPayload,
  PaymentUpdatedPayload,
  ReplayInfo,
  ResumedPayload,
  RoomSnapshotPayload,
  ServerShutdownPayload,
} from './payloads.js';
import type {
  announcementSchema,
  availabilityQuerySchema,
  bookingRefSchema,
  cancelBookingSchema,
  createBookingSchema,
  refreshTokenSchema,
  setAvailabilityEventSchema,
  subscribeSchema,
} from './schemas.js';

export interface SubscribeReply {
  room: string;
  replay?: ReplayInfo;
}
export interface UnsubscribeReply {
  room: string;
  was_subscribed: boolean;
}
export interface BookingReply {
  booking: BookingView;
}
export interface CreateBookingReply extends BookingReply {
  replayed: boolean;
}

export interface ClientToServerEvents {
  subscribe: (payload: z.input<typeof subscribeSchema>, ack?: Ack<SubscribeReply>) => void;
  unsubscribe: (payload: z.input<typeof subscribeSchema>, ack?: Ack<UnsubscribeReply>) => void;
  refresh_token: (payload: z.input<typeof refreshTokenSchema>, ack?: Ack<{ token_expires_at: string }>) => void;
  get_parking_availability: (payload?: z.input<typeof availabilityQuerySchema>, ack?: Ack<AvailabilityReply>) => void;
  get_live_stats: (payload?: Record<string, never>, ack?: Ack<LiveStatsPayload>) => void;
  send_announcement: (payload: z.input<typeof announcementSchema>, ack?: Ack<AnnouncementPayload>) => void;
  set_parking_availability: (payload: z.input<typeof setAvailabilityEventSchema>, ack?: Ack<LotAvailability>) => void;
  create_booking: (payload: z.input<typeof createBookingSchema>, ack?: Ack<CreateBookingReply>) => void;
  cancel_booking: (payload: z.input<typeof cancelBookingSchema>, ack?: Ack<BookingReply>) => void;
  get_booking_status: (payload: z.input<typeof bookingRefSchema>, ack?: Ack<BookingReply>) => void;
}

export interface ServerToClientEvents {
  connected: (payload: ConnectedPayload) => void;
  subscribed: (payload: SubscribeReply) => void;
  unsubscribed: (payload: UnsubscribeReply) => void;
  room_snapshot: (payload: RoomSnapshotPayload) => void;
  resumed: (payload: ResumedPayload) => void;
  token_refreshed: (payload: { token_expires_at: string }) => void;
  server_shutdown: (payload: ServerShutdownPayload) => void;
  parking_availability: (payload: AvailabilityReply) => void;
  parking_updated: (payload: ParkingUpdatedPayload) => void;
  booking_updated: (payload: BookingUpdatedPayload) => void;
  payment_updated: (payload: PaymentUpdatedPayload) => void;
  booking_created: (payload: CreateBookingReply) => void;
  booking_cancelled: (payload: BookingReply) => void;
  booking_status: (payload: BookingReply) => void;
  notification: (payload: NotificationPayload) => void;
  system_announcement: (payload: AnnouncementPayload) => void;
  live_stats: (payload: LiveStatsPayload) => void;
  announcement_sent: (payload: AnnouncementPayload) => void;
  error: (payload: ErrorPayload) => void;
}

export type ClientEventName = keyof ClientToServerEvents;
export type ServerEventName = keyof ServerToClientEvents;

/** The data a client event's acknowledgement carries on success. */
export type ReplyOf<E extends ClientEventName> = Parameters<ClientToServerEvents[E]>[1] extends Ack<infer T> | undefined ? T : never;

/**
 * Every client event with the event its answer travels as when the client gives no
 * acknowledgement (null: the answer is a broadcast the caller hears anyway). Anything else a
 * client sends is answered UNKNOWN_EVENT.
 */
export const CLIENT_EVENTS = {
  subscribe: 'subscribed',
  unsubscribe: 'unsubscribed',
  refresh_token: 'token_refreshed',
  get_parking_availability: 'parking_availability',
  get_live_stats: 'live_stats',
  send_announcement: 'announcement_sent',
  set_parking_availability: null,
  create_booking: 'booking_created',
  cancel_booking: 'booking_cancelled',
  get_booking_status: 'booking_status',
} as const satisfies Record<ClientEventName, ServerEventName | null>;

/**
 * Events written to the event log (the outbox) by the SQL functions, each on a stream with a seq.
 * The SQL writes these names; test/contract-sql.test.ts checks they match.
 */
export const LOGGED_EVENTS = ['parking_updated', 'booking_updated', 'payment_updated', 'notification'] as const;
export type LoggedEventName = (typeof LOGGED_EVENTS)[number];

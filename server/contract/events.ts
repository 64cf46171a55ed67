/**
 * The event maps Socket.IO's generics take: every event name with its payload and acknowledgement.
 * Plain types only (no zod): the client package ships them to browsers.
 */
import type { Ack, ErrorPayload } from './errors.js';
import type { BookingHistoryReply } from './history.js';
import type {
  AnnouncementPayload,
  AnnouncementRequest,
  AvailabilityQueryPayload,
  AvailabilityReply,
  BookingRefPayload,
  BookingUpdatedPayload,
  BookingView,
  CancelBookingPayload,
  ConnectedPayload,
  CreateBookingPayload,
  LiveStatsPayload,
  LotAvailability,
  NotificationPayload,
  ParkingUpdatedPayload,
  PaymentUpdatedPayload,
  RefreshTokenPayload,
  ReplayInfo,
  ResumedPayload,
  RoomSnapshotPayload,
  ServerShutdownPayload,
  SetAvailabilityPayload,
  SubscribePayload,
  TokenRefreshedPayload,
} from './payloads.js';
import type {
  AdminWaitlistQueryPayload,
  JoinWaitlistPayload,
  JoinWaitlistReply,
  ListWaitlistPayload,
  SetWaitlistPriorityPayload,
  WaitlistEntryRefPayload,
  WaitlistEntryReply,
  WaitlistReply,
  WaitlistUpdatedPayload,
} from './waitlist.js';

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
  subscribe: (payload: SubscribePayload, ack?: Ack<SubscribeReply>) => void;
  unsubscribe: (payload: SubscribePayload, ack?: Ack<UnsubscribeReply>) => void;
  refresh_token: (payload: RefreshTokenPayload, ack?: Ack<TokenRefreshedPayload>) => void;
  get_parking_availability: (payload?: AvailabilityQueryPayload, ack?: Ack<AvailabilityReply>) => void;
  get_live_stats: (payload?: Record<string, never>, ack?: Ack<LiveStatsPayload>) => void;
  send_announcement: (payload: AnnouncementRequest, ack?: Ack<AnnouncementPayload>) => void;
  set_parking_availability: (payload: SetAvailabilityPayload, ack?: Ack<LotAvailability>) => void;
  create_booking: (payload: CreateBookingPayload, ack?: Ack<CreateBookingReply>) => void;
  cancel_booking: (payload: CancelBookingPayload, ack?: Ack<BookingReply>) => void;
  get_booking_status: (payload: BookingRefPayload, ack?: Ack<BookingReply>) => void;
  get_booking_history: (payload: BookingRefPayload, ack?: Ack<BookingHistoryReply>) => void;
  join_waitlist: (payload: JoinWaitlistPayload, ack?: Ack<JoinWaitlistReply>) => void;
  leave_waitlist: (payload: WaitlistEntryRefPayload, ack?: Ack<WaitlistEntryReply>) => void;
  list_waitlist: (payload?: ListWaitlistPayload, ack?: Ack<WaitlistReply>) => void;
  get_admin_waitlist: (payload: AdminWaitlistQueryPayload, ack?: Ack<WaitlistReply>) => void;
  set_waitlist_priority: (payload: SetWaitlistPriorityPayload, ack?: Ack<WaitlistEntryReply>) => void;
}

export interface ServerToClientEvents {
  connected: (payload: ConnectedPayload) => void;
  subscribed: (payload: SubscribeReply) => void;
  unsubscribed: (payload: UnsubscribeReply) => void;
  room_snapshot: (payload: RoomSnapshotPayload) => void;
  resumed: (payload: ResumedPayload) => void;
  token_refreshed: (payload: TokenRefreshedPayload) => void;
  server_shutdown: (payload: ServerShutdownPayload) => void;
  parking_availability: (payload: AvailabilityReply) => void;
  parking_updated: (payload: ParkingUpdatedPayload) => void;
  booking_updated: (payload: BookingUpdatedPayload) => void;
  payment_updated: (payload: PaymentUpdatedPayload) => void;
  booking_created: (payload: CreateBookingReply) => void;
  booking_cancelled: (payload: BookingReply) => void;
  booking_status: (payload: BookingReply) => void;
  booking_history: (payload: BookingHistoryReply) => void;
  notification: (payload: NotificationPayload) => void;
  waitlist_updated: (payload: WaitlistUpdatedPayload) => void;
  waitlist: (payload: WaitlistReply) => void;
  admin_waitlist: (payload: WaitlistReply) => void;
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
  get_booking_history: 'booking_history',
  // Joining, leaving and a new priority are heard as waitlist_updated on the user's stream (and by admins).
  join_waitlist: null,
  leave_waitlist: null,
  list_waitlist: 'waitlist',
  get_admin_waitlist: 'admin_waitlist',
  set_waitlist_priority: null,
} as const satisfies Record<ClientEventName, ServerEventName | null>;

/**
 * Events written to the event log (the outbox) by the SQL functions, each on a stream with a seq.
 * The SQL writes these names; test/contract-sql.test.ts checks they match.
 */
export const LOGGED_EVENTS = ['parking_updated', 'booking_updated', 'payment_updated', 'notification', 'waitlist_updated'] as const;
export type LoggedEventName = (typeof LOGGED_EVENTS)[number];

/**
 * @spotcast/client: a typed client for a spotcast server. It connects with your auth provider's
 * token and keeps it fresh, resumes every room after a reconnect (replay by seq, or a snapshot),
 * delivers each room event once, and keeps lots, bookings and payments as state.
 */
export { createSpotcastClient } from './client.js';
export type { Readable } from './store.js';
export type {
  ConnectionState,
  ConnectionStatus,
  EventPayload,
  PayloadOf,
  RequestOptions,
  SpotcastClient,
  SpotcastClientOptions,
  SpotcastSocket,
  TokenSource,
} from './types.js';
export { parseRoom, rooms, type Room } from '../../server/contract/rooms.js';
export { BOOKING_STATUSES, PAYMENT_STATUSES, type BookingStatus, type PaymentStatus, type AnnouncementType } from '../../server/contract/statuses.js';
export type { Ack, AckResponse, ClientError, ErrorCode, ErrorPayload } from '../../server/contract/errors.js';
export type * from '../../server/contract/events.js';
export type * from '../../server/contract/payloads.js';
export type {
  BookingHistoryEntry,
  BookingHistoryReply,
  DriftRow,
  LotAvailabilityAt,
  RebuildItemReport,
  RebuildReport,
  RebuildRequest,
} from '../../server/contract/history.js';
export { WAITLIST_STATUSES, type WaitlistStatus } from '../../server/contract/waitlist.js';
export type * from '../../server/contract/waitlist.js';

/**
 * What clients send: one zod schema per client event and HTTP body, so a handler's input type
 * comes from its schema. Each schema of a client payload is tied to its plain type in payloads.ts
 * at the end of this file: a change to one without the other fails `npm run typecheck`.
 */
import { z } from 'zod';
import type {
  AnnouncementRequest,
  AvailabilityChange,
  AvailabilityQueryPayload,
  BookingRefPayload,
  CancelBookingPayload,
  CreateBookingPayload,
  RefreshTokenPayload,
  SetAvailabilityPayload,
  SubscribePayload,
} from './payloads.js';
import type { RebuildRequest } from './history.js';
import { ANNOUNCEMENT_TYPES, BOOKING_STATUSES } from './statuses.js';

const uuid = z.uuid({ message: 'must be a uuid' });
const text = (max: number) => z.string().trim().min(1).max(max);
const seq = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);
/**
 * An id of a lot or a booking as a frontend may send it. spotcast's ids are uuids; another id
 * (a frontend written for another backend, the documentation's '123') names nothing: NOT_FOUND,
 * not a format error.
 */
const ref = z.string().trim().min(1).max(100);
const lotRef = ref;

// ---- rooms -----------------------------------------------------------------------------------

/**
 * `{ room: 'parking_lot:<id>' }` (any `type`: it is a hint, the room decides), `{ room: 'parking_updates' }`,
 * `{ room: 'admin' }`, or spotcast's short forms `{ type: 'parking_lot', room: '<id>' }`, `{ type: 'parking_updates' }`.
 */
export const subscribeSchema = z
  .object({
    room: z.string().trim().min(1).max(200).optional(),
    type: z.string().trim().max(50).optional(),
    /** The last sequence number the client saw in this room: the server replays what came after. */
    last_seq: seq.optional(),
  })
  .refine((v) => v.room !== undefined || v.type !== undefined, { message: 'room or type is required' });
export type SubscribeInput = z.infer<typeof subscribeSchema>;

export const unsubscribeSchema = subscribeSchema;

/** Handshake `auth.last_seq`: the last seq seen per room, to resume after a reconnect. */
export const handshakeResumeSchema = z
  .record(z.string().max(200), seq)
  .refine((v) => Object.keys(v).length <= 100, { message: 'at most 100 rooms' });

export const refreshTokenSchema = z.object({ token: z.string().min(1).max(8192) });

// ---- parking ---------------------------------------------------------------------------------

/** `parking_lot_id` absent or null: every lot (the original RealtimeService sends `{ parking_lot_id: null }`). */
export const availabilityQuerySchema = z.object({ parking_lot_id: lotRef.nullish() });
/** The socket form may omit the payload entirely. */
export const availabilityEventSchema = availabilityQuerySchema.optional().transform((v) => v ?? {});
export type AvailabilityQuery = z.infer<typeof availabilityQuerySchema>;

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

export const setAvailabilityEventSchema = z.intersection(z.object({ parking_lot_id: lotRef }), setAvailabilitySchema);

export const lotParamsSchema = z.object({ id: lotRef });

// ---- admin -----------------------------------------------------------------------------------

export const emptySchema = z.object({}).optional().transform((v) => v ?? {});

export const announcementSchema = z.object({
  message: text(1000),
  title: text(200).optional(),
  type: z.enum(ANNOUNCEMENT_TYPES).default('info'),
  /** A room to target (e.g. `parking_lot:<id>`); everyone when absent. */
  room: z.string().trim().min(1).max(200).optional(),
});
export type AnnouncementInput = z.infer<typeof announcementSchema>;

export const limitQuerySchema = z.object({ limit: z.coerce.number().int().min(1).max(1000).default(100) });

// ---- bookings --------------------------------------------------------------------------------

const isoDate = z.iso.datetime({ offset: true, message: 'must be an ISO 8601 date-time with a time zone' });

export const createBookingSchema = z
  .object({
    parking_lot_id: uuid,
    /** Default: now, by the database's clock. */
    starts_at: isoDate.optional(),
    ends_at: isoDate.optional(),
    /** Instead of ends_at. */
    duration_minutes: z.number().int().min(1).max(7 * 24 * 60).optional(),
    idempotency_key: z.string().trim().min(1).max(200).optional(),
    vehicle_plate: z.string().trim().min(1).max(20).optional(),
  })
  .refine((v) => (v.ends_at === undefined) !== (v.duration_minutes === undefined), {
    message: 'give exactly one of ends_at or duration_minutes',
  })
  .refine((v) => v.starts_at === undefined || v.ends_at === undefined || Date.parse(v.ends_at) > Date.parse(v.starts_at), {
    message: 'ends_at must be after starts_at',
    path: ['ends_at'],
  });
export type CreateBookingInput = z.infer<typeof createBookingSchema>;

export const bookingRefSchema = z.object({ booking_id: ref });
export const cancelBookingSchema = z.object({ booking_id: ref, reason: z.string().trim().max(500).optional() });
export const cancelBodySchema = z.object({ reason: z.string().trim().max(500).optional() }).optional();
export const bookingParamsSchema = z.object({ id: ref });
export const listBookingsQuerySchema = z.object({
  limit: z.coerce.number().int().min(1).max(200).default(50),
  status: z.enum(BOOKING_STATUSES).optional(),
});
export const idempotencyHeaderSchema = z.string().trim().min(1).max(200).optional();

// ---- history and rebuild (history.ts) --------------------------------------------------------

export const pastAvailabilityQuerySchema = z.object({ at: isoDate });

export const rebuildSchema = z
  .object({ parking_lot_id: uuid.nullish(), repair: z.boolean().optional() })
  .optional()
  .transform((v) => v ?? {});
export type RebuildInput = z.infer<typeof rebuildSchema>;

// ---- notifications ---------------------------------------------------------------------------

export const listNotificationsQuerySchema = z.object({
  limit: z.coerce.number().int().min(1).max(200).default(50),
  unread_only: z.enum(['true', 'false']).default('false').transform((v) => v === 'true'),
});
export const notificationParamsSchema = z.object({ id: z.uuid({ message: 'notification id must be a uuid' }) });

// ---- each client payload's schema accepts exactly its plain type ---------------------------------

/** True when A and B have the same keys and each is assignable to the other (optionality included). */
type Same<A, B> = [A] extends [B]
  ? [B] extends [A]
    ? [Exclude<keyof A, keyof B> | Exclude<keyof B, keyof A>] extends [never]
      ? true
      : false
    : false
  : false;
/** Fails to compile unless its argument is `true`: the error's line names the schema that drifted. */
type Tie<T extends true> = T;

// Nothing uses this type: the compiler checks it where it stands.
type PayloadTypesMatchSchemas = [
  Tie<Same<z.input<typeof subscribeSchema>, SubscribePayload>>,
  Tie<Same<z.input<typeof unsubscribeSchema>, SubscribePayload>>,
  Tie<Same<z.input<typeof refreshTokenSchema>, RefreshTokenPayload>>,
  Tie<Same<z.input<typeof availabilityQuerySchema>, AvailabilityQueryPayload>>,
  Tie<Same<z.input<typeof setAvailabilitySchema>, AvailabilityChange>>,
  Tie<Same<z.input<typeof setAvailabilityEventSchema>, SetAvailabilityPayload>>,
  Tie<Same<z.input<typeof announcementSchema>, AnnouncementRequest>>,
  Tie<Same<z.input<typeof createBookingSchema>, CreateBookingPayload>>,
  Tie<Same<z.input<typeof bookingRefSchema>, BookingRefPayload>>,
  Tie<Same<z.input<typeof cancelBookingSchema>, CancelBookingPayload>>,
  Tie<Same<Exclude<z.input<typeof rebuildSchema>, undefined>, RebuildRequest>>,
];

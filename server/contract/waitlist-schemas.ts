/** What clients send for the waitlist (see waitlist.ts), each schema tied to its plain type. */
import { z } from 'zod';
import type { AdminWaitlistQueryPayload, JoinWaitlistPayload, ListWaitlistPayload, SetWaitlistPriorityPayload, WaitlistEntryRefPayload } from './waitlist.js';
import { WAITLIST_MAX_PRIORITY, WAITLIST_STATUSES } from './waitlist.js';

const uuid = z.uuid({ message: 'must be a uuid' });
const isoDate = z.iso.datetime({ offset: true, message: 'must be an ISO 8601 date-time with a time zone' });

export const joinWaitlistSchema = z
  .object({
    parking_lot_id: uuid,
    starts_at: isoDate.optional(),
    ends_at: isoDate.optional(),
    duration_minutes: z.number().int().min(1).max(7 * 24 * 60).optional(),
  })
  .refine((v) => (v.ends_at === undefined) !== (v.duration_minutes === undefined), {
    message: 'give exactly one of ends_at or duration_minutes',
  })
  .refine((v) => v.starts_at === undefined || v.ends_at === undefined || Date.parse(v.ends_at) > Date.parse(v.starts_at), {
    message: 'ends_at must be after starts_at',
    path: ['ends_at'],
  });
export type JoinWaitlistInput = z.infer<typeof joinWaitlistSchema>;

/** Entry ids are uuids; another id names nothing (NOT_FOUND), as for bookings. */
const ref = z.string().trim().min(1).max(100);
export const waitlistEntryRefSchema = z.object({ entry_id: ref });
export const waitlistParamsSchema = z.object({ id: ref });
export const setWaitlistPrioritySchema = z.object({ entry_id: ref, priority: z.number().int().min(0).max(WAITLIST_MAX_PRIORITY) });
export const waitlistPriorityBodySchema = z.object({ priority: z.number().int().min(0).max(WAITLIST_MAX_PRIORITY) });
export const adminWaitlistQuerySchema = z.object({ parking_lot_id: uuid });
export const listWaitlistQuerySchema = z.object({
  limit: z.coerce.number().int().min(1).max(200).default(50),
  status: z.enum(WAITLIST_STATUSES).optional(),
});
const listWaitlistPayloadSchema = z.object({ limit: z.number().int().min(1).max(200).optional(), status: z.enum(WAITLIST_STATUSES).optional() });
export const listWaitlistEventSchema = listWaitlistPayloadSchema.optional().transform((v) => ({ limit: v?.limit ?? 50, status: v?.status }));

type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? ([Exclude<keyof A, keyof B> | Exclude<keyof B, keyof A>] extends [never] ? true : false) : false) : false;
type Tie<T extends true> = T;
// Nothing uses this type: the compiler checks it where it stands.
type WaitlistPayloadsMatchSchemas = [
  Tie<Same<z.input<typeof joinWaitlistSchema>, JoinWaitlistPayload>>,
  Tie<Same<z.input<typeof waitlistEntryRefSchema>, WaitlistEntryRefPayload>>,
  Tie<Same<z.input<typeof setWaitlistPrioritySchema>, SetWaitlistPriorityPayload>>,
  Tie<Same<z.input<typeof adminWaitlistQuerySchema>, AdminWaitlistQueryPayload>>,
  Tie<Same<z.input<typeof listWaitlistPayloadSchema>, ListWaitlistPayload>>,
];

/**
 * The waitlist on the wire, as plain types (no zod: the client package ships them). Schemas in
 * waitlist-schemas.ts; the SQL is migrations/014_waitlist.sql.
 */
import type { Actor, Sequenced } from './payloads.js';

/**
 * waiting: in the queue. offered: a hold was made for the waiter (`offer_booking_id`), to pay
 * before it expires. accepted: the offer was paid. lapsed: the offer expired, or the window passed
 * while waiting. left: the waiter left (or cancelled the offer).
 */
export const WAITLIST_STATUSES = ['waiting', 'offered', 'accepted', 'lapsed', 'left'] as const;
export type WaitlistStatus = (typeof WAITLIST_STATUSES)[number];

/** 0 normal; higher ones only an admin grants (first come, first served within a priority). */
export const WAITLIST_MAX_PRIORITY = 9;

export interface WaitlistEntryView {
  id: string;
  user_id: string;
  parking_lot_id: string;
  starts_at: string;
  ends_at: string;
  priority: number;
  status: WaitlistStatus;
  /** 1-based place among the lot's waiting entries; null once not waiting. */
  position: number | null;
  offer_booking_id: string | null;
  created_at: string;
  updated_at: string;
}

/** `join_waitlist`: a window of a full lot, as for create_booking (exactly one of ends_at or duration_minutes). */
export interface JoinWaitlistPayload {
  parking_lot_id: string;
  starts_at?: string | undefined;
  ends_at?: string | undefined;
  duration_minutes?: number | undefined;
}

export interface WaitlistEntryRefPayload {
  entry_id: string;
}

export interface SetWaitlistPriorityPayload extends WaitlistEntryRefPayload {
  priority: number;
}

/** `list_waitlist`: the caller's entries, newest first. */
export interface ListWaitlistPayload {
  limit?: number | undefined;
  status?: WaitlistStatus | undefined;
}

export interface AdminWaitlistQueryPayload {
  parking_lot_id: string;
}

export interface WaitlistEntryReply {
  entry: WaitlistEntryView;
}
export interface JoinWaitlistReply extends WaitlistEntryReply {
  /** True when the same window was already queued: that entry is returned. */
  replayed: boolean;
}
export interface WaitlistReply {
  entries: WaitlistEntryView[];
}

/** On the waiter's stream (and to admins) whenever an entry's position or status changes. */
export interface WaitlistUpdatedPayload extends Sequenced, Actor {
  entry_id: string;
  parking_lot_id: string;
  starts_at: string;
  ends_at: string;
  status: WaitlistStatus;
  position: number | null;
  priority: number;
  offer_booking_id: string | null;
  entry: WaitlistEntryView;
  timestamp: string;
}

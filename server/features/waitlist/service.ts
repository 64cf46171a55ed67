import { isUuid, type JoinWaitlistInput, type WaitlistEntryView, type WaitlistStatus } from '../../contract/index.js';
import type { LoggedEvent } from '../../outbox/logged-event.js';
import type { Principal } from '../../platform/auth/principal.js';
import type { UserCalls } from '../../platform/data/calls.js';
import { NotFoundError } from '../../platform/errors.js';
import type { RateLimits } from '../../platform/limits/rate-limits.js';
import type { AfterCommit } from '../bookings/follow-ups.js';

export interface WaitlistService {
  join(principal: Principal, input: JoinWaitlistInput): Promise<{ entry: WaitlistEntryView; replayed: boolean }>;
  leave(principal: Principal, entryId: string): Promise<WaitlistEntryView>;
  list(principal: Principal, opts: { limit: number; status?: WaitlistStatus | undefined }): Promise<WaitlistEntryView[]>;
  /** A lot's open offers and waiters, in offer order (admins). */
  queue(principal: Principal, lotId: string): Promise<WaitlistEntryView[]>;
  setPriority(principal: Principal, entryId: string, priority: number): Promise<WaitlistEntryView>;
}

interface EntryResult {
  entry: WaitlistEntryView;
  replayed?: boolean;
  events: LoggedEvent[];
}

function entryNotFound(entryId: string): NotFoundError {
  return new NotFoundError(`Waitlist entry ${entryId} does not exist${isUuid(entryId) ? '' : ' (entry ids are uuids)'}`);
}

/**
 * The waitlist's commands, over REST and the socket alike. The SQL functions of
 * migrations/014_waitlist.sql decide under the lot lock and log the events; offers themselves are
 * made by triggers in the transactions that free space, whichever node or caller frees it.
 */
export function createWaitlistService(deps: { calls: UserCalls; limits: RateLimits; afterCommit: AfterCommit }): WaitlistService {
  const { calls } = deps;
  return {
    async join(principal, input) {
      // The same budget as booking: joining is what a refused booking turns into.
      await deps.limits.consume('booking', principal.userId);
      const result = (await calls.call(principal, 'join_waitlist', {
        p_lot_id: input.parking_lot_id,
        p_starts_at: input.starts_at ?? null,
        p_ends_at: input.ends_at ?? null,
        p_duration_minutes: input.duration_minutes ?? null,
      })) as EntryResult;
      await deps.afterCommit({ events: result.events }, false);
      return { entry: result.entry, replayed: result.replayed ?? false };
    },

    async leave(principal, entryId) {
      if (!isUuid(entryId)) throw entryNotFound(entryId);
      const result = (await calls.call(principal, 'leave_waitlist', { p_entry_id: entryId })) as EntryResult;
      await deps.afterCommit({ events: result.events }, false);
      return result.entry;
    },

    async list(principal, opts) {
      return (await calls.call(principal, 'list_waitlist', { p_status: opts.status ?? null, p_limit: opts.limit })) as WaitlistEntryView[];
    },

    async queue(principal, lotId) {
      return (await calls.call(principal, 'admin_waitlist', { p_lot_id: lotId })) as WaitlistEntryView[];
    },

    async setPriority(principal, entryId, priority) {
      if (!isUuid(entryId)) throw entryNotFound(entryId);
      const result = (await calls.call(principal, 'set_waitlist_priority', { p_entry_id: entryId, p_priority: priority })) as EntryResult;
      await deps.afterCommit({ events: result.events }, false);
      return result.entry;
    },
  };
}

import type { EventDispatcher } from '../../outbox/dispatcher.js';
import type { LoggedEvent } from '../../outbox/logged-event.js';
import type { Logger } from '../../platform/logger.js';
import type { ScheduledWork, Scheduler } from '../../platform/jobs/scheduler.js';
import type { Booking } from './types.js';

/** Microseconds since the epoch of a timestamp as the database writes it (Date.parse keeps milliseconds). */
function micros(iso: string): number {
  const fraction = /\.(\d+)/.exec(iso)?.[1] ?? '';
  return Date.parse(iso) * 1000 + Number(fraction.padEnd(6, '0').slice(3, 6));
}

/**
 * The time-based transitions a booking in this status waits for. An unpaid hold also waits for the
 * edges of its window that fall within the hold and that its creation did not announce, by the
 * rule create_booking writes them (hold_window_edges): its start when after created_at, its end.
 */
export function followUps(b: Booking): ScheduledWork[] {
  // +1 ms: the database keeps microseconds that Date.parse rounds away.
  const at = (iso: string) => new Date(Date.parse(iso) + 1);
  if (b.status === 'pending' && b.hold_expires_at) {
    const work: ScheduledWork[] = [{ transition: 'expire', bookingId: b.id, at: at(b.hold_expires_at) }];
    const [created, starts, ends, holdEnds] = [b.created_at, b.starts_at, b.ends_at, b.hold_expires_at].map(micros) as [number, number, number, number];
    if (starts > created && starts < holdEnds) work.push({ transition: 'hold_start', bookingId: b.id, at: at(b.starts_at) });
    if (ends < holdEnds) work.push({ transition: 'hold_end', bookingId: b.id, at: at(b.ends_at) });
    return work;
  }
  if (b.status === 'confirmed') {
    return [
      { transition: 'activate', bookingId: b.id, at: at(b.starts_at) },
      { transition: 'complete', bookingId: b.id, at: at(b.ends_at) },
    ];
  }
  if (b.status === 'active') return [{ transition: 'complete', bookingId: b.id, at: at(b.ends_at) }];
  return [];
}

export interface AfterCommitDeps {
  dispatcher: EventDispatcher;
  scheduler: Scheduler;
  logger: Logger;
  /** Test-only fault injection: called after commit, before the events are emitted. */
  beforeEmit?: ((events: LoggedEvent[]) => void) | undefined;
}

/** What every committed booking change does next: announce its events, then plan the booking's next transitions. */
export type AfterCommit = (result: { booking?: Booking | null | undefined; events?: LoggedEvent[] | undefined }, plan?: boolean) => Promise<void>;

export function createAfterCommit(deps: AfterCommitDeps): AfterCommit {
  return async (result, plan = true) => {
    const events = result.events ?? [];
    deps.beforeEmit?.(events);
    deps.dispatcher.dispatch(events);
    const next = plan && result.booking ? followUps(result.booking) : [];
    if (next.length === 0) return;
    // This node's timer (BullMQ's scheduler arms one first) or the sweep runs them if this
    // fails (Redis down): log, don't fail the request.
    await deps.scheduler
      .schedule(next)
      .catch((err: unknown) => deps.logger.warn({ err, next }, "could not queue booking jobs; this node's timer or the sweep will run them"));
  };
}

import type { Db } from '../platform/db/db.js';
import type { Logger } from '../platform/logger.js';
import type { DeliveryLink } from '../platform/redis-link.js';
import type { IoServer } from '../platform/socket/types.js';
import { EndOfTurnQueue } from './end-of-turn.js';
import { emitLogged } from './emit.js';
import type { LoggedEvent } from './logged-event.js';

export interface DispatcherOptions {
  io: IoServer;
  db: Db;
  logger: Logger;
  /** How often emitted events are marked dispatched (one UPDATE for all of them). */
  markIntervalMs?: number;
  /** The way to the other nodes (Redis); absent with one node. */
  link?: DeliveryLink | undefined;
  onEmit?: (event: LoggedEvent) => void;
}

/**
 * Emits committed events to their rooms, then marks them dispatched in batches, once the other
 * nodes have them (their publish to Redis was confirmed). Marking late is safe: an event not yet
 * marked may be emitted again by the sweeper (clients drop it by seq), never lost. Emitting before
 * commit would be the unsafe order, and nothing here does that.
 */
export class EventDispatcher {
  private toMark: number[] = [];
  /** Committed events waiting for the end of this event-loop turn (see `dispatch`). */
  private readonly pending = new EndOfTurnQueue<LoggedEvent>((events) => this.emitCommitted(events));
  private timer: NodeJS.Timeout | undefined;
  private marking: Promise<void> | undefined;
  /** Publishes not yet confirmed (awaited at stop). */
  private readonly confirming = new Set<Promise<void>>();
  readonly stats = { emitted: 0, marked: 0, unconfirmed: 0 };

  constructor(private readonly opts: DispatcherOptions) {
    this.timer = setInterval(() => void this.flushMarks(), opts.markIntervalMs ?? 100);
    this.timer.unref();
  }

  /** Emits each event to all its rooms at once (a socket in several of them gets it once). */
  emit(events: LoggedEvent[]): void {
    for (const e of events) {
      emitLogged(this.opts.io.to(e.rooms), e);
      this.stats.emitted++;
      this.opts.onEmit?.(e);
    }
  }

  /**
   * Emits each event and resolves with the ids of those that reached every node: with Redis, those
   * whose publish was confirmed; the others must stay undispatched, to be sent again.
   */
  async emitConfirmed(events: LoggedEvent[]): Promise<number[]> {
    const link = this.opts.link;
    if (!link) {
      this.emit(events);
      return events.map((e) => e.id);
    }
    const outcomes = await Promise.all(events.map((e) => link.confirm(() => this.emit([e]))));
    const ids = events.filter((_, i) => outcomes[i]).map((e) => e.id);
    this.stats.unconfirmed += events.length - ids.length;
    return ids;
  }

  /**
   * After commit: emit at the end of this event-loop turn, mark dispatched shortly after. Commands
   * that commit in the same turn (replies that arrived together) are emitted back to back, so
   * each socket gets them in one write (batchWebSocketWrites) rather than one write per event.
   * A crash before the emit loses nothing: the events are not marked, and the sweeper sends them.
   */
  dispatch(events: LoggedEvent[]): void {
    this.pending.push(...events);
  }

  /** Emits what `dispatch` has queued now (at shutdown, before the sockets close). */
  emitPending(): void {
    this.pending.drain();
  }

  private emitCommitted(events: LoggedEvent[]): void {
    try {
      if (!this.opts.link) {
        this.emit(events);
        this.toMark.push(...events.map((e) => e.id));
        return;
      }
      // Not marked until Redis confirms: an event other nodes may not have got stays for the
      // sweeper, which sends it again once Redis answers.
      const confirmed = this.emitConfirmed(events).then(
        (ids) => void this.toMark.push(...ids),
        (err: unknown) => this.opts.logger.error({ err }, 'emitting committed events failed; the sweeper will send them'),
      );
      this.confirming.add(confirmed);
      void confirmed.finally(() => this.confirming.delete(confirmed));
    } catch (err) {
      // Off the request's path now, so no caller would see this: log it. What was not marked is
      // sent again by the sweeper.
      this.opts.logger.error({ err }, 'emitting committed events failed; the sweeper will send them');
    }
  }

  async flushMarks(): Promise<void> {
    while (this.marking) await this.marking;
    if (this.toMark.length === 0) return;
    const ids = this.toMark.splice(0);
    this.marking = this.opts.db
      .asSystem((tx) => tx.query('update public.event_log set dispatched_at = now() where id = any($1::bigint[]) and dispatched_at is null', [ids]))
      .then(
        () => {
          this.stats.marked += ids.length;
        },
        (err: unknown) => {
          // Unmarked events are re-emitted by the sweeper: duplicates, never losses.
          this.opts.logger.warn({ err, count: ids.length }, 'could not mark events dispatched; the sweeper will re-emit them');
        },
      )
      .finally(() => {
        this.marking = undefined;
      });
    await this.marking;
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.emitPending();
    await Promise.all(this.confirming);
    await this.flushMarks();
  }
}

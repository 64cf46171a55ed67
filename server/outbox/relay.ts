import type { Db } from '../platform/db/db.js';
import type { Logger } from '../platform/logger.js';
import type { DeliveryLink } from '../platform/redis-link.js';
import type { EventDispatcher } from './dispatcher.js';
import { toLoggedEvents, type LoggedEvent } from './logged-event.js';

/** Where Postgres tells the nodes that an event was written outside spotcast (migrations/002_event_log.sql). */
export const EXTERNAL_EVENTS_CHANNEL = 'spotcast_events';

export interface RelayOptions {
  db: Db;
  dispatcher: EventDispatcher;
  logger: Logger;
  link?: DeliveryLink | undefined;
  batch?: number;
  /** After the events of a pass were emitted (e.g. to plan the timed transitions of their bookings). */
  onRelayed?: (events: LoggedEvent[]) => void;
}

// One relay pass at a time in the cluster, so that a room's events go out in order.
const RELAY_LOCK = 7_204_911_002;

/**
 * Announces events written outside spotcast — supabase-js calling the SQL functions, edits in
 * the dashboard, SQL — as soon as they commit: Postgres notifies every node (PgListener), and
 * one of them claims what no spotcast node will emit itself (origin null), emits it through the
 * adapter to every node's clients, and marks what Redis confirmed. Events a spotcast node wrote
 * stay with that node's dispatcher; the sweeper remains the safety net for both.
 */
export class ExternalEventRelay {
  private running: Promise<void> | undefined;
  private again = false;
  private stopped = false;
  readonly stats = { passes: 0, relayed: 0 };

  constructor(private readonly opts: RelayOptions) {}

  /**
   * A notification came (or the listener reconnected, or Redis returned): run a pass now, or right
   * after the one running, whose snapshot may predate the commit that woke us.
   */
  wake(): void {
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = this.loop().finally(() => {
      this.running = undefined;
    });
  }

  /** Resolves when no pass is running or queued. */
  async idle(): Promise<void> {
    while (this.running) await this.running;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.idle();
  }

  private async loop(): Promise<void> {
    do {
      this.again = false;
      try {
        while ((await this.pass()) === (this.opts.batch ?? 500) && !this.stopped);
      } catch (err) {
        // Left for the next notification, or for the sweeper.
        this.opts.logger.warn({ err }, 'relaying events written outside spotcast failed; the sweeper will send them');
      }
    } while (this.again && !this.stopped);
  }

  /** One batch; returns how many events it claimed. */
  private async pass(): Promise<number> {
    // Unhealthy: nothing could be confirmed. The resync and the sweeper deliver once Redis is back.
    if (this.opts.link?.healthy() === false) return 0;
    const events = await this.opts.db.asSystem(async (tx) => {
      // Another node's pass holds it: that node got the same notification and runs again after.
      const lock = await tx.query<{ ok: boolean }>('select pg_try_advisory_xact_lock($1) as ok', [RELAY_LOCK]);
      if (!lock.rows[0]?.ok) return [];
      const { rows: raw } = await tx.query(
        `select id, stream, seq, event, rooms, payload from public.event_log
          where dispatched_at is null and origin is null
          order by id limit $1 for update skip locked`,
        [this.opts.batch ?? 500],
      );
      if (raw.length === 0) return [];
      const rows = toLoggedEvents(raw);
      const confirmed = await this.opts.dispatcher.emitConfirmed(rows);
      await tx.query('update public.event_log set dispatched_at = now() where id = any($1::bigint[])', [confirmed]);
      return rows;
    });
    this.stats.passes++;
    this.stats.relayed += events.length;
    if (events.length > 0) this.opts.onRelayed?.(events);
    return events.length;
  }
}

import type { Db } from '../platform/db/db.js';
import type { Logger } from '../platform/logger.js';
import type { DeliveryLink } from '../platform/redis-link.js';
import type { EventDispatcher } from './dispatcher.js';
import { toLoggedEvents } from './logged-event.js';

export interface SweeperOptions {
  db: Db;
  dispatcher: EventDispatcher;
  logger: Logger;
  intervalMs: number;
  /** Events younger than this are left to the node that committed them. */
  graceMs: number;
  batch?: number;
  /** The way to the other nodes (Redis); absent with one node. */
  link?: DeliveryLink | undefined;
  onRedelivered?: (count: number) => void;
}

// One advisory lock key for the whole cluster: one node sweeps at a time.
const SWEEP_LOCK = 7_204_911_001;

/**
 * Re-emits events that were committed but never marked dispatched (their node died between
 * commit and emit, lost its database connection before marking, or could not get them to Redis).
 * Emits inside the claiming transaction and marks in it what Redis confirmed, so a sweeper that
 * dies mid-way leaves the events for the next. While this node's link to Redis is down it sweeps
 * nothing: what it sent could not be confirmed, and would only be repeated to its own clients on
 * every pass; another node, or this one once Redis answers, sends them.
 */
export class OutboxSweeper {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<number> | undefined;
  readonly stats = { sweeps: 0, redelivered: 0 };

  constructor(private readonly opts: SweeperOptions) {}

  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => void this.sweep().catch(() => undefined), this.opts.intervalMs);
    this.timer.unref();
  }

  /** One pass; returns how many events it re-emitted. */
  sweep(): Promise<number> {
    this.running ??= this.pass().finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.running?.catch(() => undefined);
  }

  private async pass(): Promise<number> {
    if (this.opts.link?.healthy() === false) return 0;
    try {
      const count = await this.opts.db.asSystem(async (tx) => {
        const lock = await tx.query<{ ok: boolean }>('select pg_try_advisory_xact_lock($1) as ok', [SWEEP_LOCK]);
        if (!lock.rows[0]?.ok) return 0;
        const { rows: raw } = await tx.query(
          `select id, stream, seq, event, rooms, payload, created_at
             from public.event_log
            where dispatched_at is null and created_at < now() - make_interval(secs => $1::double precision / 1000)
            order by id limit $2 for update skip locked`,
          [this.opts.graceMs, this.opts.batch ?? 500],
        );
        if (raw.length === 0) return 0;
        const rows = toLoggedEvents(raw);
        const confirmed = await this.opts.dispatcher.emitConfirmed(rows);
        await tx.query('update public.event_log set dispatched_at = now() where id = any($1::bigint[])', [confirmed]);
        return rows.length;
      });
      this.stats.sweeps++;
      if (count > 0) {
        this.stats.redelivered += count;
        this.opts.onRedelivered?.(count);
        this.opts.logger.warn({ count }, 'sweeper re-emitted events left undispatched');
      }
      return count;
    } catch (err) {
      this.opts.logger.warn({ err }, 'outbox sweep failed; will retry');
      throw err;
    }
  }
}

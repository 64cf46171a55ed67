import type { Db } from '../db/db.js';
import type { Logger } from '../logger.js';

interface SocketLike {
  id: string;
  data: { principal: { userId: string; role: string; orgId?: string | null }; connectedAt: number; ip?: string };
  handshake: { address: string; headers: Record<string, string | string[] | undefined> };
}

interface ConnectRow { node_id: string; socket_id: string; user_id: string; app_role: string; operator_id: string | null; ip: string; user_agent: string | null; connected_at: string }
interface DisconnectRow { node_id: string; socket_id: string; disconnected_at: string; duration_ms: number; disconnect_reason: string }
interface EventRow { occurred_at: string; node_id: string; socket_id: string; user_id: string; operator_id: string | null; event: string; ok: boolean; error_code: string | null; duration_ms: number }

export interface ActivityLogOptions {
  db: Db;
  logger: Logger;
  nodeId: string;
  enabled: boolean;
  flushIntervalMs: number;
  batchMax: number;
  bufferMax: number;
  onFlush?: (rows: number) => void;
}

/**
 * Connection and client-event logging, off the hot path: entries are buffered in memory and
 * written in one multi-row statement per table per flush (every interval, or sooner when a
 * batch fills). A failed flush keeps the rows for the next try; past `bufferMax` the oldest are
 * dropped and counted, so a database outage cannot grow memory without bound.
 */
export class ActivityLog {
  private connects: ConnectRow[] = [];
  private disconnects: DisconnectRow[] = [];
  private events: EventRow[] = [];
  private timer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> | undefined;
  private dropped = 0;
  private writing = 0;
  readonly stats = { flushes: 0, rowsWritten: 0, lastBatchSize: 0 };

  constructor(private readonly opts: ActivityLogOptions) {
    if (opts.enabled) {
      this.timer = setInterval(() => void this.flush(), opts.flushIntervalMs);
      this.timer.unref();
    }
  }

  connected(socket: SocketLike): void {
    if (!this.opts.enabled) return;
    const ua = socket.handshake.headers['user-agent'];
    this.push(this.connects, {
      node_id: this.opts.nodeId,
      socket_id: socket.id,
      user_id: socket.data.principal.userId,
      app_role: socket.data.principal.role,
      operator_id: socket.data.principal.orgId ?? null,
      ip: socket.data.ip ?? socket.handshake.address,
      user_agent: typeof ua === 'string' ? ua.slice(0, 300) : null,
      connected_at: new Date(socket.data.connectedAt).toISOString(),
    });
  }

  disconnected(socket: SocketLike, reason: string): void {
    if (!this.opts.enabled) return;
    this.push(this.disconnects, {
      node_id: this.opts.nodeId,
      socket_id: socket.id,
      disconnected_at: new Date().toISOString(),
      duration_ms: Date.now() - socket.data.connectedAt,
      disconnect_reason: reason,
    });
  }

  event(socket: SocketLike, event: string, durationMs: number, errorCode?: string): void {
    if (!this.opts.enabled) return;
    this.push(this.events, {
      occurred_at: new Date().toISOString(),
      node_id: this.opts.nodeId,
      socket_id: socket.id,
      user_id: socket.data.principal.userId,
      operator_id: socket.data.principal.orgId ?? null,
      event,
      ok: errorCode === undefined,
      error_code: errorCode ?? null,
      duration_ms: Math.round(durationMs * 100) / 100,
    });
  }

  /** Rows not yet written, including those of a write under way (they return to the buffer if it fails). */
  get pending(): number {
    return this.connects.length + this.disconnects.length + this.events.length + this.writing;
  }

  /** Resolves once everything buffered before the call is written (or the write failed and was kept). */
  async flush(): Promise<void> {
    // A flush already under way took only what was buffered when it started.
    while (this.flushing) await this.flushing;
    if (this.pending === 0) return;
    this.flushing = this.writeAll().finally(() => {
      this.flushing = undefined;
    });
    await this.flushing;
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.flush();
  }

  private push<T>(buffer: T[], row: T): void {
    buffer.push(row);
    if (buffer.length > this.opts.bufferMax) {
      buffer.shift();
      this.dropped++;
      if (this.dropped % 1000 === 1) this.opts.logger.warn({ dropped: this.dropped }, 'activity log buffer full; dropping oldest rows');
    }
    if (buffer.length >= this.opts.batchMax && !this.flushing) void this.flush();
  }

  private async writeAll(): Promise<void> {
    // Connects first: a disconnect updates the row its connect inserted.
    const connects = this.connects.splice(0);
    const disconnects = this.disconnects.splice(0);
    const events = this.events.splice(0);
    const size = connects.length + disconnects.length + events.length;
    if (size === 0) return;
    this.writing = size;
    try {
      await this.opts.db.asSystem(async (tx) => {
        if (connects.length) {
          await tx.query(
            `insert into public.realtime_connection_log (node_id, socket_id, user_id, app_role, operator_id, ip, user_agent, connected_at)
             select * from jsonb_to_recordset($1::jsonb) as r(node_id text, socket_id text, user_id uuid, app_role text, operator_id uuid, ip text, user_agent text, connected_at timestamptz)
             on conflict (node_id, socket_id) do nothing`,
            [JSON.stringify(connects)],
          );
        }
        if (disconnects.length) {
          await tx.query(
            `update public.realtime_connection_log c
                set disconnected_at = r.disconnected_at, duration_ms = r.duration_ms, disconnect_reason = r.disconnect_reason
               from jsonb_to_recordset($1::jsonb) as r(node_id text, socket_id text, disconnected_at timestamptz, duration_ms bigint, disconnect_reason text)
              where c.node_id = r.node_id and c.socket_id = r.socket_id`,
            [JSON.stringify(disconnects)],
          );
        }
        if (events.length) {
          await tx.query(
            `insert into public.realtime_event_log (occurred_at, node_id, socket_id, user_id, operator_id, event, ok, error_code, duration_ms)
             select * from jsonb_to_recordset($1::jsonb) as r(occurred_at timestamptz, node_id text, socket_id text, user_id uuid, operator_id uuid, event text, ok boolean, error_code text, duration_ms real)`,
            [JSON.stringify(events)],
          );
        }
      });
      this.writing = 0;
      this.stats.flushes++;
      this.stats.rowsWritten += size;
      this.stats.lastBatchSize = size;
      this.opts.onFlush?.(size);
    } catch (err) {
      this.writing = 0;
      // Put the rows back in front so order is kept; `push` limits will trim if this persists.
      this.connects.unshift(...connects);
      this.disconnects.unshift(...disconnects);
      this.events.unshift(...events);
      for (const buffer of [this.connects, this.disconnects, this.events] as unknown[][]) {
        const excess = buffer.length - this.opts.bufferMax;
        if (excess > 0) {
          buffer.splice(0, excess);
          this.dropped += excess;
        }
      }
      this.opts.logger.warn({ err, pending: this.pending }, 'activity log flush failed; will retry');
    }
  }
}

import type pg from 'pg';
import type { Logger } from '../logger.js';

export interface ListenerOptions {
  /** A new, unconnected client for each (re)connection (Db.dedicatedClient). */
  client: () => pg.Client;
  channel: string;
  logger: Logger;
  /** A notification arrived on the channel. */
  onNotify: () => void;
  /**
   * LISTEN is in place, after the first connection and after every reconnection. Notifications
   * sent while no session listened are lost for good: this is where to look for what they were.
   */
  onListening: () => void;
  /** Reconnection backoff, doubling from min to max. */
  retryMinMs?: number;
  retryMaxMs?: number;
  /** How often the idle session is checked with a query: a half-open TCP connection says nothing. */
  heartbeatMs?: number;
}

/** LISTEN/NOTIFY channel names are identifiers: checked, never quoted from input. */
const CHANNEL = /^[a-z_][a-z0-9_]{0,62}$/;

/**
 * One Postgres session that LISTENs on a channel, outside the pool (a pooled connection goes back
 * and forth between transactions; LISTEN needs a session that stays). A lost session is replaced
 * with backoff, LISTEN issued again, and `onListening` called, for as long as the listener runs.
 */
export class PgListener {
  /** The session being set up or listening; failures of any other are stale and ignored. */
  private current: pg.Client | undefined;
  private client: pg.Client | undefined;
  private stopped = false;
  private retryTimer: NodeJS.Timeout | undefined;
  private heartbeat: NodeJS.Timeout | undefined;
  private failures = 0;
  readonly stats = { connects: 0, notifications: 0 };

  constructor(private readonly opts: ListenerOptions) {
    if (!CHANNEL.test(opts.channel)) throw new Error(`not a channel name: ${opts.channel}`);
  }

  /** Connects and LISTENs; resolves after the first attempt, whether it worked or is being retried. */
  async start(): Promise<void> {
    await this.connect();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.retryTimer);
    clearInterval(this.heartbeat);
    const client = this.current;
    this.current = undefined;
    this.client = undefined;
    await client?.end().catch(() => undefined);
  }

  /** True while a session listens. */
  get listening(): boolean {
    return this.client !== undefined;
  }

  private async connect(): Promise<void> {
    if (this.stopped) return;
    const client = this.opts.client();
    this.current = client;
    client.on('error', (err) => this.lost(client, err));
    client.on('end', () => this.lost(client, new Error('connection ended')));
    client.on('notification', (n) => {
      if (n.channel !== this.opts.channel) return;
      this.stats.notifications++;
      this.opts.onNotify();
    });
    try {
      await client.connect();
      await client.query(`listen ${this.opts.channel}`);
    } catch (err) {
      this.lost(client, err);
      return;
    }
    // Stopped, or the session failed during the set-up (a retry is then under way).
    if (this.current !== client) return;
    this.client = client;
    this.stats.connects++;
    if (this.failures > 0) this.opts.logger.info({ channel: this.opts.channel }, 'listening again for database notifications');
    this.failures = 0;
    this.heartbeat = setInterval(() => {
      client.query('select 1').catch((err: unknown) => this.lost(client, err));
    }, this.opts.heartbeatMs ?? 15_000);
    this.heartbeat.unref();
    this.opts.onListening();
  }

  /** Called by every failure of a client; only the first for the current client counts. */
  private lost(client: pg.Client, err: unknown): void {
    if (this.current !== client || this.stopped) return;
    this.current = undefined;
    this.client = undefined;
    clearInterval(this.heartbeat);
    client.removeAllListeners('notification');
    client.on('error', () => undefined);
    client.end().catch(() => undefined);
    const delay = Math.min((this.opts.retryMinMs ?? 200) * 2 ** this.failures, this.opts.retryMaxMs ?? 5000);
    if (this.failures === 0) {
      this.opts.logger.warn({ err: err instanceof Error ? err.message : String(err), channel: this.opts.channel }, 'lost the database session listening for notifications; reconnecting');
    }
    this.failures++;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      void this.connect();
    }, delay);
    this.retryTimer.unref();
  }
}

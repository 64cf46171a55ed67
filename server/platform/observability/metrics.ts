import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';

/** Live values read when Prometheus scrapes (set by the composition root once the parts exist). */
export interface MetricSources {
  connectionsByRole?: () => Record<string, number>;
  outboxLagSeconds?: () => Promise<number>;
  queueDepth?: () => Promise<number>;
  /** The request pool's connections: all, idle, and requests waiting for one. */
  pool?: () => { total: number; idle: number; waiting: number };
  /** Each readiness check's last result (cached as GET /health/ready caches it). */
  readiness?: () => Promise<Record<string, boolean>>;
}

/** What this process runs: the package version and the commit it was built from. */
export interface BuildInfo {
  version: string;
  commit: string;
}

/** Anything that reports failures as 'error' events, as ioredis clients do. */
interface ErrorEmitter {
  on(event: 'error', listener: (err: Error) => void): unknown;
}

const SECONDS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5];
/** Commit to emit: milliseconds when live, seconds when the sweeper re-delivers. */
const DELIVERY_SECONDS = [0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

/**
 * The server's Prometheus metrics, in a registry of its own (one per application, so several
 * servers in one process, as in tests, never mix). Every series carries the node id.
 */
export class Metrics {
  readonly registry = new Registry();
  private sources: MetricSources = {};

  readonly eventsIn = new Counter({
    name: 'spotcast_client_events_total',
    help: 'Client events received, by event name and outcome (ok or the error code)',
    labelNames: ['event', 'outcome'] as const,
    registers: [this.registry],
  });
  readonly eventsOut = new Counter({
    name: 'spotcast_emitted_events_total',
    help: 'Events emitted to rooms, by event name',
    labelNames: ['event'] as const,
    registers: [this.registry],
  });
  readonly ackLatency = new Histogram({
    name: 'spotcast_ack_latency_seconds',
    help: 'Time from receiving a client event to answering it',
    labelNames: ['event'] as const,
    buckets: SECONDS,
    registers: [this.registry],
  });
  readonly bookingOutcomes = new Counter({
    name: 'spotcast_booking_attempts_total',
    help: 'Booking creation attempts, by outcome (created, replayed, or the error code such as LOT_FULL)',
    labelNames: ['outcome'] as const,
    registers: [this.registry],
  });
  readonly sweeperRedeliveries = new Counter({
    name: 'spotcast_outbox_redelivered_total',
    help: 'Events re-emitted by the outbox sweeper (their node did not mark them dispatched)',
    registers: [this.registry],
  });
  readonly rateLimited = new Counter({
    name: 'spotcast_rate_limited_total',
    help: 'Requests refused by a rate limit, by scope',
    labelNames: ['scope'] as const,
    registers: [this.registry],
  });
  readonly slowConsumerDisconnects = new Counter({
    name: 'spotcast_slow_consumer_disconnects_total',
    help: 'Sockets disconnected because more output was queued for them than SOCKET_MAX_PENDING_BYTES, by transport',
    labelNames: ['transport'] as const,
    registers: [this.registry],
  });
  readonly connectionsRefused = new Counter({
    name: 'spotcast_connections_refused_total',
    help: 'Handshakes and connections refused by a connection limit, by reason (RATE_LIMITED, TOO_MANY_CONNECTIONS, SERVER_BUSY: a session waiting to authenticate closed to make room)',
    labelNames: ['reason'] as const,
    registers: [this.registry],
  });
  readonly activityFlushSize = new Histogram({
    name: 'spotcast_activity_flush_rows',
    help: 'Rows written per activity-log flush',
    buckets: [1, 5, 10, 25, 50, 100, 250, 500, 1000, 5000],
    registers: [this.registry],
  });
  readonly httpRequests = new Counter({
    name: 'spotcast_http_requests_total',
    help: 'HTTP requests, by method, route and status',
    labelNames: ['method', 'route', 'status'] as const,
    registers: [this.registry],
  });
  readonly deliveryLatency = new Histogram({
    name: 'spotcast_delivery_latency_seconds',
    help: "Time from a logged event's commit (its event_log time, on the database's clock) to its emit to the rooms, live or by the sweeper",
    labelNames: ['event'] as const,
    buckets: DELIVERY_SECONDS,
    registers: [this.registry],
  });
  readonly replays = new Counter({
    name: 'spotcast_replays_total',
    help: 'Rooms a reconnecting client resumed with last_seq, by outcome: replayed from the event log, or a snapshot (the gap was too old or too long)',
    labelNames: ['outcome'] as const,
    registers: [this.registry],
  });
  readonly replayedEvents = new Counter({
    name: 'spotcast_replayed_events_total',
    help: 'Events sent again from the event log to reconnecting clients',
    registers: [this.registry],
  });
  readonly redisErrors = new Counter({
    name: 'spotcast_redis_errors_total',
    help: 'Errors reported by the Redis connections (Socket.IO adapter pub/sub, BullMQ), by client',
    labelNames: ['client'] as const,
    registers: [this.registry],
  });
  readonly tokenExpiryDisconnects = new Counter({
    name: 'spotcast_token_expiry_disconnects_total',
    help: "Sockets disconnected because their token expired before the client sent refresh_token",
    registers: [this.registry],
  });

  constructor(nodeId: string, build: BuildInfo = { version: 'unknown', commit: 'unknown' }) {
    this.registry.setDefaultLabels({ node: nodeId });
    collectDefaultMetrics({ register: this.registry, prefix: 'spotcast_' });
    // Every label value known in advance has a series from the start, so rate() sees its first increase.
    for (const outcome of ['replayed', 'snapshot']) this.replays.inc({ outcome }, 0);
    this.tokenExpiryDisconnects.inc(0);
    this.replayedEvents.inc(0);
    new Gauge({
      name: 'spotcast_build_info',
      help: 'Always 1: the version and commit this node runs',
      labelNames: ['version', 'commit'] as const,
      registers: [this.registry],
    }).set({ version: build.version, commit: build.commit }, 1);
    const sources = () => this.sources;
    new Gauge({
      name: 'spotcast_connections',
      help: 'Sockets connected to this node, by application role',
      labelNames: ['role'] as const,
      registers: [this.registry],
      collect() {
        this.reset();
        for (const [role, n] of Object.entries(sources().connectionsByRole?.() ?? {})) this.set({ role }, n);
      },
    });
    new Gauge({
      name: 'spotcast_outbox_lag_seconds',
      help: 'Age of the oldest event committed but not yet marked dispatched (0 when none)',
      registers: [this.registry],
      async collect() {
        const read = sources().outboxLagSeconds;
        if (read) this.set(await read().catch(() => Number.NaN));
      },
    });
    new Gauge({
      name: 'spotcast_job_queue_depth',
      help: 'Booking jobs waiting, delayed or running',
      registers: [this.registry],
      async collect() {
        const read = sources().queueDepth;
        if (read) this.set(await read().catch(() => Number.NaN));
      },
    });
    this.registerHealthGauges();
  }

  /** Gauges read at scrape from the request pool and the readiness checks. */
  private registerHealthGauges(): void {
    const sources = () => this.sources;
    new Gauge({
      name: 'spotcast_db_pool_connections',
      help: "The request pool's Postgres connections: total open, idle, and requests waiting for one (waiting > 0: the pool is saturated)",
      labelNames: ['state'] as const,
      registers: [this.registry],
      collect() {
        const pool = sources().pool?.();
        if (pool) for (const state of ['total', 'idle', 'waiting'] as const) this.set({ state }, pool[state]);
      },
    });
    new Gauge({
      name: 'spotcast_readiness',
      help: 'Each readiness check of GET /health/ready: 1 passing, 0 failing',
      labelNames: ['check'] as const,
      registers: [this.registry],
      async collect() {
        const read = sources().readiness;
        if (!read) return;
        const checks = await read().catch(() => ({}));
        this.reset();
        for (const [check, ok] of Object.entries(checks)) this.set({ check }, ok ? 1 : 0);
      },
    });
  }

  bind(sources: MetricSources): void {
    this.sources = { ...this.sources, ...sources };
  }

  /** An event emitted to its rooms; `committedAt` is its event_log time when the row carried one. */
  observeDelivery(event: string, committedAt: string | undefined): void {
    const at = committedAt === undefined ? Number.NaN : Date.parse(committedAt);
    // Clocks of the database and this node may disagree by a little: never a negative latency.
    if (Number.isFinite(at)) this.deliveryLatency.observe({ event }, Math.max(0, Date.now() - at) / 1000);
  }

  /** A room resumed with last_seq: replayed from the log or sent as a snapshot (its events count in replayedEvents as they are sent). */
  observeReplay(replay: { snapshot: boolean }): void {
    this.replays.inc({ outcome: replay.snapshot ? 'snapshot' : 'replayed' });
  }

  /** Counts the 'error' events of each named Redis connection. */
  watchRedisErrors(clients: Record<string, ErrorEmitter>): void {
    for (const [client, emitter] of Object.entries(clients)) {
      this.redisErrors.inc({ client }, 0);
      emitter.on('error', () => this.redisErrors.inc({ client }));
    }
  }
}

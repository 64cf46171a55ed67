import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';

/** Live values read when Prometheus scrapes (set by the composition root once the parts exist). */
export interface MetricSources {
  connectionsByRole?: () => Record<string, number>;
  outboxLagSeconds?: () => Promise<number>;
  queueDepth?: () => Promise<number>;
}

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
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
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
  readonly replayedEvents = new Counter({
    name: 'spotcast_replayed_events_total',
    help: 'Events sent from the event log to resuming sockets',
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

  constructor(nodeId: string) {
    this.registry.setDefaultLabels({ node: nodeId });
    collectDefaultMetrics({ register: this.registry, prefix: 'spotcast_' });
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
  }

  bind(sources: MetricSources): void {
    this.sources = { ...this.sources, ...sources };
  }
}

import type { Server as HttpServer } from 'node:http';
import type { Express } from 'express';
import type { Redis } from 'ioredis';
import type { Adapter } from 'socket.io-adapter';
import type { Config } from './config.js';
import { createAdminFeature } from './features/admin/index.js';
import { createBookingsFeature } from './features/bookings/index.js';
import { createHistoryFeature } from './features/history/index.js';
import type { BookingJobs } from './features/bookings/jobs.js';
import { demoPayRoutes } from './features/demo/pay.js';
import { demoRoutes } from './features/demo/routes.js';
import { createNotificationsFeature } from './features/notifications/index.js';
import { createParkingFeature } from './features/parking/index.js';
import { createPaymentsFeature } from './features/payments/index.js';
import { createSessionFeature } from './features/session/index.js';
import { createSubscriptionsFeature } from './features/subscriptions/index.js';
import { createWaitlistFeature } from './features/waitlist/index.js';
import { createBroadcaster } from './outbox/broadcaster.js';
import { EventDispatcher } from './outbox/dispatcher.js';
import { createReplayer } from './outbox/replay.js';
import { ExternalEventRelay, EXTERNAL_EVENTS_CHANNEL } from './outbox/relay.js';
import { LocalResync } from './outbox/resync.js';
import { OutboxSweeper } from './outbox/sweeper.js';
import type { TokenVerifier } from './platform/auth/jwt.js';
import type { UserCalls } from './platform/data/calls.js';
import { createPgCalls } from './platform/data/pg-calls.js';
import type { Db } from './platform/db/db.js';
import { PgListener } from './platform/db/listener.js';
import { migrationStatus } from './platform/db/migrate.js';
import { createHealthRouter, createReadiness, type HealthCheck } from './platform/http/health-router.js';
import { createHttpApp } from './platform/http/http-app.js';
import { createMetricsApp, createMetricsRouter } from './platform/http/metrics-router.js';
import { cleanupLogs } from './platform/jobs/cleanup.js';
import { InProcessScheduler } from './platform/jobs/in-process-scheduler.js';
import { PeriodicWork } from './platform/jobs/periodic.js';
import type { Scheduler } from './platform/jobs/scheduler.js';
import { createRateLimits } from './platform/limits/rate-limits.js';
import type { Logger } from './platform/logger.js';
import type { DeliveryLink } from './platform/redis-link.js';
import { ActivityLog } from './platform/observability/activity-log.js';
import { Metrics } from './platform/observability/metrics.js';
import { fromPackageRoot, PACKAGE_VERSION } from './platform/package-root.js';
import { createIo, handleConnections, type IoOptions } from './platform/socket/io.js';
import { closeSockets, trackConnections } from './platform/socket/shutdown.js';
import type { IoServer } from './platform/socket/types.js';

const PUBLIC_DIR = fromPackageRoot('public');

export interface AppDeps {
  config: Config;
  db: Db;
  logger: Logger;
  verifier: TokenVerifier;
  /** A Socket.IO adapter constructor (the Redis adapter for several nodes); in-memory when absent. */
  adapter?: ((nsp: unknown) => Adapter) | undefined;
  /** With the Redis adapter: whether its publishes got through, and when its subscription was interrupted. */
  link?: DeliveryLink | undefined;
  /** How a caller's requests reach the database: directly (default) or Supabase's HTTP API. */
  calls?: UserCalls | undefined;
  /** A Redis client for cluster-wide rate limits; in-memory limits when absent. */
  redis?: Redis | undefined;
  /** Where booking jobs run: BullMQ with Redis; in this process when absent. */
  scheduler?: Scheduler | undefined;
  /** Extra readiness checks (e.g. Redis) beyond the database. */
  readinessChecks?: Record<string, HealthCheck> | undefined;
  /** Development only: tokens the demo page may pick up (never set in production). */
  demoTokens?: { user: string; admin: string } | undefined;
}

export interface Application {
  io: IoServer;
  http: Express;
  /** GET /metrics alone, for a listener of its own (METRICS_PORT); absent when /metrics is served by `http`. */
  metricsHttp?: Express | undefined;
  activity: ActivityLog;
  metrics: Metrics;
  /** Booking transitions (tests drive them directly). */
  bookingJobs: BookingJobs;
  dispatcher: EventDispatcher;
  sweeper: OutboxSweeper;
  /** Announces events written outside spotcast when Postgres notifies. */
  relay: ExternalEventRelay;
  scheduler: Scheduler;
  /** Starts background work (jobs, outbox sweeper, the database listener). */
  start(): Promise<void>;
  /** Stops in order: background work, sockets (and the port), then flushes marks and logs. Idempotent. */
  stop(): Promise<void>;
}

/** The composition root: builds the parts from what it is given and wires them. Creates no clients. */
export function createApplication(httpServer: HttpServer, deps: AppDeps): Application {
  const { config, db, logger, verifier } = deps;
  const metrics = new Metrics(config.nodeId, { version: PACKAGE_VERSION, commit: config.buildCommit });
  const limits = createRateLimits({ limits: config.limits, keyPrefix: `${config.jobs.prefix}:rl`, metrics, redis: deps.redis });
  const activity = new ActivityLog({
    db,
    logger: logger.child({ component: 'activity' }),
    nodeId: config.nodeId,
    ...config.activity,
    onFlush: (rows) => metrics.activityFlushSize.observe(rows),
  });

  const ioOptions: IoOptions = {
    verifier,
    logger,
    activity,
    nodeId: config.nodeId,
    corsOrigins: config.corsOrigins,
    trustProxy: config.trustProxy,
    limits,
    metrics,
    sockets: config.sockets,
  };
  const connections = trackConnections(httpServer);
  // Socket.IO hands to the 'request' listeners that exist when it attaches only what is not its
  // own; a listener added later sees /socket.io/ requests too and answers them a second time.
  let httpApp: Express | undefined;
  httpServer.on('request', (req, res) => httpApp?.(req, res));
  const io = createIo(httpServer, ioOptions);
  if (deps.adapter) io.adapter(deps.adapter as never);

  const broadcaster = createBroadcaster(io);
  const link = deps.link;
  const dispatcher = new EventDispatcher({ io, db, link, logger: logger.child({ component: 'dispatcher' }), onEmit: (e) => {
    metrics.eventsOut.inc({ event: e.event });
    metrics.observeDelivery(e.event, e.created_at);
  } });
  const sweeper = new OutboxSweeper({
    db,
    dispatcher,
    link,
    logger: logger.child({ component: 'sweeper' }),
    intervalMs: config.outbox.sweepIntervalMs,
    graceMs: config.outbox.graceMs,
    onRedelivered: (n) => metrics.sweeperRedeliveries.inc(n),
  });
  const scheduler = deps.scheduler ?? new InProcessScheduler({ logger: logger.child({ component: 'jobs' }) });
  const periodic = new PeriodicWork({ ...config.jobs, logger: logger.child({ component: 'jobs' }) });
  const calls = deps.calls ?? createPgCalls(db);

  const bookings = createBookingsFeature({
    db,
    calls,
    dispatcher,
    scheduler,
    limits,
    metrics,
    logger,
    beforeEmit: config.faultInjection === 'exit-after-commit' ? (events) => events.length > 0 && process.kill(process.pid, 'SIGKILL') : undefined,
  });
  const payments = createPaymentsFeature({ db, afterCommit: bookings.afterCommit, secret: config.payments.webhookSecret, toleranceSeconds: config.payments.toleranceSeconds, logger });
  const relay = new ExternalEventRelay({
    db,
    dispatcher,
    link,
    logger: logger.child({ component: 'relay' }),
    // A booking made or changed outside spotcast gets its timed transitions planned like one made here.
    onRelayed: (events) => {
      for (const e of events) if (e.event === 'booking_updated') void bookings.afterCommit({ booking: e.payload.booking });
    },
  });
  const listener = new PgListener({
    client: () => db.dedicatedClient('listener'),
    channel: EXTERNAL_EVENTS_CHANNEL,
    logger: logger.child({ component: 'listener' }),
    onNotify: () => relay.wake(),
    // Notifications sent while no session listened are lost: look for what they announced.
    onListening: () => relay.wake(),
  });
  const resync = new LocalResync({ io, db, logger: logger.child({ component: 'resync' }) });
  link?.onResubscribed((downSince) => {
    void resync
      .run(downSince)
      .catch((err: unknown) => logger.warn({ err }, 're-emitting after a Redis interruption failed; clients catch up with last_seq'))
      .finally(() => relay.wake());
  });
  const parking = createParkingFeature({ calls, dispatcher });
  const waitlist = createWaitlistFeature({ db, calls, limits, afterCommit: bookings.afterCommit });
  const admin = createAdminFeature({ calls, io, broadcaster, logger });
  const history = createHistoryFeature({ calls, dispatcher });
  const session = createSessionFeature({ io, verifier, nodeId: config.nodeId, logger, metrics });
  const notifications = createNotificationsFeature({ calls });
  const replayer = createReplayer({
    calls,
    maxEvents: config.outbox.replayMaxEvents,
    limits,
    snapshot: {
      lots: async (principal, lotId) => (await parking.service.availability(principal, lotId)).lots,
      bookings: (principal, userId) => bookings.service.list(principal, { limit: 100, userId }),
    },
    onReplayed: (n) => metrics.replayedEvents.inc(n),
  });
  const subscriptions = createSubscriptionsFeature({ parking: parking.service, replayer });

  const readiness = createReadiness({
    cacheMs: config.health.cacheMs,
    checks: {
      database: async () => {
        await db.probe('select 1');
      },
      migrations: async () => {
        const s = await migrationStatus((sql) => db.probe<{ id: number }>(sql));
        if (!s.current) throw new Error(`database at migration ${s.applied}, code expects ${s.latest}`);
        return s;
      },
      ...deps.readinessChecks,
    },
  });
  const metricsRouter = createMetricsRouter({ metrics, token: config.metrics.token });

  metrics.bind({
    pool: () => ({ total: db.pool.totalCount, idle: db.pool.idleCount, waiting: db.pool.waitingCount }),
    readiness: async () => Object.fromEntries(Object.entries((await readiness()).checks).map(([name, r]) => [name, r.ok])),
    connectionsByRole: () => {
      const counts: Record<string, number> = { user: 0, admin: 0 };
      for (const socket of io.of('/').sockets.values()) counts[socket.data.principal.role] = (counts[socket.data.principal.role] ?? 0) + 1;
      return counts;
    },
    queueDepth: () => scheduler.depth(),
    // On the health checks' connection: a scrape still answers while requests saturate the pool.
    outboxLagSeconds: async () => {
      const { rows } = await db.probe<{ lag: number }>(
        'select coalesce(extract(epoch from now() - min(created_at)), 0)::float8 as lag from public.event_log where dispatched_at is null',
      );
      return rows[0]?.lag ?? 0;
    },
  });

  // The session first: a socket is greeted before any other feature answers it.
  handleConnections(io, ioOptions, [session.socket, subscriptions.socket, parking.socket, bookings.socket, waitlist.socket, admin.socket, history.socket]);

  const http = createHttpApp({
    verifier,
    logger,
    limits,
    metrics,
    corsOrigins: config.corsOrigins,
    trustProxy: config.trustProxy,
    staticDir: PUBLIC_DIR,
    open: {
      ...(deps.demoTokens ? { '/demo': demoRoutes(deps.demoTokens) } : {}),
      ...(config.metrics.port === undefined ? { '/metrics': metricsRouter } : {}),
      '/health': createHealthRouter({ nodeId: config.nodeId, readiness }),
    },
    rawBody: { '/payments': payments.routes },
    authenticated: {
      '/realtime': [parking.routes, session.routes, admin.routes],
      '/bookings': [bookings.routes, history.bookingRoutes],
      '/admin': [history.adminRoutes],
      '/notifications': [notifications.routes],
      '/waitlist': [waitlist.routes],
      '/admin/waitlist': [waitlist.adminRoutes],
      ...(deps.demoTokens && config.env !== 'production' ? { '/demo': [demoPayRoutes({ bookings: bookings.service, webhookSecret: config.payments.webhookSecret })] } : {}),
    },
  });
  httpApp = http;

  const jobHandlers = {
    advance: bookings.jobs.advance,
    sweepDue: bookings.jobs.sweepDue,
    cleanup: () =>
      cleanupLogs({ db, logger, logRetentionDays: config.activity.retentionDays, eventRetentionHours: config.outbox.retentionHours }),
  };

  let stopping: Promise<void> | undefined;
  return {
    io,
    http,
    metricsHttp: config.metrics.port === undefined ? undefined : createMetricsApp(metricsRouter, logger),
    activity,
    metrics,
    bookingJobs: bookings.jobs,
    dispatcher,
    sweeper,
    relay,
    scheduler,
    async start() {
      // is_admin() reads this path when supabase-js calls the functions (no per-transaction setting there).
      await db.statementAsSystem('select public.configure_role_claim($1)', [config.jwt.roleClaimPath.join('.')]);
      await db.statementAsSystem('select public.configure_org_claim($1)', [(config.jwt.orgClaimPath ?? ['app_metadata', 'org_id']).join('.')]);
      await bookings.jobs.configure(config.bookings);
      await waitlist.configure(config.waitlist.offerSeconds);
      await scheduler.start(jobHandlers);
      periodic.start(jobHandlers);
      sweeper.start();
      await listener.start();
    },
    stop() {
      stopping ??= (async () => {
        // Stop accepting first (open connections stay until io closes them below).
        if (httpServer.listening) httpServer.close();
        replayer.stop();
        await periodic.stop();
        // BullMQ's worker waits for Redis to close; an outage must not hold up the steps below.
        await Promise.race([scheduler.stop(), new Promise((r) => setTimeout(r, 3000).unref())]);
        await listener.stop();
        await relay.stop();
        await sweeper.stop();
        // Clients reconnect by themselves after a transport close (unlike a server-side
        // disconnect), to another node behind the load balancer; tell them why first.
        dispatcher.emitPending();
        broadcaster.flush();
        io.local.emit('server_shutdown', { message: 'This node is shutting down; reconnecting', reconnect: true, timestamp: new Date().toISOString() });
        // Bounded: connections that do not close by themselves (clients that never read) are cut.
        await closeSockets(io, connections, { shutdownTimeoutMs: config.shutdownTimeoutMs, logger });
        await dispatcher.stop();
        await activity.stop();
      })();
      return stopping;
    },
  };
}

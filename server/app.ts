import type { Server as HttpServer } from 'node:http';
import { fileURLToPath } from 'node:url';
import type { Express } from 'express';
import type { Redis } from 'ioredis';
import type { Adapter } from 'socket.io-adapter';
import { ActivityLog } from './activity/activity-log.js';
import { createAdminService } from './admin/admin-service.js';
import type { TokenVerifier } from './auth/jwt.js';
import { createBookingService, type BookingService } from './bookings/booking-service.js';
import type { Config } from './config.js';
import type { DataCommands } from './data/commands.js';
import { createPgCommands } from './data/pg-commands.js';
import type { Db } from './db/db.js';
import { migrationStatus } from './db/migrate.js';
import { EventDispatcher } from './events/dispatcher.js';
import { OutboxSweeper } from './events/sweeper.js';
import { createBookingsRouter } from './http/bookings-router.js';
import { createHealthRouter, type HealthCheck } from './http/health-router.js';
import { createHttpApp } from './http/http-app.js';
import { createNotificationsRouter } from './http/notifications-router.js';
import { createPaymentsRouter } from './http/payments-router.js';
import { createDemoRouter } from './http/demo-router.js';
import { createRealtimeRouter } from './http/realtime-router.js';
import { cleanupLogs } from './jobs/cleanup.js';
import { InProcessScheduler } from './jobs/in-process-scheduler.js';
import { PeriodicWork } from './jobs/periodic.js';
import type { Scheduler } from './jobs/scheduler.js';
import { createRateLimits } from './limits/rate-limits.js';
import type { Logger } from './logger.js';
import { createMetricsRouter } from './http/metrics-router.js';
import { Metrics } from './observability/metrics.js';
import { createNotificationService } from './notifications/notification-service.js';
import { createParkingService } from './parking/parking-service.js';
import { createBroadcaster } from './realtime/broadcaster.js';
import { createAdminHandlers } from './realtime/handlers/admin-handlers.js';
import { createBookingHandlers } from './realtime/handlers/booking-handlers.js';
import { createParkingHandlers } from './realtime/handlers/parking-handlers.js';
import { createSubscriptionHandlers } from './realtime/handlers/subscription-handlers.js';
import { createIo, handleConnections, type IoOptions } from './realtime/io.js';
import { createStatusService } from './realtime/status-service.js';
import { createTokenLifetime } from './realtime/token-lifetime.js';
import type { IoServer } from './realtime/types.js';

const PUBLIC_DIR = fileURLToPath(new URL('../public', import.meta.url));

export interface AppDeps {
  config: Config;
  db: Db;
  logger: Logger;
  verifier: TokenVerifier;
  /** A Socket.IO adapter constructor (the Redis adapter for several nodes); in-memory when absent. */
  adapter?: (nsp: unknown) => Adapter;
  /** How a caller's commands reach the database: directly (default) or Supabase's HTTP API. */
  commands?: DataCommands;
  /** A Redis client for cluster-wide rate limits; in-memory limits when absent. */
  redis?: Redis;
  /** Where booking jobs run: BullMQ with Redis; in this process when absent. */
  scheduler?: Scheduler;
  /** Extra readiness checks (e.g. Redis) beyond the database. */
  readinessChecks?: Record<string, HealthCheck>;
  /** Development only: tokens the demo page may pick up (never set in production). */
  demoTokens?: { user: string; admin: string };
}

export interface Application {
  io: IoServer;
  http: Express;
  activity: ActivityLog;
  metrics: Metrics;
  bookings: BookingService;
  dispatcher: EventDispatcher;
  sweeper: OutboxSweeper;
  scheduler: Scheduler;
  /** Starts background work (jobs, outbox sweeper). */
  start(): Promise<void>;
  /** Stops in order: background work, sockets (and the port), then flushes marks and logs. Idempotent. */
  stop(): Promise<void>;
}

/** The composition root: builds the parts from what it is given and wires them. Creates no clients. */
export function createApplication(httpServer: HttpServer, deps: AppDeps): Application {
  const { config, db, logger, verifier } = deps;
  const metrics = new Metrics(config.nodeId);
  const limits = createRateLimits({ limits: config.limits, keyPrefix: `${config.jobs.prefix}:rl`, metrics, ...(deps.redis ? { redis: deps.redis } : {}) });
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
  };
  // Socket.IO hands to the 'request' listeners that exist when it attaches only what is not its
  // own; a listener added later sees /socket.io/ requests too and answers them a second time.
  let httpApp: Express | undefined;
  httpServer.on('request', (req, res) => httpApp?.(req, res));
  const io = createIo(httpServer, ioOptions);
  if (deps.adapter) io.adapter(deps.adapter as never);

  const broadcaster = createBroadcaster(io);
  const dispatcher = new EventDispatcher({ io, db, logger: logger.child({ component: 'dispatcher' }), onEmit: (event) => metrics.eventsOut.inc({ event }) });
  const sweeper = new OutboxSweeper({
    db,
    dispatcher,
    logger: logger.child({ component: 'sweeper' }),
    intervalMs: config.outbox.sweepIntervalMs,
    graceMs: config.outbox.graceMs,
    onRedelivered: (n) => metrics.sweeperRedeliveries.inc(n),
  });
  const scheduler = deps.scheduler ?? new InProcessScheduler({ logger: logger.child({ component: 'jobs' }) });
  const periodic = new PeriodicWork({ ...config.jobs, logger: logger.child({ component: 'jobs' }) });
  const commands = deps.commands ?? createPgCommands(db);
  const bookings = createBookingService({
    db,
    commands,
    dispatcher,
    scheduler,
    logger: logger.child({ component: 'bookings' }),
    onOutcome: (outcome) => metrics.bookingOutcomes.inc({ outcome }),
    ...(config.faultInjection === 'exit-after-commit'
      ? { afterCommit: (events) => events.length > 0 && process.kill(process.pid, 'SIGKILL') }
      : {}),
  });
  const parking = createParkingService({ db, commands, dispatcher });
  const admin = createAdminService({ db, io, broadcaster, logger });
  const status = createStatusService({ io, nodeId: config.nodeId, logger });
  const notifications = createNotificationService({ db });

  metrics.bind({
    connectionsByRole: () => {
      const counts: Record<string, number> = { user: 0, admin: 0 };
      for (const socket of io.of('/').sockets.values()) counts[socket.data.principal.role] = (counts[socket.data.principal.role] ?? 0) + 1;
      return counts;
    },
    queueDepth: () => scheduler.depth(),
    outboxLagSeconds: async () => {
      const { rows } = await db.query<{ lag: number }>(
        'select coalesce(extract(epoch from now() - min(created_at)), 0)::float8 as lag from public.event_log where dispatched_at is null',
      );
      return rows[0]?.lag ?? 0;
    },
  });

  handleConnections(io, ioOptions, [
    createTokenLifetime({ verifier }),
    createSubscriptionHandlers({ parking, bookings, db, maxEvents: config.outbox.replayMaxEvents }),
    createParkingHandlers({ parking }),
    createBookingHandlers({ bookings, limits }),
    createAdminHandlers({ admin, parking }),
  ]);

  const http = createHttpApp({
    verifier,
    logger,
    limits,
    metrics,
    corsOrigins: config.corsOrigins,
    trustProxy: config.trustProxy,
    staticDir: PUBLIC_DIR,
    open: {
      ...(deps.demoTokens ? { '/demo': createDemoRouter(deps.demoTokens) } : {}),
      '/metrics': createMetricsRouter({ metrics, ...(config.metricsToken ? { token: config.metricsToken } : {}) }),
      '/health': createHealthRouter({
        nodeId: config.nodeId,
        checks: {
          database: () => db.ping(),
          migrations: async () => {
            const s = await migrationStatus((sql) => db.query<{ id: number }>(sql));
            if (!s.current) throw new Error(`database at migration ${s.applied}, code expects ${s.latest}`);
            return s;
          },
          ...deps.readinessChecks,
        },
      }),
    },
    rawBody: {
      '/payments': createPaymentsRouter({
        bookings,
        secret: config.payments.webhookSecret,
        toleranceSeconds: config.payments.toleranceSeconds,
        logger: logger.child({ component: 'payments' }),
      }),
    },
    authenticated: {
      '/realtime': createRealtimeRouter({ parking, admin, status }),
      '/bookings': createBookingsRouter({ bookings, limits }),
      '/notifications': createNotificationsRouter({ notifications }),
    },
  });
  httpApp = http;

  const jobHandlers = {
    advance: bookings.advance,
    sweepDue: bookings.sweepDue,
    cleanup: () =>
      cleanupLogs({ db, logger, logRetentionDays: config.activity.retentionDays, eventRetentionHours: config.outbox.retentionHours }),
  };

  let stopping: Promise<void> | undefined;
  return {
    io,
    http,
    activity,
    metrics,
    bookings,
    dispatcher,
    sweeper,
    scheduler,
    async start() {
      // is_admin() reads this path when supabase-js calls the functions (no per-transaction setting there).
      await db.statementAsSystem('select public.configure_role_claim($1)', [config.jwt.roleClaimPath.join('.')]);
      await bookings.configure(config.bookings);
      await scheduler.start(jobHandlers);
      periodic.start(jobHandlers);
      sweeper.start();
    },
    stop() {
      stopping ??= (async () => {
        // Stop accepting first (open connections stay until io closes them below).
        if (httpServer.listening) httpServer.close();
        await periodic.stop();
        // BullMQ's worker waits for Redis to close; an outage must not hold up the steps below.
        await Promise.race([scheduler.stop(), new Promise((r) => setTimeout(r, 3000).unref())]);
        await sweeper.stop();
        // Clients reconnect by themselves after a transport close (unlike a server-side
        // disconnect), to another node behind the load balancer; tell them why first.
        dispatcher.emitPending();
        broadcaster.flush();
        io.local.emit('server_shutdown', { message: 'This node is shutting down; reconnecting', reconnect: true, timestamp: new Date().toISOString() });
        await new Promise<void>((resolve) => {
          io.close(() => resolve());
        });
        await dispatcher.stop();
        await activity.stop();
      })();
      return stopping;
    },
  };
}

import type { Server as HttpServer } from 'node:http';
import type { Adapter } from 'socket.io-adapter';
import type { Express } from 'express';
import { ActivityLog } from './activity/activity-log.js';
import { createAdminService } from './admin/admin-service.js';
import type { TokenVerifier } from './auth/jwt.js';
import type { Config } from './config.js';
import type { Db } from './db/db.js';
import { migrationStatus } from './db/migrate.js';
import { createHealthRouter, type HealthCheck } from './http/health-router.js';
import { createHttpApp } from './http/http-app.js';
import { createRealtimeRouter } from './http/realtime-router.js';
import type { Logger } from './logger.js';
import { createParkingService } from './parking/parking-service.js';
import { createBroadcaster } from './realtime/broadcaster.js';
import { createAdminHandlers } from './realtime/handlers/admin-handlers.js';
import { createParkingHandlers } from './realtime/handlers/parking-handlers.js';
import { createSubscriptionHandlers } from './realtime/handlers/subscription-handlers.js';
import { createIo, handleConnections, type IoOptions } from './realtime/io.js';
import { createStatusService } from './realtime/status-service.js';
import type { IoServer } from './realtime/types.js';

export interface AppDeps {
  config: Config;
  db: Db;
  logger: Logger;
  verifier: TokenVerifier;
  /** A Socket.IO adapter constructor (the Redis adapter for several nodes); in-memory when absent. */
  adapter?: (nsp: unknown) => Adapter;
  /** Extra readiness checks (e.g. Redis) beyond the database. */
  readinessChecks?: Record<string, HealthCheck>;
}

export interface Application {
  io: IoServer;
  http: Express;
  activity: ActivityLog;
  /** Stops accepting sockets, flushes logs and closes io. Idempotent. Does not close db or the http server's port owner. */
  stop(): Promise<void>;
}

/** The composition root: builds the parts from what it is given and wires them. Creates no clients. */
export function createApplication(httpServer: HttpServer, deps: AppDeps): Application {
  const { config, db, logger, verifier } = deps;
  const activity = new ActivityLog({ db, logger: logger.child({ component: 'activity' }), nodeId: config.nodeId, ...config.activity });

  const ioOptions: IoOptions = { verifier, logger, activity, nodeId: config.nodeId, corsOrigins: config.corsOrigins };
  const io = createIo(httpServer, ioOptions);
  if (deps.adapter) io.adapter(deps.adapter as never);

  const broadcaster = createBroadcaster(io);
  const parking = createParkingService({ db, broadcaster });
  const admin = createAdminService({ db, io, broadcaster, logger });
  const status = createStatusService({ io, nodeId: config.nodeId, logger });

  handleConnections(io, ioOptions, [
    createSubscriptionHandlers({ parking }),
    createParkingHandlers({ parking }),
    createAdminHandlers({ admin, parking }),
  ]);

  const http = createHttpApp({
    verifier,
    logger,
    corsOrigins: config.corsOrigins,
    open: {
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
    authenticated: { '/realtime': createRealtimeRouter({ parking, admin, status }) },
  });
  httpServer.on('request', http);

  let stopping: Promise<void> | undefined;
  return {
    io,
    http,
    activity,
    stop() {
      stopping ??= (async () => {
        await new Promise<void>((resolve) => {
          io.close(() => resolve());
        });
        await activity.stop();
      })();
      return stopping;
    },
  };
}

import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pino } from 'pino';
import { createApplication, type Application, type AppDeps } from '../../server/app.js';
import { createTokenVerifier } from '../../server/platform/auth/jwt.js';
import type { AppRole } from '../../server/platform/auth/principal.js';
import { mintToken } from '../../server/platform/auth/tokens.js';
import { loadConfig, type Config } from '../../server/config.js';
import { Db } from '../../server/platform/db/db.js';
import { closeAll } from './clients.js';
import { waitUntil } from './measure.js';
import { testEnv } from './global-setup.js';

export const TEST_SECRET = 'test-secret-that-is-long-enough-for-hs256-0123456789';
export const TEST_WEBHOOK_SECRET = 'test-webhook-secret-0123456789';

export interface TestServer {
  url: string;
  port: number;
  config: Config;
  app: Application;
  db: Db;
  httpServer: Server;
  token(userId: string, role?: AppRole, opts?: { expiresInSeconds?: number; orgId?: string }): string;
  stop(): Promise<void>;
}

/** A real server on a free port against the run's database (or `DATABASE_URL` in env), configured as a user would. */
export async function startTestServer(env: Record<string, string> = {}, extra: Partial<AppDeps> = {}): Promise<TestServer> {
  const config = loadConfig({
    NODE_ENV: 'test',
    PORT: '0',
    DATABASE_URL: env.DATABASE_URL ?? testEnv().databaseUrl,
    JWT_SECRET: TEST_SECRET,
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent',
    ACTIVITY_FLUSH_INTERVAL_MS: '100',
    PAYMENT_WEBHOOK_SECRET: TEST_WEBHOOK_SECRET,
    OUTBOX_SWEEP_GRACE_MS: '500',
    // Suites race hundreds of clients from one address; the flood suite sets its own limits.
    RATE_LIMIT_SOCKET_EVENTS: '100000/1',
    RATE_LIMIT_USER_EVENTS: '100000/1',
    RATE_LIMIT_BOOKINGS: '100000/1',
    RATE_LIMIT_HTTP: '100000/1',
    RATE_LIMIT_CONNECTIONS: '100000/1',
    RATE_LIMIT_REPLAY_EVENTS: '1000000/1',
    SOCKET_MAX_PER_USER: '100000',
    BOOKING_MAX_PENDING_PER_USER: '100000',
    ...env,
  });
  const logger = pino({ level: config.log.level });
  // Before anything that would need closing: a key that cannot verify anything stops the start here.
  const verifier = await createTokenVerifier(config.jwt, { logger });
  const databaseUrl = config.database.kind === 'external' ? config.database.url : testEnv().databaseUrl;
  const db = new Db({ url: databaseUrl, poolMax: 10, queryTimeoutMs: config.database.queryTimeoutMs, roleClaimPath: config.jwt.roleClaimPath, orgClaimPath: config.jwt.orgClaimPath, logger, nodeId: config.nodeId });
  const httpServer = createServer();
  const app = createApplication(httpServer, { config, db, logger, verifier, ...extra });
  await new Promise<void>((resolve) => httpServer.listen(0, '127.0.0.1', resolve));
  await app.start();
  const port = (httpServer.address() as AddressInfo).port;
  let stopped: Promise<void> | undefined;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    config,
    app,
    db,
    httpServer,
    token: (userId, role = 'user', opts = {}) => mintToken({ secret: config.jwt.secret ?? TEST_SECRET, userId, appRole: role, ...opts }),
    stop() {
      stopped ??= app.stop().then(() => {
        verifier.close();
        return db.close();
      });
      return stopped;
    },
  };
}

/**
 * One real server for the suite it is called in: started before its tests, the test's sockets
 * closed after each (and gone from the server), stopped after the last. `const server = useTestServer({ BOOKING_HOLD_SECONDS:
 * '1' })`, then `server().url` in the tests.
 */
export function useTestServer(env: Record<string, string> = {}, extra: Partial<AppDeps> = {}): () => TestServer {
  let server: TestServer | undefined;
  before(async () => {
    server = await startTestServer(env, extra);
  });
  afterEach(async () => {
    closeAll();
    // The next test starts with a server that has let go of every socket of this one.
    if (server) await waitUntil(() => server!.app.io.of('/').sockets.size === 0, 5000, 'the server to let go of the sockets');
  });
  after(async () => {
    closeAll();
    await server?.stop();
  });
  return () => {
    if (!server) throw new Error('the test server is not started yet (useTestServer runs in before())');
    return server;
  };
}

import { randomUUID } from 'node:crypto';
import cors from 'cors';
import express, { type Express, type Router } from 'express';
import helmet from 'helmet';
import { requireAuth } from './auth.js';
import type { TokenVerifier } from '../auth/jwt.js';
import { RateLimitedError, type RateLimits } from '../limits/rate-limits.js';
import type { Logger } from '../logger.js';
import type { Metrics } from '../observability/metrics.js';
import { errorHandler, notFoundRoute } from './respond.js';

export interface HttpAppOptions {
  verifier: TokenVerifier;
  logger: Logger;
  limits: RateLimits;
  metrics: Metrics;
  corsOrigins: string[] | '*';
  /** Routers that need a verified caller, by mount path (several features may share one). */
  authenticated: Record<string, Router[]>;
  /** Routers open without a token (health). */
  open: Record<string, Router>;
  /** Routers that read the raw body themselves (signed webhooks), mounted before JSON parsing. */
  rawBody?: Record<string, Router>;
  bodyLimit?: string;
  /** Which proxies' X-Forwarded-For to believe (proxy-addr syntax). */
  trustProxy?: string;
  /** A folder of static files served at / (the live board and admin console). */
  staticDir?: string;
}

export function createHttpApp(opts: HttpAppOptions): Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', opts.trustProxy ?? 'loopback');
  app.use((req, res, next) => {
    // A request id on every log line of the request, echoed to the client for support.
    const given = req.get('x-request-id');
    const id = given && /^[\w.-]{1,100}$/.test(given) ? given : randomUUID();
    res.set('x-request-id', id);
    res.locals.log = opts.logger.child({ reqId: id });
    res.on('finish', () => {
      const route = req.route?.path ? `${req.baseUrl}${String(req.route.path)}` : 'unmatched';
      opts.metrics.httpRequests.inc({ method: req.method, route, status: String(res.statusCode) });
    });
    next();
  });
  const limitBy = (key: (req: express.Request, res: express.Response) => string): express.RequestHandler => (req, res, next) => {
    opts.limits.consume('http', key(req, res)).then(
      () => next(),
      (err: unknown) => {
        if (err instanceof RateLimitedError) res.set('retry-after', String(Math.ceil(err.retryAfterMs / 1000)));
        next(err);
      },
    );
  };
  app.use(
    helmet({
      contentSecurityPolicy: {
        // The page talks to this server only (HTTP and WebSocket); no inline scripts.
        directives: { 'connect-src': ["'self'"], 'img-src': ["'self'", 'data:'] },
      },
    }),
  );
  app.use(cors({ origin: opts.corsOrigins === '*' ? true : opts.corsOrigins, maxAge: 600 }));
  const byIp = limitBy((req) => `ip:${req.ip ?? 'unknown'}`);
  for (const [path, router] of Object.entries(opts.rawBody ?? {})) app.use(path, byIp, router);
  app.use(express.json({ limit: opts.bodyLimit ?? '16kb' }));

  for (const [path, router] of Object.entries(opts.open)) app.use(path, router);
  if (opts.staticDir) app.use(express.static(opts.staticDir, { index: 'index.html', maxAge: '5m' }));
  const auth = requireAuth(opts.verifier);
  const byUser = limitBy((_req, res) => `user:${res.locals.principal?.userId ?? 'anonymous'}`);
  for (const [path, routers] of Object.entries(opts.authenticated)) app.use(path, auth, byUser, ...routers);

  app.use(notFoundRoute);
  app.use(errorHandler(opts.logger));
  return app;
}

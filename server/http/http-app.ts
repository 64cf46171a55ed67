import cors from 'cors';
import express, { type Express, type Router } from 'express';
import helmet from 'helmet';
import { requireAuth } from '../auth/http-auth.js';
import type { TokenVerifier } from '../auth/jwt.js';
import type { Logger } from '../logger.js';
import { errorHandler, notFoundRoute } from './respond.js';

export interface HttpAppOptions {
  verifier: TokenVerifier;
  logger: Logger;
  corsOrigins: string[] | '*';
  /** Routers that need a verified caller, by mount path. */
  authenticated: Record<string, Router>;
  /** Routers open without a token (health). */
  open: Record<string, Router>;
  /** Routers that read the raw body themselves (signed webhooks), mounted before JSON parsing. */
  rawBody?: Record<string, Router>;
  bodyLimit?: string;
  /** A folder of static files served at / (the live board and admin console). */
  staticDir?: string;
}

export function createHttpApp(opts: HttpAppOptions): Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', 'loopback');
  app.use(
    helmet({
      contentSecurityPolicy: {
        // The page talks to this server only (HTTP and WebSocket); no inline scripts.
        directives: { 'connect-src': ["'self'"], 'img-src': ["'self'", 'data:'] },
      },
    }),
  );
  app.use(cors({ origin: opts.corsOrigins === '*' ? true : opts.corsOrigins, maxAge: 600 }));
  for (const [path, router] of Object.entries(opts.rawBody ?? {})) app.use(path, router);
  app.use(express.json({ limit: opts.bodyLimit ?? '16kb' }));

  for (const [path, router] of Object.entries(opts.open)) app.use(path, router);
  if (opts.staticDir) app.use(express.static(opts.staticDir, { index: 'index.html', maxAge: '5m' }));
  const auth = requireAuth(opts.verifier);
  for (const [path, router] of Object.entries(opts.authenticated)) app.use(path, auth, router);

  app.use(notFoundRoute);
  app.use(errorHandler(opts.logger));
  return app;
}

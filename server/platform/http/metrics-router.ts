import { timingSafeEqual } from 'node:crypto';
import express, { Router, type Express } from 'express';
import { UnauthorizedError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { Metrics } from '../observability/metrics.js';
import { bearerToken } from '../auth/jwt.js';
import { errorHandler, notFoundRoute } from './respond.js';

/** Prometheus scrape endpoint; behind METRICS_TOKEN (Bearer) when one is configured. */
export function createMetricsRouter(deps: { metrics: Metrics; token?: string | undefined }): Router {
  const router = Router();
  router.get('/', async (req, res) => {
    if (deps.token) {
      const given = Buffer.from(bearerToken(req.headers.authorization) ?? '');
      const expected = Buffer.from(deps.token);
      if (given.length !== expected.length || !timingSafeEqual(given, expected)) throw new UnauthorizedError('UNAUTHORIZED', 'Metrics need the METRICS_TOKEN bearer token');
    }
    res.set('content-type', deps.metrics.registry.contentType).send(await deps.metrics.registry.metrics());
  });
  return router;
}

/** GET /metrics and nothing else, for a listener of its own (METRICS_PORT) that only Prometheus reaches. */
export function createMetricsApp(router: Router, logger: Logger): Express {
  const app = express();
  app.disable('x-powered-by');
  app.use('/metrics', router);
  app.use(notFoundRoute);
  app.use(errorHandler(logger));
  return app;
}

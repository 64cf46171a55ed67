import { Router } from 'express';

/**
 * Development default only (embedded database with demo data, not production): hands the demo
 * page the printed demo tokens so it opens logged in. Never mounted otherwise.
 */
export function demoRoutes(tokens: { user: string; admin: string }): Router {
  const router = Router();
  router.get('/tokens', (_req, res) => {
    res.set('cache-control', 'no-store').json({ ok: true, data: tokens });
  });
  return router;
}

import { Router } from 'express';
import { principalOf } from '../../platform/http/auth.js';
import { ok } from '../../platform/http/respond.js';
import type { SessionService } from './service.js';

/** `GET /realtime/connection-status`: the caller's own live sockets across the cluster. */
export function sessionRoutes(session: SessionService): Router {
  const router = Router();
  router.get('/connection-status', async (_req, res) => {
    ok(res, await session.connectionStatus(principalOf(res)));
  });
  return router;
}

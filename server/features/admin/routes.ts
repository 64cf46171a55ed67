import { Router } from 'express';
import { announcementSchema, limitQuerySchema } from '../../contract/index.js';
import { principalOf, requireAdmin } from '../../platform/http/auth.js';
import { ok, parse } from '../../platform/http/respond.js';
import type { AdminService } from './service.js';

/** The admin-only `/realtime` routes of the client contract. */
export function adminRoutes(admin: AdminService): Router {
  const router = Router();
  router.use(['/connections', '/live-stats', '/booking-activity', '/announcement'], requireAdmin);

  router.get('/connections', async (req, res) => {
    const { limit } = parse(limitQuerySchema, req.query);
    ok(res, await admin.connections(principalOf(res), limit));
  });

  router.get('/live-stats', async (_req, res) => {
    ok(res, await admin.liveStats(principalOf(res)));
  });

  router.get('/booking-activity', async (req, res) => {
    const { limit } = parse(limitQuerySchema, req.query);
    ok(res, await admin.bookingActivity(principalOf(res), limit));
  });

  router.post('/announcement', async (req, res) => {
    ok(res, await admin.announce(principalOf(res), parse(announcementSchema, req.body)), 201);
  });

  return router;
}

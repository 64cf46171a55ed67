import { Router } from 'express';
import { bookingParamsSchema, lotParamsSchema, pastAvailabilityQuerySchema, rebuildSchema } from '../../contract/index.js';
import { principalOf, requireAdmin } from '../../platform/http/auth.js';
import { ok, parse } from '../../platform/http/respond.js';
import type { HistoryService } from './service.js';

/** `GET /bookings/:id/history`: mounted beside the booking routes. */
export function bookingHistoryRoutes(history: HistoryService): Router {
  const router = Router();
  router.get('/:id/history', async (req, res) => {
    const { id } = parse(bookingParamsSchema, req.params);
    ok(res, await history.bookingHistory(principalOf(res), id));
  });
  return router;
}

/** `/admin`: a lot's availability at a past instant, and the rebuild of derived state. */
export function historyAdminRoutes(history: HistoryService): Router {
  const router = Router();
  router.use(requireAdmin);

  router.get('/parking-lots/:id/availability', async (req, res) => {
    const { id } = parse(lotParamsSchema, req.params);
    const { at } = parse(pastAvailabilityQuerySchema, req.query);
    ok(res, await history.availabilityAt(principalOf(res), id, at));
  });

  router.post('/rebuild', async (req, res) => {
    ok(res, await history.rebuild(principalOf(res), parse(rebuildSchema, req.body)));
  });

  return router;
}

import { Router } from 'express';
import { z } from 'zod';
import type { AdminService } from './service.js';
import { principalOf, requireAdmin } from '../../platform/auth/http-auth.js';
import type { ParkingService } from '../parking/service.js';
import { announcementSchema, availabilityQuerySchema, setAvailabilitySchema } from '../../contract/contract.js';
import type { StatusService } from '../session/status-service.js';
import { ok, parse } from '../../platform/http/respond.js';

const lotParams = z.object({ id: z.uuid({ message: 'parking lot id must be a uuid' }) });
const limitQuery = z.object({ limit: z.coerce.number().int().min(1).max(1000).default(100) });

/** The /realtime routes of the client contract; all behind requireAuth (mounted by the app). */
export function createRealtimeRouter(deps: { parking: ParkingService; admin: AdminService; status: StatusService }): Router {
  const router = Router();

  router.get('/parking-availability', async (req, res) => {
    const { parking_lot_id } = parse(availabilityQuerySchema, req.query);
    const lots = await deps.parking.availability(principalOf(res), parking_lot_id);
    ok(res, { lots, timestamp: new Date().toISOString() });
  });

  router.get('/connection-status', async (_req, res) => {
    ok(res, await deps.status.connectionStatus(principalOf(res)));
  });

  router.get('/connections', requireAdmin, async (req, res) => {
    const { limit } = parse(limitQuery, req.query);
    ok(res, await deps.admin.connections(principalOf(res), limit));
  });

  router.get('/live-stats', requireAdmin, async (_req, res) => {
    ok(res, await deps.admin.liveStats(principalOf(res)));
  });

  router.get('/booking-activity', requireAdmin, async (req, res) => {
    const { limit } = parse(limitQuery, req.query);
    ok(res, await deps.admin.bookingActivity(principalOf(res), limit));
  });

  router.post('/announcement', requireAdmin, async (req, res) => {
    const input = parse(announcementSchema, req.body);
    ok(res, await deps.admin.announce(principalOf(res), input), 201);
  });

  router.put('/parking-lots/:id/availability', requireAdmin, async (req, res) => {
    const { id } = parse(lotParams, req.params);
    const input = parse(setAvailabilitySchema, req.body);
    ok(res, await deps.parking.setAvailability(principalOf(res), id, input));
  });

  return router;
}

import { Router } from 'express';
import { availabilityQuerySchema, lotParamsSchema, setAvailabilitySchema } from '../../contract/index.js';
import { principalOf, requireAdmin } from '../../platform/http/auth.js';
import { ok, parse } from '../../platform/http/respond.js';
import type { ParkingService } from './service.js';

/** `/realtime` routes of the client contract about lots: read availability (anyone), set it (admins). */
export function parkingRoutes(parking: ParkingService): Router {
  const router = Router();

  router.get('/parking-availability', async (req, res) => {
    const { parking_lot_id } = parse(availabilityQuerySchema, req.query);
    ok(res, await parking.availability(principalOf(res), parking_lot_id));
  });

  router.put('/parking-lots/:id/availability', requireAdmin, async (req, res) => {
    const { id } = parse(lotParamsSchema, req.params);
    const input = parse(setAvailabilitySchema, req.body);
    ok(res, await parking.setAvailability(principalOf(res), id, input));
  });

  return router;
}

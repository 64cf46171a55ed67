import { Router } from 'express';
import { z } from 'zod';
import { principalOf } from '../../platform/auth/http-auth.js';
import type { BookingService } from './service.js';
import { toCreateCommand } from './input.js';
import type { RateLimits } from '../../platform/limits/rate-limits.js';
import { createBookingSchema } from '../../contract/contract.js';
import { ok, parse } from '../../platform/http/respond.js';

const idParams = z.object({ id: z.uuid({ message: 'booking id must be a uuid' }) });
const listQuery = z.object({
  limit: z.coerce.number().int().min(1).max(200).default(50),
  status: z.enum(['pending', 'confirmed', 'active', 'completed', 'cancelled', 'expired']).optional(),
});
const cancelBody = z.object({ reason: z.string().trim().max(500).optional() }).optional();
const idempotencyHeader = z.string().trim().min(1).max(200).optional();

/** REST for bookings: the same service and rules as the socket events. */
export function createBookingsRouter(deps: { bookings: BookingService; limits: RateLimits }): Router {
  const router = Router();

  router.post('/', async (req, res) => {
    const input = parse(createBookingSchema, req.body);
    const headerKey = parse(idempotencyHeader, req.get('idempotency-key'));
    const cmd = toCreateCommand({ ...input, ...(headerKey && !input.idempotency_key ? { idempotency_key: headerKey } : {}) });
    await deps.limits.consume('booking', principalOf(res).userId);
    const result = await deps.bookings.create(principalOf(res), cmd);
    ok(res, result, result.replayed ? 200 : 201);
  });

  router.get('/', async (req, res) => {
    const { limit, status } = parse(listQuery, req.query);
    ok(res, { bookings: await deps.bookings.listOwn(principalOf(res), { limit, ...(status ? { status } : {}) }) });
  });

  router.get('/:id', async (req, res) => {
    const { id } = parse(idParams, req.params);
    ok(res, { booking: await deps.bookings.get(principalOf(res), id) });
  });

  router.post('/:id/cancel', async (req, res) => {
    const { id } = parse(idParams, req.params);
    const body = parse(cancelBody, req.body);
    ok(res, { booking: await deps.bookings.cancel(principalOf(res), id, body?.reason) });
  });

  return router;
}

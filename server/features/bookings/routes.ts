import { Router } from 'express';
import {
  bookingParamsSchema,
  cancelBodySchema,
  createBookingSchema,
  idempotencyHeaderSchema,
  listBookingsQuerySchema,
} from '../../contract/index.js';
import { principalOf } from '../../platform/http/auth.js';
import { ok, parse } from '../../platform/http/respond.js';
import type { BookingService } from './service.js';

/** REST for bookings: the same service and rules as the socket events. */
export function bookingRoutes(bookings: BookingService): Router {
  const router = Router();

  router.post('/', async (req, res) => {
    const input = parse(createBookingSchema, req.body);
    // The Idempotency-Key header is the REST spelling of idempotency_key; the body wins.
    const headerKey = parse(idempotencyHeaderSchema, req.get('idempotency-key'));
    const result = await bookings.create(principalOf(res), { ...input, idempotency_key: input.idempotency_key ?? headerKey });
    ok(res, result, result.replayed ? 200 : 201);
  });

  router.get('/', async (req, res) => {
    const { limit, status } = parse(listBookingsQuerySchema, req.query);
    ok(res, { bookings: await bookings.list(principalOf(res), { limit, status }) });
  });

  router.get('/:id', async (req, res) => {
    const { id } = parse(bookingParamsSchema, req.params);
    ok(res, { booking: await bookings.get(principalOf(res), id) });
  });

  router.post('/:id/cancel', async (req, res) => {
    const { id } = parse(bookingParamsSchema, req.params);
    const body = parse(cancelBodySchema, req.body);
    ok(res, { booking: await bookings.cancel(principalOf(res), id, body?.reason) });
  });

  return router;
}

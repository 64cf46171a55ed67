import express, { Router } from 'express';
import { z } from 'zod';
import { ServiceUnavailableError, ValidationError } from '../../platform/errors.js';
import type { Logger } from '../../platform/logger.js';
import type { PaymentService } from './service.js';
import { SIGNATURE_HEADER, verifySignature } from './signature.js';
import { ok, parse } from '../../platform/http/respond.js';

export const webhookEventSchema = z.object({
  id: z.string().trim().min(1).max(200),
  type: z.enum(['payment.succeeded', 'payment.failed']),
  data: z.object({
    booking_id: z.uuid(),
    payment_id: z.string().trim().min(1).max(200),
    amount_cents: z.number().int().min(0).max(100_000_000),
    currency: z.string().regex(/^[A-Z]{3}$/).default('EUR'),
    failure_reason: z.string().trim().max(500).optional(),
  }),
});

/**
 * The payment provider's webhook. Not behind the JWT: the provider proves itself with the
 * shared-secret signature over the exact raw body, so the body is read raw before any parsing.
 */
export function paymentRoutes(deps: { payments: PaymentService; secret?: string | undefined; toleranceSeconds: number; logger: Logger }): Router {
  const router = Router();
  router.post('/webhook', express.raw({ type: () => true, limit: '64kb' }), async (req, res) => {
    if (!deps.secret) throw new ServiceUnavailableError('Payment webhooks are not configured (PAYMENT_WEBHOOK_SECRET)');
    const body = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
    verifySignature({ secret: deps.secret, header: req.get(SIGNATURE_HEADER), body, toleranceSeconds: deps.toleranceSeconds });
    let json: unknown;
    try {
      json = JSON.parse(body.toString('utf8'));
    } catch {
      throw new ValidationError('Webhook body is not valid JSON');
    }
    const event = parse(webhookEventSchema, json);
    const outcome = await deps.payments.apply({ event_id: event.id, type: event.type, ...event.data });
    deps.logger.info({ eventId: event.id, type: event.type, bookingId: event.data.booking_id, ...outcome }, 'payment webhook applied');
    ok(res, outcome);
  });
  return router;
}

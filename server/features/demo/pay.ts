import { randomUUID } from 'node:crypto';
import type { Request } from 'express';
import { Router } from 'express';
import { z } from 'zod';
import { ConflictError, ServiceUnavailableError } from '../../platform/errors.js';
import { principalOf } from '../../platform/http/auth.js';
import { ok, parse } from '../../platform/http/respond.js';
import type { BookingService } from '../bookings/service.js';
import { SIGNATURE_HEADER, signPayload } from '../payments/signature.js';

const OUTCOMES = ['succeeded', 'failed'] as const;
const payBodySchema = z.object({
  booking_id: z.uuid({ message: 'booking_id must be a uuid' }),
  outcome: z.enum(OUTCOMES).default('succeeded'),
});

/** How long the webhook may take before the demo gives up on it. */
const WEBHOOK_TIMEOUT_MS = 10_000;

/**
 * Development default only, mounted with the demo tokens (never in production): the demo page's
 * "Pay (test)". It pays a pending booking of the caller as the payment provider would, with a
 * webhook signed by the configured secret (as scripts/send-webhook.ts does) POSTed to this
 * server's own /payments/webhook over HTTP, so the real path runs: signature, replay protection,
 * the SQL, and the events that follow (payment_updated, the confirmation, later the activation).
 */
export function demoPayRoutes(deps: { bookings: BookingService; webhookSecret: string | undefined }): Router {
  const router = Router();

  // Lets the page ask whether paying is offered here (a 404 elsewhere).
  router.get('/pay', (_req, res) => ok(res, { outcomes: OUTCOMES }));

  router.post('/pay', async (req, res) => {
    const { booking_id, outcome } = parse(payBodySchema, req.body);
    if (!deps.webhookSecret) throw new ServiceUnavailableError('Payment webhooks are not configured (PAYMENT_WEBHOOK_SECRET)');
    // As the caller, under RLS: another user's booking is not found.
    const booking = await deps.bookings.get(principalOf(res), booking_id);
    if (booking.status !== 'pending') {
      throw new ConflictError('INVALID_TRANSITION', `Only a pending booking can be paid; this one is ${booking.status}`);
    }
    const body = JSON.stringify({
      id: `evt_demo_${randomUUID()}`,
      type: `payment.${outcome}`,
      data: {
        booking_id,
        payment_id: `pay_demo_${randomUUID()}`,
        amount_cents: booking.amount_cents,
        currency: booking.currency,
        ...(outcome === 'failed' ? { failure_reason: 'card_declined (Pay (test) on the demo page)' } : {}),
      },
    });
    const answer = await fetch(`${ownOrigin(req)}/payments/webhook`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', [SIGNATURE_HEADER]: signPayload(deps.webhookSecret, body) },
      body,
      signal: AbortSignal.timeout(WEBHOOK_TIMEOUT_MS),
    });
    res.status(answer.status).json(await answer.json());
  });

  return router;
}

/** This server, at the address the request reached it on: the webhook goes to the very same process. */
function ownOrigin(req: Request): string {
  const address = (req.socket.localAddress ?? '127.0.0.1').replace(/^::ffff:/, '');
  return `http://${address.includes(':') ? `[${address}]` : address}:${req.socket.localPort}`;
}

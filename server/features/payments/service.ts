import type { Db } from '../../platform/db/db.js';
import { callAsSystem } from '../../platform/data/pg-calls.js';
import type { LoggedEvent } from '../../outbox/logged-event.js';
import type { AfterCommit } from '../bookings/follow-ups.js';
import type { Booking } from '../bookings/types.js';

/** A payment provider's event, as the webhook received it (signature already checked). */
export interface PaymentEvent {
  event_id: string;
  type: 'payment.succeeded' | 'payment.failed';
  booking_id: string;
  amount_cents: number;
  currency: string;
  payment_id: string;
  failure_reason?: string | undefined;
}

export interface PaymentOutcome {
  duplicate: boolean;
  payment_id?: string;
  payment_status?: string;
  booking_status?: string;
}

/**
 * Applies a provider's event once (`apply_payment_event` keys on the provider's event id):
 * success confirms a pending booking, failure keeps the hold; the booking's next transitions are
 * planned like any other booking change.
 */
export function createPaymentService(deps: { db: Db; afterCommit: AfterCommit }) {
  return {
    async apply(e: PaymentEvent): Promise<PaymentOutcome> {
      const result = await callAsSystem<PaymentOutcome & { booking?: Booking; events?: LoggedEvent[] }>(
        deps.db,
        'public.apply_payment_event($1, $2, $3, $4, $5, $6, $7)',
        [e.event_id, e.type, e.booking_id, e.amount_cents, e.currency, e.payment_id, e.failure_reason || null],
      );
      if (!result.duplicate) await deps.afterCommit(result);
      const { booking: _b, events: _e, ...outcome } = result;
      return outcome;
    },
  };
}
export type PaymentService = ReturnType<typeof createPaymentService>;

import type { Db } from '../../platform/db/db.js';
import type { Logger } from '../../platform/logger.js';
import type { AfterCommit } from '../bookings/follow-ups.js';
import { paymentRoutes } from './routes.js';
import { createPaymentService } from './service.js';

/** Payments: the provider's signed webhook, applied once, confirming or failing a booking's payment. */
export function createPaymentsFeature(deps: { db: Db; afterCommit: AfterCommit; secret?: string | undefined; toleranceSeconds: number; logger: Logger }) {
  const payments = createPaymentService(deps);
  const logger = deps.logger.child({ component: 'payments' });
  return { service: payments, routes: paymentRoutes({ payments, secret: deps.secret, toleranceSeconds: deps.toleranceSeconds, logger }) };
}

import type { EventDispatcher } from '../../outbox/dispatcher.js';
import type { LoggedEvent } from '../../outbox/logged-event.js';
import type { Db } from '../../platform/db/db.js';
import type { UserCalls } from '../../platform/data/calls.js';
import type { Scheduler } from '../../platform/jobs/scheduler.js';
import type { RateLimits } from '../../platform/limits/rate-limits.js';
import type { Logger } from '../../platform/logger.js';
import type { Metrics } from '../../platform/observability/metrics.js';
import { createAfterCommit } from './follow-ups.js';
import { createBookingJobs } from './jobs.js';
import { bookingRoutes } from './routes.js';
import { createBookingService } from './service.js';
import { bookingSocket } from './socket.js';

export interface BookingsFeatureDeps {
  db: Db;
  calls: UserCalls;
  dispatcher: EventDispatcher;
  scheduler: Scheduler;
  limits: RateLimits;
  metrics: Metrics;
  logger: Logger;
  /** Test-only fault injection: called after commit, before the events are emitted. */
  beforeEmit?: ((events: LoggedEvent[]) => void) | undefined;
}

/** Bookings: the lifecycle's commands (REST and socket), its time-based jobs, and what follows a commit. */
export function createBookingsFeature(deps: BookingsFeatureDeps) {
  const logger = deps.logger.child({ component: 'bookings' });
  const afterCommit = createAfterCommit({ dispatcher: deps.dispatcher, scheduler: deps.scheduler, logger, beforeEmit: deps.beforeEmit });
  const service = createBookingService({
    calls: deps.calls,
    limits: deps.limits,
    afterCommit,
    onOutcome: (outcome) => deps.metrics.bookingOutcomes.inc({ outcome }),
  });
  const jobs = createBookingJobs({ db: deps.db, afterCommit, logger });
  return { service, jobs, afterCommit, socket: bookingSocket(service), routes: bookingRoutes(service) };
}
export type BookingsFeature = ReturnType<typeof createBookingsFeature>;

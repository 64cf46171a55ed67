import type { Db } from '../../platform/db/db.js';
import type { UserCalls } from '../../platform/data/calls.js';
import type { RateLimits } from '../../platform/limits/rate-limits.js';
import type { AfterCommit } from '../bookings/follow-ups.js';
import { adminWaitlistRoutes, waitlistRoutes } from './routes.js';
import { createWaitlistService } from './service.js';
import { waitlistSocket } from './socket.js';

/**
 * The waitlist: joining, leaving, the queue and priorities (REST and socket). Offers need no code
 * here: the database makes them in the transaction that frees space (migrations/014_waitlist.sql),
 * and their events reach clients through the relay, their hold's expiry through the booking jobs.
 */
export function createWaitlistFeature(deps: { db: Db; calls: UserCalls; limits: RateLimits; afterCommit: AfterCommit }) {
  const service = createWaitlistService(deps);
  return {
    service,
    socket: waitlistSocket(service),
    routes: waitlistRoutes(service),
    adminRoutes: adminWaitlistRoutes(service),
    /** Writes the configured offer hold into the database, which enforces it for every path. */
    configure: (offerSeconds: number) => deps.db.statementAsSystem('select public.configure_waitlist($1)', [offerSeconds]),
  };
}
export type WaitlistFeature = ReturnType<typeof createWaitlistFeature>;

import type { EventDispatcher } from '../../outbox/dispatcher.js';
import type { UserCalls } from '../../platform/data/calls.js';
import { parkingRoutes } from './routes.js';
import { createParkingService } from './service.js';
import { parkingSocket } from './socket.js';

/** Parking lots: live availability, and admins' counts and service changes. */
export function createParkingFeature(deps: { calls: UserCalls; dispatcher: EventDispatcher }) {
  const service = createParkingService(deps);
  return { service, socket: parkingSocket(service), routes: parkingRoutes(service) };
}
export type ParkingFeature = ReturnType<typeof createParkingFeature>;

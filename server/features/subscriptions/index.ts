import type { ReplayDeps } from '../../outbox/replay.js';
import type { ParkingService } from '../parking/service.js';
import { subscriptionSocket } from './socket.js';

/** Rooms: who may join which, and catching a resuming client up from the event log. */
export function createSubscriptionsFeature(deps: { parking: ParkingService; replay: ReplayDeps }) {
  return { socket: subscriptionSocket(deps) };
}

import type { Replayer } from '../../outbox/replay.js';
import type { ParkingService } from '../parking/service.js';
import { subscriptionSocket } from './socket.js';

/** Rooms: who may join which, and catching a resuming client up from the event log. */
export function createSubscriptionsFeature(deps: { parking: ParkingService; replayer: Replayer }) {
  return { socket: subscriptionSocket(deps) };
}

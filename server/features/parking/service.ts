import { isUuid, type AvailabilityReply, type LotAvailability, type SetAvailabilityInput } from '../../contract/index.js';
import type { EventDispatcher } from '../../outbox/dispatcher.js';
import type { LoggedEvent } from '../../outbox/logged-event.js';
import type { Principal } from '../../platform/auth/principal.js';
import type { UserCalls } from '../../platform/data/calls.js';
import { NotFoundError } from '../../platform/errors.js';

export interface ParkingService {
  /** One lot (NOT_FOUND when there is none by that id) or all. */
  availability(principal: Principal, lotId?: string | null): Promise<AvailabilityReply>;
  lotExists(principal: Principal, lotId: string): Promise<boolean>;
  setAvailability(principal: Principal, lotId: string, input: SetAvailabilityInput): Promise<LotAvailability>;
}

/** "No such lot", with a hint when the id is not even the shape of a lot id (a frontend written for other ids). */
export function lotNotFound(lotId: string): NotFoundError {
  return new NotFoundError(`Parking lot ${lotId} does not exist${isUuid(lotId) ? '' : ' (lot ids are uuids)'}`);
}

export function createParkingService(deps: { calls: UserCalls; dispatcher: EventDispatcher }): ParkingService {
  const { calls, dispatcher } = deps;

  async function lots(principal: Principal, lotId: string | null): Promise<LotAvailability[]> {
    // Lot ids are uuids; any other id (a frontend written for another backend) names no lot.
    if (lotId !== null && !isUuid(lotId)) return [];
    return (await calls.call(principal, 'lot_availability', { p_lot_id: lotId })) as LotAvailability[];
  }

  return {
    async availability(principal, lotId) {
      const found = await lots(principal, lotId ?? null);
      if (lotId && found.length === 0) throw lotNotFound(lotId);
      return { lots: found, timestamp: new Date().toISOString() };
    },

    lotExists: async (principal, lotId) => (await lots(principal, lotId)).length === 1,

    async setAvailability(principal, lotId, input) {
      if (!isUuid(lotId)) throw lotNotFound(lotId);
      // The change and its parking_updated event commit together; the event is emitted after.
      const result = (await calls.call(principal, 'set_lot_availability', {
        p_lot_id: lotId,
        p_available_spaces: input.available_spaces ?? null,
        p_out_of_service: input.out_of_service ?? null,
        p_is_open: input.is_open ?? null,
        p_reason: input.reason ?? null,
      })) as { lot: LotAvailability; events: LoggedEvent[] };
      dispatcher.dispatch(result.events);
      return result.lot;
    },
  };
}

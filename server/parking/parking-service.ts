import type { Principal } from '../auth/principal.js';
import type { DataCommands } from '../data/commands.js';
import type { Db } from '../db/db.js';
import { NotFoundError } from '../errors.js';
import type { EventDispatcher } from '../events/dispatcher.js';
import type { LotAvailability, SetAvailabilityInput } from '../realtime/contract.js';
import { canonicalLotId } from '../realtime/rooms.js';

export interface ParkingService {
  availability(principal: Principal, lotId?: string): Promise<LotAvailability[]>;
  lotExists(principal: Principal, lotId: string): Promise<boolean>;
  setAvailability(principal: Principal, lotId: string, input: SetAvailabilityInput): Promise<LotAvailability>;
}

export function createParkingService(deps: { db: Db; commands: DataCommands; dispatcher: EventDispatcher }): ParkingService {
  const { db, commands, dispatcher } = deps;
  return {
    async availability(principal, lotId) {
      const lots = await commands.lotAvailability(principal, lotId === undefined ? null : canonicalLotId(lotId));
      if (lotId && lots.length === 0) throw new NotFoundError(`Parking lot ${lotId} does not exist`);
      return lots;
    },

    async lotExists(principal, lotId) {
      if (commands.kind !== 'postgres') return (await commands.lotAvailability(principal, lotId)).length === 1;
      return db.asUser(principal, async (tx) => {
        const { rowCount } = await tx.query('select 1 from public.parking_lots where id = $1', [lotId]);
        return rowCount === 1;
      });
    },

    async setAvailability(principal, lotId, input) {
      // The change and its parking_updated event commit together; the event is emitted after.
      const result = await commands.setLotAvailability(principal, lotId, {
        available_spaces: input.available_spaces ?? null,
        out_of_service: input.out_of_service ?? null,
        is_open: input.is_open ?? null,
        reason: input.reason ?? null,
      });
      dispatcher.dispatch(result.events);
      return result.lot;
    },
  };
}

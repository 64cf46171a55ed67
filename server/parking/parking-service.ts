import type { Principal } from '../auth/principal.js';
import type { Db, Tx } from '../db/db.js';
import { NotFoundError } from '../errors.js';
import type { EventDispatcher } from '../events/dispatcher.js';
import type { LoggedEvent } from '../events/types.js';
import type { LotAvailability, SetAvailabilityInput } from '../realtime/contract.js';

export interface ParkingService {
  availability(principal: Principal, lotId?: string): Promise<LotAvailability[]>;
  lotExists(principal: Principal, lotId: string): Promise<boolean>;
  setAvailability(principal: Principal, lotId: string, input: SetAvailabilityInput): Promise<LotAvailability>;
}

const AVAILABILITY_COLUMNS = `parking_lot_id, name, total_spaces, out_of_service, occupied_unbooked, held,
  available_spaces, is_open, updated_at`;

interface AvailabilityRow extends Omit<LotAvailability, 'updated_at'> {
  updated_at: Date;
}

export function toAvailability(row: AvailabilityRow): LotAvailability {
  return { ...row, updated_at: row.updated_at.toISOString() };
}

export async function queryAvailability(tx: Tx, lotId?: string): Promise<LotAvailability[]> {
  const { rows } = await tx.query<AvailabilityRow>(`select ${AVAILABILITY_COLUMNS} from public.lot_availability($1)`, [lotId ?? null]);
  return rows.map(toAvailability);
}

export function createParkingService(deps: { db: Db; dispatcher: EventDispatcher }): ParkingService {
  const { db, dispatcher } = deps;
  return {
    async availability(principal, lotId) {
      const lots = await db.asUser(principal, (tx) => queryAvailability(tx, lotId));
      if (lotId && lots.length === 0) throw new NotFoundError(`Parking lot ${lotId} does not exist`);
      return lots;
    },

    async lotExists(principal, lotId) {
      return db.asUser(principal, async (tx) => {
        const { rowCount } = await tx.query('select 1 from public.parking_lots where id = $1', [lotId]);
        return rowCount === 1;
      });
    },

    async setAvailability(principal, lotId, input) {
      // The change and its parking_updated event commit together; the event is emitted after.
      const result = await db.asUser(principal, async (tx) => {
        const { rows } = await tx.query<{ r: { lot: AvailabilityRow & { updated_at: string }; events: LoggedEvent[] } }>(
          'select public.set_lot_availability($1, $2, $3, $4, $5) as r',
          [lotId, input.available_spaces ?? null, input.out_of_service ?? null, input.is_open ?? null, input.reason ?? null],
        );
        return rows[0]!.r;
      });
      dispatcher.dispatch(result.events);
      return { ...result.lot, updated_at: new Date(result.lot.updated_at).toISOString() };
    },
  };
}

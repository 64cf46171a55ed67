import type { Principal } from '../auth/principal.js';
import type { Db, Tx } from '../db/db.js';
import type { Booking } from '../../features/bookings/types.js';
import type { LotAvailability } from '../../contract/contract.js';
import { iso, type DataCommands } from './commands.js';

/**
 * Calls one SQL function as the user and returns its jsonb result: the call is its own
 * transaction, sent in one round trip with the user's claims (Db.statementAsUser).
 */
export async function callAsUser<T>(db: Db, principal: Principal, sql: string, values: unknown[]): Promise<T> {
  const { rows } = await db.statementAsUser<{ r: T }>(principal, `select ${sql} as r`, values);
  return rows[0]!.r;
}

/** `callAsUser` on the privileged path, for the server's own transitions (expiry, payments). */
export async function callAsSystem<T>(db: Db, sql: string, values: unknown[]): Promise<T> {
  const { rows } = await db.statementAsSystem<{ r: T }>(`select ${sql} as r`, values);
  return rows[0]!.r;
}

const AVAILABILITY = `parking_lot_id, name, total_spaces, out_of_service, occupied_unbooked, held, available_spaces, is_open, updated_at`;

export function toAvailability(row: LotAvailability | (Omit<LotAvailability, 'updated_at'> & { updated_at: Date | string })): LotAvailability {
  return { ...row, updated_at: iso(row.updated_at) };
}

export async function queryAvailability(tx: Tx, lotId?: string | null): Promise<LotAvailability[]> {
  const { rows } = await tx.query<LotAvailability>(`select ${AVAILABILITY} from public.lot_availability($1)`, [lotId ?? null]);
  return rows.map(toAvailability);
}

/** The direct path: a pooled Postgres connection, the user's claims set per transaction (Db.asUser). */
export function createPgCommands(db: Db): DataCommands {
  return {
    kind: 'postgres',
    createBooking: (principal, p) =>
      callAsUser(db, principal, 'public.create_booking($1, $2, $3, $4, $5, $6)', [
        p.parking_lot_id,
        p.starts_at,
        p.ends_at,
        p.duration_minutes,
        p.idempotency_key,
        p.vehicle_plate,
      ]),
    cancelBooking: (principal, bookingId, reason) => callAsUser(db, principal, 'public.cancel_booking($1, $2)', [bookingId, reason]),
    async setLotAvailability(principal, lotId, p) {
      const r = await callAsUser<{ lot: LotAvailability; events: [] }>(db, principal, 'public.set_lot_availability($1, $2, $3, $4, $5)', [
        lotId,
        p.available_spaces,
        p.out_of_service,
        p.is_open,
        p.reason,
      ]);
      return { lot: toAvailability(r.lot), events: r.events };
    },
    lotAvailability: (principal, lotId) => db.asUser(principal, (tx) => queryAvailability(tx, lotId)),
    getBooking: (principal, bookingId) =>
      db.asUser(principal, async (tx) => {
        const { rows } = await tx.query<{ b: Booking }>('select public.booking_json(b) as b from public.bookings b where b.id = $1', [bookingId]);
        return rows[0]?.b;
      }),
    listBookings: (principal, opts) =>
      db.asUser(principal, async (tx) => {
        const { rows } = await tx.query<{ b: Booking }>(
          `select public.booking_json(b) as b from public.bookings b
            where b.user_id = coalesce($3::uuid, auth.uid()) and ($1::text is null or b.status = $1)
            order by b.created_at desc, b.id limit $2`,
          [opts.status ?? null, opts.limit, opts.userId ?? null],
        );
        return rows.map((r) => r.b);
      }),
  };
}

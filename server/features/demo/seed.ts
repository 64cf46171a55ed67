import type { Db } from '../../platform/db/db.js';
import type { Logger } from '../../platform/logger.js';

/** Fixed ids so that tokens, bookmarks and the smoke check agree across restarts. */
export const DEMO_USER_ID = '11111111-1111-4111-8111-111111111111';
export const DEMO_ADMIN_ID = '22222222-2222-4222-8222-222222222222';

export const DEMO_LOTS = [
  { id: 'a0000000-0000-4000-8000-000000000001', name: 'Central Station Garage', address: '1 Station Square', total_spaces: 120, hourly_rate_cents: 350 },
  { id: 'a0000000-0000-4000-8000-000000000002', name: 'Riverside Lot', address: '14 Quay Street', total_spaces: 40, hourly_rate_cents: 200 },
  { id: 'a0000000-0000-4000-8000-000000000003', name: 'Airport P3', address: 'Terminal Road', total_spaces: 500, hourly_rate_cents: 450 },
  { id: 'a0000000-0000-4000-8000-000000000004', name: 'Old Town Square', address: '2 Market Place', total_spaces: 8, hourly_rate_cents: 300 },
];

/** Inserts the demo lots that are missing; never touches existing rows. */
export async function seedDemoData(db: Db, logger: Logger): Promise<number> {
  const inserted = await db.asSystem(async (tx) => {
    const { rowCount } = await tx.query(
      `insert into public.parking_lots (id, name, address, total_spaces, hourly_rate_cents)
       select * from jsonb_to_recordset($1::jsonb) as r(id uuid, name text, address text, total_spaces int, hourly_rate_cents int)
       on conflict (id) do nothing`,
      [JSON.stringify(DEMO_LOTS)],
    );
    return rowCount ?? 0;
  });
  if (inserted > 0) logger.info({ lots: inserted }, 'seeded demo parking lots');
  return inserted;
}

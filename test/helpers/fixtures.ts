import { randomUUID } from 'node:crypto';
import type { Db } from '../../server/platform/db/db.js';

/** A lot of the test's own, so suites never step on each other's rows. */
export async function createLot(db: Db, opts: { total?: number; name?: string; isOpen?: boolean } = {}): Promise<string> {
  const id = randomUUID();
  await db.asSystem((tx) =>
    tx.query('insert into public.parking_lots (id, name, total_spaces, is_open) values ($1, $2, $3, $4)', [
      id,
      opts.name ?? `Test lot ${id.slice(0, 8)}`,
      opts.total ?? 10,
      opts.isOpen ?? true,
    ]),
  );
  return id;
}

import { randomUUID } from 'node:crypto';
import { signPayload, SIGNATURE_HEADER } from '../../server/features/payments/signature.js';
import type { Db } from '../../server/platform/db/db.js';
import { TEST_WEBHOOK_SECRET } from './server.js';

/** A lot of the test's own, so suites never step on each other's rows. */
export async function createLot(db: Db, opts: { total?: number; name?: string; isOpen?: boolean; operatorId?: string } = {}): Promise<string> {
  const id = randomUUID();
  await db.asSystem((tx) =>
    tx.query('insert into public.parking_lots (id, name, total_spaces, is_open, operator_id) values ($1, $2, $3, $4, coalesce($5, public.new_lot_operator()))', [
      id,
      opts.name ?? `Test lot ${id.slice(0, 8)}`,
      opts.total ?? 10,
      opts.isOpen ?? true,
      opts.operatorId ?? null,
    ]),
  );
  return id;
}

/** An operator of the test's own (multitenancy, migrations/012_operators.sql). */
export async function createOperator(db: Db, name = 'Test operator'): Promise<string> {
  const id = randomUUID();
  await db.asSystem((tx) => tx.query('insert into public.operators (id, name) values ($1, $2)', [id, name]));
  return id;
}

/** Pays a booking as the payment provider would: a signed `payment.succeeded` webhook for its amount. */
export async function payBooking(server: { url: string }, booking: { id: string; amount_cents: number }): Promise<void> {
  const body = JSON.stringify({
    id: `evt_${randomUUID()}`,
    type: 'payment.succeeded',
    data: { booking_id: booking.id, payment_id: `pay_${randomUUID()}`, amount_cents: booking.amount_cents },
  });
  const res = await fetch(`${server.url}/payments/webhook`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', [SIGNATURE_HEADER]: signPayload(TEST_WEBHOOK_SECRET, body) },
    body,
  });
  if (res.status !== 200) throw new Error(`payment webhook answered ${res.status}: ${await res.text()}`);
}

/** The seqs a stream has in the event log, in order. */
export async function loggedSeqs(db: Db, stream: string): Promise<number[]> {
  const { rows } = await db.asSystem((tx) => tx.query<{ seq: number }>('select seq::float8 as seq from public.event_log where stream = $1 order by seq', [stream]));
  return rows.map((r) => r.seq);
}

/**
 * What a signed-in user can read of other people, table by table, as Supabase's Data API would
 * let them (`/rest/v1/<table>?select=…` runs as `authenticated` with their claims). Every table
 * and view in `public` that `authenticated` may read is listed from the catalog, so a new one
 * fails here until it is looked at; each is read in full as one user, and nothing of another user
 * or of an admin may be in it. Lot streams stay readable, without who caused their events.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { adminClaims, bookDirectly, direct, userClaims } from './helpers/direct.js';
import { createLot } from './helpers/fixtures.js';
import { Db } from '../server/platform/db/db.js';
import { pino } from 'pino';
import { testEnv } from './helpers/global-setup.js';

/** What `authenticated` may read, and of whose rows (RLS decides the rows, grants the columns). */
const EXPOSED: Record<string, string> = {
  admin_audit_log: 'admins only',
  booking_history: 'own bookings\' changes (who changed them: like booking_updated on the own stream)',
  bookings: 'own rows',
  event_log: 'lot streams, own stream (no actor, no origin)',
  notifications: 'own rows',
  operators: 'the platform admin all; anyone else only the operator of their org claim',
  parking_lot_history: 'admins only',
  parking_lots: 'every row: public lot data',
  payment_webhook_events: 'admins only',
  payments: 'own rows',
  realtime_connection_log: 'own rows',
  realtime_daily_stats: 'aggregates of own rows',
  realtime_event_log: 'own rows',
  stream_sequences: 'lot streams, own stream',
  waitlist_entries: 'own rows (admins: all)',
};

describe('what a signed-in user can read of others (Data API exposure)', function () {
  this.timeout(30_000);
  const me = randomUUID();
  const other = randomUUID();
  const admin = randomUUID();
  let lot: string;

  before(async () => {
    const db = new Db({ url: testEnv().databaseUrl, poolMax: 2, roleClaimPath: ['app_metadata', 'role'], logger: pino({ level: 'silent' }), nodeId: null });
    try {
      lot = await createLot(db, { total: 10 });
    } finally {
      await db.close();
    }
    // Someone else books and pays, connects (with an address and a browser), and an admin edits
    // the lot and leaves an audit row: every kind of row that could leak.
    const { booking } = await bookDirectly(other, lot);
    await bookDirectly(me, lot);
    await direct(null, async (c) => {
      await c.query(`select public.apply_payment_event($1, 'payment.succeeded', $2, 0, 'EUR', $3)`, [`evt_${randomUUID()}`, booking.id, `pay_${randomUUID()}`]);
      await c.query(
        `insert into public.realtime_connection_log (node_id, socket_id, user_id, app_role, ip, user_agent, connected_at)
         values ('n', $1, $2, 'user', '203.0.113.7', 'Other/1.0', now())`,
        [randomUUID(), other],
      );
      await c.query(`insert into public.realtime_event_log (occurred_at, node_id, user_id, event, ok) values (now(), 'n', $1, 'subscribe', true)`, [other]);
      await c.query(`insert into public.waitlist_entries (user_id, parking_lot_id, starts_at, ends_at) values ($1, $2, now() + interval '1 hour', now() + interval '2 hours')`, [other, lot]);
    });
    await direct(adminClaims(admin), (c) => c.query('select public.set_lot_availability($1, 5)', [lot]));
  });

  const readable = () =>
    direct(null, async (c) => {
      const { rows } = await c.query<{ name: string; columns: string[] }>(`
        select c.relname as name,
               array(select a.attname::text from pg_attribute a
                      where a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped
                        and has_column_privilege('authenticated', c.oid, a.attnum, 'select') order by a.attnum) as columns
          from pg_class c join pg_namespace n on n.oid = c.relnamespace
         where n.nspname = 'public' and c.relkind in ('r', 'p', 'v', 'm', 'f')
           and has_any_column_privilege('authenticated', c.oid, 'select')
         order by 1`);
      return rows;
    });

  it('the tables and views a signed-in user may read are exactly the reviewed ones; no sequence is theirs', async () => {
    assert.deepEqual((await readable()).map((r) => r.name), Object.keys(EXPOSED));
    const { rows } = await direct(null, (c) =>
      c.query(`select c.relname from pg_class c join pg_namespace n on n.oid = c.relnamespace
                where n.nspname = 'public' and case when c.relkind = 'S' then has_sequence_privilege('authenticated', c.oid, 'usage,select,update') else false end`),
    );
    assert.deepEqual(rows, []);
  });

  it('read in full as one user, no table or view holds another user\'s id or the admin\'s', async () => {
    let lotRows = 0;
    for (const { name, columns } of await readable()) {
      const rows = await direct(userClaims(me), async (c) => (await c.query(`select ${columns.map((col) => c.escapeIdentifier(col)).join(', ')} from public.${c.escapeIdentifier(name)}`)).rows);
      const text = JSON.stringify(rows);
      assert.ok(!text.includes(other), `${name} (${EXPOSED[name]}) shows another user's id to a user`);
      assert.ok(!text.includes(admin), `${name} (${EXPOSED[name]}) shows an admin's id to a user`);
      assert.ok(!text.includes('203.0.113.7') && !text.includes('Other/1.0'), `${name} shows another user's address or browser`);
      if (name === 'event_log') lotRows = rows.filter((r) => r.stream === `parking_lot:${lot}`).length;
    }
    // Not vacuous: the lot's stream (both bookings, the admin's edit) is there to read.
    assert.equal(lotRows, 3);
  });

  it('the lot stream\'s events are readable with their availability, and who caused them is not', async () => {
    const rows = await direct(userClaims(me), async (c) =>
      (await c.query(`select seq, event, payload from public.event_log where stream = $1 order by seq`, [`parking_lot:${lot}`])).rows,
    );
    assert.deepEqual(rows.map((r) => [r.payload.action, r.payload.actor_role, 'actor_id' in r.payload]), [
      ['booking_created', 'user', false],
      ['booking_created', 'user', false],
      ['availability_updated', 'admin', false],
    ]);
    for (const sql of ['select actor_id from public.event_log', 'select * from public.event_log', 'select origin from public.event_log']) {
      await assert.rejects(direct(userClaims(me), (c) => c.query(sql)), /permission denied/, sql);
    }
    // An admin reads the actors through booking_activity(), not through the table either.
    await assert.rejects(direct(adminClaims(admin), (c) => c.query('select actor_id from public.event_log')), /permission denied/);
  });
});

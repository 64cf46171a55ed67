/**
 * The facts the SQL and the TypeScript contract both write down — booking and payment statuses,
 * the statuses that hold a space, the time-based transitions, the names of logged events and the
 * room prefixes of streams — read back from the migrated database and held against
 * server/contract/, so that neither can change without the other.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import {
  BOOKING_STATUSES,
  ERROR_CODES,
  BOOKING_TRANSITIONS,
  HOLDING_STATUSES,
  LOGGED_EVENTS,
  PAYMENT_STATUSES,
  ROOM_PREFIX,
  rooms,
} from '../server/contract/index.js';
import { testEnv } from './helpers/global-setup.js';

/** The quoted words of a piece of SQL: `status in ('a', 'b')` → ['a', 'b']. */
const quoted = (sql: string): string[] => [...sql.matchAll(/'([a-z_]+)'/g)].map((m) => m[1]!);
const sorted = (xs: readonly string[]) => [...new Set(xs)].sort();

describe('the SQL and the TypeScript contract agree', () => {
  let client: pg.Client;
  before(async () => {
    client = new pg.Client({ connectionString: testEnv().databaseUrl });
    await client.connect();
  });
  after(() => client.end());

  const checkOf = async (table: string, column: string) => {
    const { rows } = await client.query<{ def: string }>(
      `select pg_get_constraintdef(c.oid) as def from pg_constraint c
        where c.conrelid = $1::regclass and c.contype = 'c' and pg_get_constraintdef(c.oid) like '%' || $2 || '%'`,
      [table, `(${column} = ANY`],
    );
    assert.equal(rows.length, 1, `one check constraint on ${table}.${column}`);
    return quoted(rows[0]!.def);
  };
  const sourceOf = async (fn: string) => {
    const { rows } = await client.query<{ src: string }>(`select prosrc as src from pg_proc where oid = $1::regproc`, [fn]);
    return rows[0]!.src;
  };

  it('booking statuses: the check constraint of bookings.status', async () => {
    assert.deepEqual(sorted(await checkOf('public.bookings', 'status')), sorted(BOOKING_STATUSES));
  });

  it('payment statuses: the check constraint of payments.status', async () => {
    assert.deepEqual(sorted(await checkOf('public.payments', 'status')), sorted(PAYMENT_STATUSES));
  });

  // lot_held_now and lot_peak_holds read the capacity index (015): what it counts is decided by
  // its trigger and by the recount of a bucket's partial windows.
  it('the statuses that hold a space: what the capacity index behind lot_held_now counts', async () => {
    for (const fn of ['public.capacity_index_changes', 'public.capacity_partial_peak', 'public.capacity_partial_sweep']) {
      const lists = [...(await sourceOf(fn)).matchAll(/status in \(([^)]*)\)/g)];
      assert.ok(lists.length > 0, `${fn} filters on a status list`);
      for (const list of lists) assert.deepEqual(sorted(quoted(list[1]!)), sorted(HOLDING_STATUSES), fn);
    }
  });

  it('transitions: advance_booking takes each of the contract’s and refuses any other', async () => {
    for (const transition of BOOKING_TRANSITIONS) {
      const { rows } = await client.query('select public.advance_booking($1, $2) as r', [randomUUID(), transition]);
      assert.equal(rows[0].r, null, `${transition} on no booking does nothing`);
    }
    await assert.rejects(client.query('select public.advance_booking($1, $2)', [randomUUID(), 'teleport']), /Unknown transition/);
    const due = quoted(await sourceOf('public.due_bookings')).filter((w) => !(BOOKING_STATUSES as readonly string[]).includes(w));
    assert.deepEqual(sorted(due).filter((t) => !(BOOKING_TRANSITIONS as readonly string[]).includes(t)), [], 'due_bookings names only known transitions');
  });

  it('logged events: every event name the SQL functions append is one the contract emits', async () => {
    const { rows } = await client.query<{ src: string }>(
      `select p.prosrc as src from pg_proc p join pg_namespace n on n.oid = p.pronamespace
        where n.nspname = 'public' and p.prosrc like '%append_event(%'`,
    );
    const named = rows.flatMap((r) => [...r.src.matchAll(/append_event\(\s*[^,]+,\s*'([a-z_]+)'/g)].map((m) => m[1]!));
    assert.ok(named.length >= 3, `found the appends (${named.join(', ')})`);
    assert.deepEqual(sorted(named).filter((e) => !(LOGGED_EVENTS as readonly string[]).includes(e)), []);
    assert.deepEqual(sorted(LOGGED_EVENTS).filter((e) => !named.includes(e)), [], 'every logged event of the contract is appended somewhere');
  });

  it('stream rooms: the event log’s read policy uses the contract’s room prefixes', async () => {
    const { rows } = await client.query<{ qual: string }>(`select qual from pg_policies where tablename = 'event_log' and cmd = 'SELECT'`);
    const qual = rows.map((r) => r.qual).join(' ');
    // LIKE escapes the underscore: parking\_lot:%
    assert.ok(qual.includes(`'${ROOM_PREFIX.lot.replaceAll('_', '\\_')}%'`), `lot streams (${ROOM_PREFIX.lot}) in ${qual}`);
    assert.ok(qual.includes(`'${ROOM_PREFIX.user}'`), `user streams (${ROOM_PREFIX.user}) in ${qual}`);
  });

  it('every application code a SQL function raises (its HINT) is an error code of the contract', async () => {
    const { rows } = await client.query<{ src: string }>(
      `select p.prosrc as src from pg_proc p join pg_namespace n on n.oid = p.pronamespace
        where n.nspname = 'public' and p.prosrc like '%hint%'`,
    );
    const hints = sorted(rows.flatMap((r) => [...r.src.matchAll(/hint\s*=\s*'([A-Z_]+)'/g)].map((m) => m[1]!)));
    assert.ok(hints.includes('LOT_FULL'), `the functions' hints were read (${hints.join(', ')})`);
    assert.deepEqual(hints.filter((h) => !(ERROR_CODES as readonly string[]).includes(h)), []);
  });

  it('operator admin rooms: the SQL spells them as rooms.operatorAdmin does, in one function', async () => {
    const id = randomUUID();
    const { rows } = await client.query<{ room: string }>('select public.operator_room($1) as room', [id]);
    assert.equal(rows[0]!.room, rooms.operatorAdmin(id));
    assert.ok((await sourceOf('public.operator_room')).includes(`'${ROOM_PREFIX.operatorAdmin}'`));
    // Every other function names the room through operator_room(), never by its prefix.
    const { rows: spelled } = await client.query<{ name: string }>(
      `select p.proname as name from pg_proc p join pg_namespace n on n.oid = p.pronamespace
        where n.nspname = 'public' and p.proname <> 'operator_room' and p.prosrc like '%''' || $1 || '%'`,
      [ROOM_PREFIX.operatorAdmin],
    );
    assert.deepEqual(spelled, []);
    // What goes to the platform's admin room goes to the operator's too.
    assert.ok((await sourceOf('public.with_operator_rooms')).includes(`'${rooms.admin}' = any`));
  });
});

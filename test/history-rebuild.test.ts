/**
 * The rebuild of what spotcast derives from the bookings: the derived state is corrupted on
 * purpose, and the rebuild must report exactly that drift, repair exactly that in one transaction
 * (announcing the lot's availability), and leave everything else as it was. Real Postgres, HTTP
 * and sockets.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { call, connect, newUserId, nextEvent, record } from './helpers/clients.js';
import { direct } from './helpers/direct.js';
import { createLot } from './helpers/fixtures.js';
import { request } from './helpers/http.js';
import { sleep } from './helpers/measure.js';
import { useTestServer } from './helpers/server.js';

const inMinutes = (m: number) => new Date(Date.now() + m * 60_000).toISOString();
const sql = <T = any>(text: string, values: unknown[] = []) => direct(null, async (c) => (await c.query(text, values)).rows as T[]);

describe('rebuild of derived state', () => {
  // Default holds (15 min): holds whose windows start within them have edges, none due during the test.
  const server = useTestServer();
  const admin = () => server().token(newUserId(), 'admin');
  const rebuild = (body: unknown, token = admin()) => request(server(), 'POST', '/admin/rebuild', { token, body });

  /** Everything the rebuild could touch for these lots, as rows. */
  async function state(lots: string[]) {
    return {
      edges: await sql(
        `select h.booking_id, h.transition, h.due_at from public.hold_window_edges h join public.bookings b on b.id = h.booking_id
          where b.parking_lot_id = any($1) order by 1, 2`,
        [lots],
      ),
      heads: await sql(`select stream, last_seq::int from public.stream_sequences where stream = any($1) order by 1`, [lots.map((l) => `parking_lot:${l}`)]),
      bookings: await sql(`select * from public.bookings where parking_lot_id = any($1) order by id`, [lots]),
      lots: await sql(`select * from public.parking_lots where id = any($1) order by id`, [lots]),
      events: await sql(`select id, stream, seq::int, payload from public.event_log where stream = any($1) order by id`, [lots.map((l) => `parking_lot:${l}`)]),
    };
  }

  async function book(lot: string, startsInMinutes: number) {
    const res = await request(server(), 'POST', '/bookings', {
      token: server().token(newUserId()),
      body: { parking_lot_id: lot, starts_at: inMinutes(startsInMinutes), duration_minutes: 2 },
    });
    assert.equal(res.status, 201, JSON.stringify(res.body));
    return res.body.data.booking as { id: string; starts_at: string; ends_at: string };
  }

  it('finds exactly the corrupted rows, repairs exactly them, announces the lot, and leaves the rest unchanged', async () => {
    const x = await createLot(server().db, { total: 5 });
    const y = await createLot(server().db, { total: 5 });
    const b1 = await book(x, 10);
    const b2 = await book(x, 11);
    const b3 = await book(x, 30); // starts after its hold runs out: no edges
    await book(y, 10);
    const clean = await state([x, y]);
    assert.equal(clean.edges.length, 6);
    for (const lot of [x, y]) {
      const res = await rebuild({ parking_lot_id: lot });
      assert.deepEqual([res.status, res.body.data.drift_count, res.body.data.by_lot], [200, 0, {}], `clean lot ${lot}`);
    }

    // The corruption: three edges, the lot's stream head, and what its watchers were last told.
    const head = clean.heads.find((h) => h.stream === `parking_lot:${x}`)!.last_seq;
    await sql(`delete from public.hold_window_edges where booking_id = $1 and transition = 'hold_start'`, [b1.id]);
    await sql(`update public.hold_window_edges set due_at = due_at + interval '1 hour' where booking_id = $1 and transition = 'hold_end'`, [b2.id]);
    await sql(`insert into public.hold_window_edges (booking_id, transition, due_at) values ($1, 'hold_start', $2)`, [b3.id, b3.starts_at]);
    await sql(`update public.stream_sequences set last_seq = last_seq - 1 where stream = $1`, [`parking_lot:${x}`]);
    await sql(
      `update public.event_log set payload = jsonb_set(payload, '{available_spaces}', '99')
        where id = (select max(id) from public.event_log where stream = $1 and event = 'parking_updated')`,
      [`parking_lot:${x}`],
    );
    const corrupted = await state([x, y]);
    const live = (await request(server(), 'GET', `/realtime/parking-availability?parking_lot_id=${x}`, { token: admin() })).body.data.lots[0];

    const expectDrift = (report: any) => {
      const byItem = Object.fromEntries(report.items.map((i: any) => [i.item, i.drift]));
      const edges = [...byItem.hold_window_edges].sort((a: any, b: any) => (a.booking_id + a.transition).localeCompare(b.booking_id + b.transition));
      const iso = (t: string | null) => (t === null ? null : new Date(t).toISOString());
      const expected = [
        { booking_id: b1.id, transition: 'hold_start', kind: 'missing', expected: b1.starts_at, actual: null },
        { booking_id: b2.id, transition: 'hold_end', kind: 'wrong_due_at', expected: b2.ends_at, actual: new Date(Date.parse(b2.ends_at) + 3600_000).toISOString() },
        { booking_id: b3.id, transition: 'hold_start', kind: 'unexpected', expected: null, actual: b3.starts_at },
      ]
        .map((e) => ({ ...e, expected: iso(e.expected), actual: iso(e.actual) }))
        .sort((a, b) => (a.booking_id + a.transition).localeCompare(b.booking_id + b.transition));
      assert.deepEqual(
        edges.map((d: any) => ({ booking_id: d.booking_id, transition: d.transition, kind: d.kind, expected: iso(d.expected_due_at), actual: iso(d.actual_due_at) })),
        expected,
      );
      for (const d of edges) assert.equal(d.parking_lot_id, x);
      assert.deepEqual(byItem.stream_heads, [
        { parking_lot_id: x, stream: `parking_lot:${x}`, kind: 'behind', expected_last_seq: head, actual_last_seq: head - 1 },
      ]);
      assert.equal(byItem.lot_announcements.length, 1);
      assert.equal(byItem.lot_announcements[0].parking_lot_id, x);
      assert.equal(byItem.lot_announcements[0].announced.available_spaces, 99);
      assert.equal(byItem.lot_announcements[0].current.available_spaces, live.available_spaces);
      assert.equal(report.drift_count, 5);
      assert.deepEqual(report.by_lot, { [x]: { hold_window_edges: 3, stream_heads: 1, lot_announcements: 1 } });
    };

    // Reported, lot by lot and for all lots, and nothing changed by reporting.
    const reported = await rebuild({ parking_lot_id: x });
    assert.equal(reported.status, 200);
    assert.equal(reported.body.data.repaired, false);
    expectDrift(reported.body.data);
    assert.equal((await rebuild({ parking_lot_id: y })).body.data.drift_count, 0);
    const all = (await rebuild({})).body.data;
    assert.deepEqual(all.by_lot[x], { hold_window_edges: 3, stream_heads: 1, lot_announcements: 1 });
    assert.equal(all.by_lot[y], undefined);
    assert.deepEqual(await state([x, y]), corrupted);

    // Repaired: the same drift reported, fixed, and the lot's watchers told its availability now.
    const { socket: watchX } = await connect(server().url, server().token(newUserId()));
    const { socket: watchY } = await connect(server().url, server().token(newUserId()));
    assert.equal((await call(watchX, 'subscribe', { room: `parking_lot:${x}` })).ok, true);
    assert.equal((await call(watchY, 'subscribe', { room: `parking_lot:${y}` })).ok, true);
    const strays = record(watchY, 'parking_updated');
    const announced = nextEvent(watchX, 'parking_updated');
    const repaired = await rebuild({ parking_lot_id: x, repair: true });
    assert.equal(repaired.status, 200);
    assert.equal(repaired.body.data.repaired, true);
    expectDrift(repaired.body.data);
    const event = await announced;
    assert.deepEqual([event.action, event.seq, event.available_spaces, event.held], ['rebuilt', head + 1, live.available_spaces, live.held]);

    const after = await state([x, y]);
    assert.deepEqual(after.edges, clean.edges);
    assert.deepEqual(after.bookings, clean.bookings);
    assert.deepEqual(after.lots, clean.lots);
    assert.deepEqual(after.heads, clean.heads.map((h) => (h.stream === `parking_lot:${x}` ? { ...h, last_seq: head + 1 } : h)));
    // The event log gained exactly the announcement; the corrupted old event stays as it was written.
    assert.deepEqual(after.events.slice(0, -1), corrupted.events);
    assert.deepEqual([after.events.at(-1).stream, after.events.at(-1).seq], [`parking_lot:${x}`, head + 1]);
    assert.equal((await rebuild({})).body.data.by_lot[x], undefined);
    await sleep(200);
    assert.deepEqual(strays, []);
  });

  it('takes one more derived item from one row of derived_state_items', async () => {
    const lot = await createLot(server().db, { total: 5 });
    await sql(`create function public.test_item_drift(p_lot_id uuid, p_repair boolean) returns jsonb language sql set search_path = '' as $$
                 select jsonb_build_object('drift', jsonb_build_array(jsonb_build_object('parking_lot_id', p_lot_id, 'kind', 'test', 'repair', p_repair))) $$`);
    try {
      await sql(`insert into public.derived_state_items values ('test_item', 'public.test_item_drift(uuid, boolean)', 50)`);
      const report = (await rebuild({ parking_lot_id: lot })).body.data;
      assert.deepEqual(report.items.map((i: any) => i.item), ['hold_window_edges', 'stream_heads', 'capacity_index', 'test_item', 'lot_announcements']);
      assert.deepEqual(report.by_lot, { [lot]: { test_item: 1 } });
      const testItem = (r: any) => r.items.find((i: any) => i.item === 'test_item');
      assert.deepEqual(testItem(report).drift, [{ parking_lot_id: lot, kind: 'test', repair: false }]);
      // A checker that names its rows `differing` (capacity_index_drift, 015) is read the same way.
      await sql(`create or replace function public.test_item_drift(p_lot_id uuid, p_repair boolean) returns jsonb language sql set search_path = '' as $$
                   select jsonb_build_object('rows', 7, 'differing', jsonb_build_array(jsonb_build_object('parking_lot_id', p_lot_id, 'bucket', 'b'))) $$`);
      const again = (await rebuild({ parking_lot_id: lot, repair: true })).body.data;
      assert.deepEqual(testItem(again), { item: 'test_item', drift_count: 1, rows: 7, drift: [{ parking_lot_id: lot, bucket: 'b' }] });
      assert.deepEqual(again.by_lot, { [lot]: { test_item: 1 } });
    } finally {
      await sql(`delete from public.derived_state_items where item = 'test_item'`);
      await sql('drop function public.test_item_drift(uuid, boolean)');
    }
  });

  it('is for admins, validates its body, and names no unknown lot', async () => {
    assert.equal((await rebuild({}, server().token(newUserId()))).status, 403);
    assert.equal((await rebuild({ repair: 'yes' })).status, 400);
    assert.equal((await rebuild({ parking_lot_id: 'P3' })).status, 400);
    assert.equal((await rebuild({ parking_lot_id: randomUUID() })).status, 404);
    // Under RLS directly (supabase-js): a user calling the function is refused by it.
    await assert.rejects(
      direct({ sub: newUserId(), role: 'authenticated', app_metadata: { role: 'user' } }, (c) => c.query('select public.rebuild_derived_state(null, true)')),
      (err: any) => err.code === '42501',
    );
  });
});

/**
 * The capacity index (migrations/015): lot_peak_holds and lot_held_now read per-lot 15-minute
 * buckets kept by triggers on bookings instead of scanning every holding booking. Held here
 * against the scan they replaced (ORACLE below, 006's lot_peak_holds verbatim, kept as the test's
 * own SQL), through every path that changes a hold: create_booking, cancel_booking, expiry,
 * set_lot_availability, and writes made straight into the tables; and capacity_index_drift, the
 * rebuild check, finding exactly a corrupted row and repairing it.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import { adminClaims, direct, userClaims } from './helpers/direct.js';
import { seeded } from './fuzz/rng.js';

/** 006's lot_peak_holds: the most holding bookings at one instant of [$2, $3), by a sweep over all of them. */
const ORACLE = `
  with w as (
    select greatest(b.starts_at, $2::timestamptz) as a, least(b.ends_at, $3::timestamptz) as z
    from public.bookings b
    where b.parking_lot_id = $1 and b.status in ('pending', 'confirmed', 'active')
      and b.starts_at < $3::timestamptz and b.ends_at > $2::timestamptz
  ), edges as (select a as t, 1 as d from w union all select z, -1 from w)
  select coalesce(max(n), 0)::integer as n from (
    select sum(d) over (order by t, d rows between unbounded preceding and current row) as n from edges) s`;

const MIN = 60_000_000; // µs
const BUCKET = 15 * MIN;
/** An instant as µs since the epoch, in SQL (JS dates stop at ms; windows here go down to 1 µs). */
const at = (us: number) => `(timestamptz 'epoch' + ${Math.round(us)} * interval '1 microsecond')`;

const sys = <T>(fn: (c: pg.Client) => Promise<T>) => direct(null, fn);

async function newLot(total: number): Promise<string> {
  const id = randomUUID();
  await sys((c) => c.query('insert into public.parking_lots (id, name, total_spaces) values ($1, $2, $3)', [id, `Capacity ${id.slice(0, 8)}`, total]));
  return id;
}

/** A bucket-aligned instant a day ahead (µs), so windows can be placed on and around bucket edges. */
async function alignedDayAhead(): Promise<number> {
  return sys(async (c) => Number((await c.query(`select (extract(epoch from public.capacity_bucket(now() + interval '1 day')) * 1e6)::bigint::text as t`)).rows[0].t));
}

/** lot_peak_holds and the oracle for each window, in one snapshot. */
async function peaks(lot: string, windows: [number, number][]): Promise<{ index: number; oracle: number }[]> {
  return sys(async (c) => {
    const out: { index: number; oracle: number }[] = [];
    for (const [a, z] of windows) {
      const from = (await c.query(`select ${at(a)} as t`)).rows[0].t;
      const to = (await c.query(`select ${at(z)} as t`)).rows[0].t;
      const [i, o] = await Promise.all([
        c.query('select public.lot_peak_holds($1, $2, $3) as n', [lot, from, to]),
        c.query(ORACLE, [lot, from, to]),
      ]);
      out.push({ index: i.rows[0].n, oracle: o.rows[0].n });
    }
    return out;
  });
}

async function assertExact(lot: string, windows: [number, number][], what: string): Promise<void> {
  const got = await peaks(lot, windows);
  got.forEach((g, i) => assert.equal(g.index, g.oracle, `${what}: window ${i} [${windows[i]![0]}, ${windows[i]![1]}) µs`));
}

const drift = (lot: string | null, repair = false) =>
  sys(async (c) => (await c.query('select public.capacity_index_drift($1, $2) as d', [lot, repair])).rows[0].d as { differing: any[]; repaired: boolean; rows: number });

/** create_booking as supabase-js calls it; resolves to the booking id or the error's hint. */
async function book(lot: string, from: number | null, to: number | null, minutes: number | null = null, user = randomUUID()): Promise<string> {
  try {
    return await direct(userClaims(user), async (c) => {
      const f = from === null ? 'null' : at(from);
      const t = to === null ? 'null' : at(to);
      const { rows } = await c.query(`select public.create_booking($1, ${f}, ${t}, $2, null, null) as r`, [lot, minutes]);
      return rows[0].r.booking.id as string;
    });
  } catch (err) {
    return (err as { hint?: string }).hint ?? String(err);
  }
}

describe('capacity index (015): lot_peak_holds without scanning every hold', function () {
  this.timeout(120_000);

  it('randomized: equals the old scan after inserts, cancellations, moves and deletes (seeded)', async () => {
    const seed = Number(process.env.CAPACITY_SEED ?? Math.floor(Math.random() * 2 ** 31));
    console.log(`      (seed ${seed}; replay with CAPACITY_SEED=${seed})`);
    const r = seeded(seed);
    const lot = await newLot(100_000);
    const t0 = await alignedDayAhead();
    // Instants on bucket edges, on whole minutes, on whole seconds and anywhere (µs), over 12 h.
    const instant = () => {
      const k = r();
      const base = t0 + Math.floor(r() * 48) * BUCKET;
      if (k < 0.3) return base;
      if (k < 0.5) return base + Math.floor(r() * 15) * MIN;
      if (k < 0.7) return base + Math.floor(r() * 900) * 1e6;
      return base + Math.floor(r() * BUCKET);
    };
    const window = (): [number, number] => {
      const a = instant();
      const len = r() < 0.5 ? Math.ceil(r() * 8) * BUCKET * (r() < 0.5 ? 1 : r()) : 1 + Math.floor(r() * 4 * BUCKET);
      return [a, a + Math.max(1, Math.floor(len))];
    };
    const windows = Array.from({ length: 400 }, window);
    for (let i = 0; i < windows.length; i += 100) {
      const values = windows
        .slice(i, i + 100)
        .map(([a, z]) => `(gen_random_uuid(), '${lot}'::uuid, ${at(a)}, ${at(z)}, '${r() < 0.2 ? 'pending' : 'confirmed'}', 0)`)
        .join(',');
      await sys((c) => c.query(`insert into public.bookings (user_id, parking_lot_id, starts_at, ends_at, status, amount_cents) values ${values}`));
    }
    const questions = () => Array.from({ length: 150 }, window).concat([[t0 - BUCKET, t0 + 60 * BUCKET]]);
    await assertExact(lot, questions(), 'after the inserts');

    await sys(async (c) => {
      const { rows } = await c.query<{ id: string }>('select id from public.bookings where parking_lot_id = $1 order by starts_at, ends_at, id', [lot]);
      const pick = (p: number) => rows.filter(() => r() < p).map((x) => x.id);
      await c.query(`update public.bookings set status = 'cancelled' where id = any($1)`, [pick(0.15)]);
      await c.query(`update public.bookings set status = 'expired' where status = 'pending' and id = any($1)`, [pick(0.3)]);
      await c.query(`update public.bookings set status = 'completed' where status = 'confirmed' and id = any($1)`, [pick(0.05)]);
      await c.query(`update public.bookings set starts_at = starts_at + interval '7 minutes 3.5 seconds', ends_at = ends_at + interval '7 minutes 3.5 seconds' where id = any($1)`, [pick(0.1)]);
      await c.query(`update public.bookings set ends_at = ends_at + interval '15 minutes' where id = any($1)`, [pick(0.1)]);
      await c.query(`delete from public.bookings where id = any($1)`, [pick(0.05)]);
      await c.query(`update public.bookings set status = 'active' where status = 'cancelled' and id = any($1)`, [pick(0.3)]);
    });
    await assertExact(lot, questions(), 'after cancellations, moves and deletes');

    // one booking per statement: the incremental path (an addition raises an edge bucket's peak
    // from its own part of the bucket; a removal recounts it)
    await sys(async (c) => {
      for (let i = 0; i < 80; i++) {
        const [a, z] = window();
        await c.query(
          `insert into public.bookings (user_id, parking_lot_id, starts_at, ends_at, status, amount_cents) values (gen_random_uuid(), $1, ${at(a)}, ${at(z)}, 'confirmed', 0)`,
          [lot],
        );
        if (r() < 0.4) {
          await c.query(
            `update public.bookings set status = 'cancelled' where id = (select id from public.bookings where parking_lot_id = $1 and status = 'confirmed' order by id offset $2 limit 1)`,
            [lot, Math.floor(r() * 50)],
          );
        }
      }
    });
    await assertExact(lot, questions(), 'after single-row inserts and cancellations');
    assert.equal(
      (await sys((c) => c.query(`select public.lot_peak_holds($1, ${at(t0 - BUCKET)}, 'infinity') as n`, [lot]))).rows[0].n,
      (await sys((c) => c.query(ORACLE, [lot, new Date(0).toISOString(), 'infinity']))).rows[0].n,
      'an open-ended question (as set_lot_availability asks)',
    );
    assert.deepEqual((await drift(lot)).differing, [], 'the stored index equals the one recomputed from the bookings');
  });

  it('window boundaries: touching windows share no space, on bucket edges and a microsecond apart', async () => {
    const lot = await newLot(1);
    const t = await alignedDayAhead();
    assert.match(await book(lot, t, t + BUCKET), /^[0-9a-f-]{36}$/, 'a window that is exactly one bucket');
    assert.match(await book(lot, t + BUCKET, t + 2 * BUCKET), /^[0-9a-f-]{36}$/, 'the next bucket: touching, not overlapping');
    assert.match(await book(lot, t - 1, t), /^[0-9a-f-]{36}$/, 'the microsecond before the first');
    assert.equal(await book(lot, t + BUCKET - 1, t + BUCKET + 1), 'LOT_FULL', 'two microseconds across the bucket edge');
    assert.equal(await book(lot, t + 2 * BUCKET - 1, t + 3 * BUCKET), 'LOT_FULL', 'the last microsecond of the second');
    assert.match(await book(lot, t + 2 * BUCKET, t + 2 * BUCKET + 1_500_000), /^[0-9a-f-]{36}$/, '1.5 s right after');
    assert.match(await book(lot, t + 2 * BUCKET + 1_500_000, t + 4 * BUCKET + 7), /^[0-9a-f-]{36}$/, 'touching the 1.5 s one, ending inside a bucket');
    assert.equal(await book(lot, t + 4 * BUCKET + 6, t + 4 * BUCKET + 8), 'LOT_FULL', 'inside the last microsecond of that one');
    assert.match(await book(lot, t + 4 * BUCKET + 7, t + 4 * BUCKET + 8), /^[0-9a-f-]{36}$/, 'a one-microsecond window right after');
    const edges = [t - 1, t, t + 1, t + BUCKET - 1, t + BUCKET, t + 2 * BUCKET + 1_500_000, t + 4 * BUCKET + 7, t + 4 * BUCKET + 8];
    const windows: [number, number][] = [];
    for (const a of edges) for (const z of edges) if (z > a) windows.push([a, z]);
    await assertExact(lot, windows, 'every window between the edges');
    assert.deepEqual((await drift(lot)).differing, []);
  });

  it('a cancellation and an expiry release exactly their window, and nothing around it', async () => {
    const lot = await newLot(2);
    const t = await alignedDayAhead();
    const owner = randomUUID();
    const long = await book(lot, t, t + 8 * BUCKET);
    const cancelled = await book(lot, t + 2 * BUCKET + 7_000_000, t + 5 * BUCKET - 3, null, owner);
    const expiring = await book(lot, t + 5 * BUCKET - 3, t + 7 * BUCKET + 11);
    assert.equal(await book(lot, t + 3 * BUCKET, t + 3 * BUCKET + 1), 'LOT_FULL');
    assert.equal(await book(lot, t + 7 * BUCKET, t + 7 * BUCKET + 1), 'LOT_FULL');

    await direct(userClaims(owner), (c) => c.query('select public.cancel_booking($1)', [cancelled]));
    // its hold ran out: the due time moved into the past, then the expiry as the scheduler runs it
    await sys((c) => c.query(`update public.bookings set hold_expires_at = now() - interval '1 second' where id = $1`, [expiring]));
    const expired = await sys(async (c) => (await c.query(`select public.advance_booking($1, 'expire') as r`, [expiring])).rows[0].r);
    assert.equal(expired.booking.status, 'expired');

    await assertExact(lot, [[t, t + 8 * BUCKET], [t + 2 * BUCKET, t + 5 * BUCKET], [t + 5 * BUCKET - 4, t + 5 * BUCKET - 2], [t + 7 * BUCKET, t + 7 * BUCKET + 12]], 'after release');
    // the freed windows take one booking each again, exactly, and the long one still holds its space
    assert.match(await book(lot, t + 2 * BUCKET + 7_000_000, t + 7 * BUCKET + 11), /^[0-9a-f-]{36}$/);
    assert.equal(await book(lot, t + 2 * BUCKET + 6_999_999, t + 2 * BUCKET + 7_000_001), 'LOT_FULL');
    assert.match(await book(lot, t + 2 * BUCKET, t + 2 * BUCKET + 7_000_000), /^[0-9a-f-]{36}$/, 'the part before it was never taken twice');
    assert.match(await book(lot, t + 8 * BUCKET, t + 9 * BUCKET), /^[0-9a-f-]{36}$/);
    assert.deepEqual((await drift(lot)).differing, []);
    void long;
  });

  it('an admin capacity change is checked against the index and needs nothing from it', async () => {
    const lot = await newLot(3);
    const admin = adminClaims(randomUUID());
    assert.match(await book(lot, null, null, 60), /^[0-9a-f-]{36}$/);
    assert.match(await book(lot, null, null, 90), /^[0-9a-f-]{36}$/);
    const held = await sys(async (c) => (await c.query('select public.lot_held_now($1) as n', [lot])).rows[0].n);
    assert.equal(held, 2, 'lot_held_now counts both holds');
    await assert.rejects(
      direct(admin, (c) => c.query('select public.set_lot_availability($1, null, 2)', [lot])),
      (err: { hint?: string }) => err.hint === 'SPACES_HELD',
    );
    await direct(admin, (c) => c.query('select public.set_lot_availability($1, null, 1)', [lot]));
    assert.equal(await book(lot, null, null, 30), 'LOT_FULL', 'two bookable spaces, both held');
    await direct(null, (c) => c.query('update public.parking_lots set total_spaces = 4 where id = $1', [lot]));
    assert.match(await book(lot, null, null, 30), /^[0-9a-f-]{36}$/, 'a space added directly is bookable at once');
    const avail = await sys(async (c) => (await c.query('select held, available_spaces from public.lot_availability($1)', [lot])).rows[0]);
    assert.deepEqual(avail, { held: 3, available_spaces: 0 });
    assert.deepEqual((await drift(lot)).differing, []);
  });

  it('writes made straight into the tables keep it exact, also with triggers in replica mode', async () => {
    const [a, b] = [await newLot(1000), await newLot(1000)];
    const t = await alignedDayAhead();
    await sys((c) =>
      c.query(
        `insert into public.bookings (user_id, parking_lot_id, starts_at, ends_at, status, amount_cents)
         select gen_random_uuid(), $1, ${at(t)} + g * interval '1 minute 7 seconds', ${at(t)} + g * interval '1 minute 7 seconds' + interval '40 minutes', 'confirmed', 0
           from generate_series(0, 59) g`,
        [a],
      ),
    );
    await sys((c) => c.query(`update public.bookings set parking_lot_id = $2 where parking_lot_id = $1 and starts_at < ${at(t + 30 * MIN)}`, [a, b]));
    await direct(null, async (c) => {
      await c.query('set local session_replication_role = replica');
      await c.query(`update public.bookings set ends_at = ends_at - interval '13 minutes' where parking_lot_id = $1`, [a]);
      await c.query(`delete from public.bookings where parking_lot_id = $1 and starts_at > ${at(t + 50 * MIN)}`, [a]);
    });
    const windows: [number, number][] = [[t, t + 8 * BUCKET], [t + 5 * MIN, t + 20 * MIN], [t + 31 * MIN, t + 31 * MIN + 1], [t + BUCKET, t + 2 * BUCKET]];
    await assertExact(a, windows, 'lot a');
    await assertExact(b, windows, 'lot b');
    assert.deepEqual((await drift(a)).differing, []);
    assert.deepEqual((await drift(b)).differing, []);
    await assert.rejects(
      sys((c) => c.query(`insert into public.bookings (user_id, parking_lot_id, starts_at, ends_at, status, amount_cents) values (gen_random_uuid(), $1, now(), 'infinity', 'confirmed', 0)`, [a])),
      (err: { hint?: string }) => err.hint === 'VALIDATION_ERROR',
      'a hold without an end cannot be counted, so it is refused',
    );
  });

  it('capacity_index_drift finds exactly a corrupted row and a lost row, and repairs them', async () => {
    const lot = await newLot(10);
    const t = await alignedDayAhead();
    for (let i = 0; i < 4; i++) assert.match(await book(lot, t + i * 5 * MIN, t + i * 5 * MIN + 50 * MIN), /^[0-9a-f-]{36}$/);
    const clean = await drift(lot);
    assert.deepEqual(clean.differing, []);
    assert.ok(clean.rows >= 5);

    const bucket = (us: number) => sys(async (c) => (await c.query(`select ${at(us)} as t`)).rows[0].t as Date);
    const b1 = await bucket(t + BUCKET);
    const b3 = await bucket(t + 3 * BUCKET);
    const before = await sys(async (c) => (await c.query('select bucket, covering, peak from public.lot_hold_buckets where parking_lot_id = $1 order by bucket', [lot])).rows);
    const row1 = before.find((x) => x.bucket.getTime() === b1.getTime());
    const row3 = before.find((x) => x.bucket.getTime() === b3.getTime());
    await sys(async (c) => {
      await c.query('update public.lot_hold_buckets set peak = peak + 1 where parking_lot_id = $1 and bucket = $2', [lot, b1]);
      await c.query('delete from public.lot_hold_buckets where parking_lot_id = $1 and bucket = $2', [lot, b3]);
    });
    const found = await drift(lot);
    assert.deepEqual(
      found.differing.map((d) => ({ bucket: new Date(d.bucket).getTime(), stored: d.stored, expected: d.expected })),
      [
        { bucket: b1.getTime(), stored: { covering: row1.covering, peak: row1.peak + 1 }, expected: { covering: row1.covering, peak: row1.peak } },
        { bucket: b3.getTime(), stored: { covering: 0, peak: 0 }, expected: { covering: row3.covering, peak: row3.peak } },
      ],
    );
    assert.equal(found.repaired, false);
    assert.equal((await drift(lot)).differing.length, 2, 'checking repairs nothing');
    const repaired = await drift(lot, true);
    assert.equal(repaired.repaired, true);
    assert.deepEqual((await drift(lot)).differing, []);
    const after = await sys(async (c) => (await c.query('select bucket, covering, peak from public.lot_hold_buckets where parking_lot_id = $1 order by bucket', [lot])).rows);
    assert.deepEqual(after, before);
    assert.deepEqual((await drift(null)).differing, [], 'and the whole database agrees');
  });

  it("the admin rebuild (013) reports the index's drift as one of its items and repairs it with the rest", async () => {
    const lot = await newLot(10);
    const t = await alignedDayAhead();
    assert.match(await book(lot, t, t + 50 * MIN), /^[0-9a-f-]{36}$/);
    const b0 = await sys(async (c) => (await c.query(`select ${at(t)} as t`)).rows[0].t as Date);
    await sys((c) => c.query('update public.lot_hold_buckets set peak = peak + 3 where parking_lot_id = $1 and bucket = $2', [lot, b0]));
    const rebuild = async (repair: boolean) =>
      direct(adminClaims(randomUUID()), async (c) => (await c.query('select public.rebuild_derived_state($1, $2) as r', [lot, repair])).rows[0].r);
    const checked = await rebuild(false);
    const item = checked.items.find((i: { item: string }) => i.item === 'capacity_index');
    assert.equal(item.drift_count, 1);
    assert.equal(new Date(item.drift[0].bucket).getTime(), b0.getTime());
    assert.equal(checked.drift_count, 1, 'nothing else drifted');
    assert.equal((await rebuild(true)).drift_count, 1);
    assert.equal((await rebuild(false)).drift_count, 0);
    assert.deepEqual((await drift(lot)).differing, []);
  });
});

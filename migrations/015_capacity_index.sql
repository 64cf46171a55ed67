-- The capacity index: how many bookings hold a lot at once, kept per lot in fixed 15-minute
-- buckets so that the capacity check (lot_peak_holds) and the availability count (lot_held_now)
-- cost the same however many bookings hold the lot. Before it, both scanned every holding booking
-- of the window (create_booking did it twice, under the lot lock): a full lot booked slowly.
--
-- Per (lot, bucket [b, b + 15 min)):
--   covering  the holding bookings whose window covers the whole bucket;
--   peak      the exact maximum of holding bookings at any instant of the bucket:
--             covering + the peak of the bucket's partial windows (those with an edge inside it).
-- A window adds 1 to covering and peak of each bucket it covers whole (≤ max_hours × 4 rows) and
-- recomputes the peak of the ≤ 2 buckets holding its edges from that bucket's partial windows
-- only. A question about [a, z) reads the peak of the buckets inside it and recomputes the ≤ 2
-- edge buckets clipped to [a, z). So the cost depends on the window's length and on the bookings
-- with an edge in the same 15 minutes, never on the bookings that merely span them.
-- Triggers on public.bookings keep it (every path: the commands, direct writes, replication), and
-- capacity_index_drift recomputes it from the bookings to check or repair it. It counts bookings
-- only: a lot's capacity is compared with it when asked, so lot edits need nothing here.

create table public.lot_hold_buckets (
  parking_lot_id uuid not null references public.parking_lots (id) on delete cascade,
  bucket timestamptz not null,
  covering integer not null check (covering >= 0),
  peak integer not null check (peak >= covering),
  primary key (parking_lot_id, bucket)
);
alter table public.lot_hold_buckets enable row level security;
revoke all on public.lot_hold_buckets from anon, authenticated;
grant all on public.lot_hold_buckets to service_role;

-- The bookings ending in a bucket (those starting in one use bookings_holding, of 005). Keyed on
-- the lot's id as text, which only the queries below ask for: keyed on the uuid, it would match
-- `parking_lot_id = …` as well as bookings_holding does, and the planner, misjudging a freshly
-- filled lot, took it for ranges of starts and read every hold of the lot.
create index bookings_holding_ends on public.bookings ((parking_lot_id::text), ends_at)
  where status in ('pending', 'confirmed', 'active');

-- The bucket holding instant t. (The origin is any aligned instant; 15 minutes divide an hour, so
-- buckets also start on the quarter hours of every whole-hour time zone.) The hot functions below
-- write the same date_bin out: a function with its own search_path is never inlined.
create function public.capacity_bucket(t timestamptz) returns timestamptz
language sql immutable parallel safe
set search_path = ''
as $$ select date_bin(interval '15 minutes', t, timestamptz '2000-01-01 00:00:00+00') $$;
revoke execute on function public.capacity_bucket(timestamptz) from public, anon, authenticated;
grant execute on function public.capacity_bucket(timestamptz) to service_role;

-- The most partial windows of bucket [p_bucket, +15 min) holding the lot at any one instant of
-- [p_from, p_to) ⊆ that bucket: a partial window starts or ends strictly inside the bucket. Same
-- sweep as 006's lot_peak_holds (ends sort before starts: windows are half-open), over the
-- bucket's own edges only.
create function public.capacity_partial_sweep(p_lot_id uuid, p_bucket timestamptz, p_from timestamptz, p_to timestamptz)
returns integer
language plpgsql stable
set search_path = ''
as $$
begin
  -- The partial windows in two disjoint parts, each read by the range of its own index (never by
  -- every earlier start of the lot: `+ interval '0'` keeps the planner off that index for part 2).
  return (with p as (
    select b.starts_at, b.ends_at from public.bookings b
     where b.parking_lot_id = p_lot_id and b.status in ('pending', 'confirmed', 'active')
       and b.starts_at > p_bucket and b.starts_at < p_bucket + interval '15 minutes'
    union all
    select b.starts_at, b.ends_at from public.bookings b
     where b.parking_lot_id::text = p_lot_id::text and b.status in ('pending', 'confirmed', 'active')
       and b.ends_at > p_bucket and b.ends_at < p_bucket + interval '15 minutes'
       and b.starts_at + interval '0' <= p_bucket
  ), w as (
    select greatest(p.starts_at, p_from) as a, least(p.ends_at, p_to) as z
      from p where p.starts_at < p_to and p.ends_at > p_from
  ), edges as (
    select a as t, 1 as d from w union all select z, -1 from w
  )
  select coalesce(max(n), 0)::integer from (
    select sum(d) over (order by t, d rows between unbounded preceding and current row) as n from edges
  ) s);
end
$$;

-- The same number, cheaper in the usual case. The count only rises at a start, so its maximum over
-- [p_from, p_to) is reached at p_from or at a start inside; when there are few such starts (a
-- booking made for now asks about [now, …): nothing has started after now yet), the partial
-- windows holding each of those instants are counted instead of sorting every edge of the bucket.
create function public.capacity_partial_peak(p_lot_id uuid, p_bucket timestamptz, p_from timestamptz, p_to timestamptz)
returns integer
language plpgsql stable
set search_path = ''
as $$
declare
  starts timestamptz[];
  v_end timestamptz := p_bucket + interval '15 minutes';
begin
  if p_from >= p_to then
    return 0;
  end if;
  select array_agg(s.starts_at) into starts from (
    select b.starts_at from public.bookings b
     where b.parking_lot_id = p_lot_id and b.status in ('pending', 'confirmed', 'active')
       and b.starts_at > p_from and b.starts_at < p_to
     limit 9) s;
  if cardinality(starts) > 8 then
    return public.capacity_partial_sweep(p_lot_id, p_bucket, p_from, p_to);
  end if;
  return (
    select coalesce(max(n.held), 0)::integer
      from unnest(array[p_from] || coalesce(starts, '{}')) t(at)
     cross join lateral (
       select (select count(*) from public.bookings b   -- started inside the bucket, by t (by the starts index)
                where b.parking_lot_id = p_lot_id and b.status in ('pending', 'confirmed', 'active')
                  and b.starts_at > p_bucket and b.starts_at <= t.at and b.ends_at > t.at)
            + (select count(*) from public.bookings b   -- started before it, ending inside it after t (by the ends index)
                where b.parking_lot_id::text = p_lot_id::text and b.status in ('pending', 'confirmed', 'active')
                  and b.starts_at + interval '0' <= p_bucket and b.ends_at > t.at and b.ends_at < v_end) as held
     ) n);
end
$$;

-- 006's meaning, read from the index: the most bookings holding the lot at any one instant of
-- [p_from, p_to) (p_to may be 'infinity'). Buckets wholly inside give their peak; the ≤ 2 buckets
-- cut by an end of the question are recomputed for the part asked about. PL/pgSQL, not SQL: its
-- plans are cached for the session, where a SQL function's would be made again at every call.
create or replace function public.lot_peak_holds(p_lot_id uuid, p_from timestamptz, p_to timestamptz)
returns integer
language plpgsql stable security definer
set search_path = ''
as $$
declare
  v_peak integer;
  first_b timestamptz;
  last_b timestamptz;
  edge timestamptz;
begin
  if p_from >= p_to then
    return 0;
  end if;
  select max(h.peak) into v_peak
    from public.lot_hold_buckets h
   where h.parking_lot_id = p_lot_id and h.bucket >= p_from and h.bucket <= p_to - interval '15 minutes';
  v_peak := coalesce(v_peak, 0);
  if isfinite(p_from) then
    first_b := date_bin(interval '15 minutes', p_from, timestamptz '2000-01-01 00:00:00+00');
  end if;
  if isfinite(p_to) then
    last_b := date_bin(interval '15 minutes', p_to - interval '1 microsecond', timestamptz '2000-01-01 00:00:00+00');
  end if;
  -- the buckets an end of [p_from, p_to) cuts (both ends may cut the same one)
  foreach edge in array array[first_b, case when last_b is distinct from first_b then last_b end] loop
    if edge is not null and (edge < p_from or edge + interval '15 minutes' > p_to) then
      v_peak := greatest(v_peak,
        coalesce((select h.covering from public.lot_hold_buckets h where h.parking_lot_id = p_lot_id and h.bucket = edge), 0)
        + public.capacity_partial_peak(p_lot_id, edge, greatest(p_from, edge), least(p_to, edge + interval '15 minutes')));
    end if;
  end loop;
  return v_peak;
end
$$;

-- 006's meaning (the bookings holding the lot at this very instant, by the wall clock), from the
-- index: the peak of the one-microsecond window starting now (timestamps are microseconds).
create or replace function public.lot_held_now(p_lot_id uuid) returns integer
language plpgsql volatile security definer
set search_path = ''
as $$
declare
  t timestamptz := clock_timestamp();
begin
  return public.lot_peak_holds(p_lot_id, t, t + interval '1 microsecond');
end
$$;

-- The peak of one bucket a window [p_from, p_to) with an edge inside it was just added to or
-- removed from, its row locked first (created if need be). An addition raises the count on the
-- window's part of the bucket only: the peak is the old one or the new count there. A removal may
-- lower it anywhere: recounted from the bucket's partial windows.
create function public.capacity_index_recompute(p_lot_id uuid, p_bucket timestamptz, p_from timestamptz, p_to timestamptz, p_delta integer)
returns void
language plpgsql security definer
set search_path = ''
as $$
begin
  insert into public.lot_hold_buckets as h (parking_lot_id, bucket, covering, peak)
  values (p_lot_id, p_bucket, 0, 0)
  on conflict (parking_lot_id, bucket) do update set covering = h.covering;
  if p_delta > 0 then
    update public.lot_hold_buckets h
       set peak = greatest(h.peak, h.covering + public.capacity_partial_peak(
                    p_lot_id, p_bucket, greatest(p_from, p_bucket), least(p_to, p_bucket + interval '15 minutes')))
     where h.parking_lot_id = p_lot_id and h.bucket = p_bucket;
  else
    update public.lot_hold_buckets h
       set peak = h.covering + public.capacity_partial_sweep(p_lot_id, p_bucket, p_bucket, p_bucket + interval '15 minutes')
     where h.parking_lot_id = p_lot_id and h.bucket = p_bucket;
  end if;
end
$$;
revoke execute on function public.capacity_index_recompute(uuid, timestamptz, timestamptz, timestamptz, integer) from public, anon, authenticated;

-- Adds (p_delta = 1) or removes (-1) the window [p_from, p_to) of one holding booking. Buckets are
-- locked in time order (full ones by the upsert, edge ones before they are recomputed), so that a
-- recomputation always runs after every concurrent change of its bucket has committed or waits
-- for it: the last one to commit sees them all.
create function public.capacity_index_apply(p_lot_id uuid, p_from timestamptz, p_to timestamptz, p_delta integer)
returns void
language plpgsql security definer
set search_path = ''
as $$
declare
  first_b timestamptz;
  last_b timestamptz;
begin
  if not isfinite(p_from) or not isfinite(p_to) then
    raise exception 'A holding booking''s window must have a finite start and end' using errcode = '22023', hint = 'VALIDATION_ERROR';
  end if;
  first_b := date_bin(interval '15 minutes', p_from, timestamptz '2000-01-01 00:00:00+00');
  last_b := date_bin(interval '15 minutes', p_to - interval '1 microsecond', timestamptz '2000-01-01 00:00:00+00');
  if p_from > first_b or p_to < first_b + interval '15 minutes' then
    perform public.capacity_index_recompute(p_lot_id, first_b, p_from, p_to, p_delta);
  end if;
  -- the buckets covered whole, in time order (an insert's row is checked before its conflict, so
  -- a removal, whose rows exist, is a plain update)
  if p_delta > 0 then
    insert into public.lot_hold_buckets as h (parking_lot_id, bucket, covering, peak)
    select p_lot_id, g, p_delta, p_delta
      from generate_series(date_bin(interval '15 minutes', p_from + interval '15 minutes' - interval '1 microsecond', timestamptz '2000-01-01 00:00:00+00'),
                           p_to - interval '15 minutes', interval '15 minutes') g
     order by g
    on conflict (parking_lot_id, bucket) do update set covering = h.covering + p_delta, peak = h.peak + p_delta;
  else
    perform 1 from public.lot_hold_buckets h
      where h.parking_lot_id = p_lot_id and h.bucket >= p_from and h.bucket + interval '15 minutes' <= p_to
      order by h.bucket for update;
    update public.lot_hold_buckets h set covering = h.covering + p_delta, peak = h.peak + p_delta
     where h.parking_lot_id = p_lot_id and h.bucket >= p_from and h.bucket + interval '15 minutes' <= p_to;
  end if;
  if last_b > first_b and p_to < last_b + interval '15 minutes' then
    perform public.capacity_index_recompute(p_lot_id, last_b, p_from, p_to, p_delta);
  end if;
end
$$;
revoke execute on function public.capacity_index_apply(uuid, timestamptz, timestamptz, integer) from public, anon, authenticated;
revoke execute on function public.capacity_partial_peak(uuid, timestamptz, timestamptz, timestamptz) from public, anon, authenticated;
revoke execute on function public.capacity_partial_sweep(uuid, timestamptz, timestamptz, timestamptz) from public, anon, authenticated;

-- A statement's changes of holds, from its transition tables: each window that stopped holding
-- (removed with its old window) and each that started (added with its new one). A pending booking
-- paid, or one becoming active on the same window, is no change.
-- One change (every command writes one booking) goes through capacity_index_apply. More (an
-- UPDATE or INSERT of many rows) are applied together: every bucket touched locked once, in
-- order; the deltas of the buckets covered whole summed; each edge bucket recounted once at the
-- end. (Row by row, thousands of changes would update the same rows thousands of times in one
-- transaction, each update walking all the versions the transaction made before it.)
create function public.capacity_index_changes() returns trigger
language plpgsql security definer
set search_path = ''
as $$
declare
  v_changes jsonb;
  n integer;
begin
  -- the changes as JSON: no temporary table for the usual single change
  if tg_op = 'INSERT' then
    select jsonb_agg(jsonb_build_array(nr.parking_lot_id, nr.starts_at, nr.ends_at, 1)) into v_changes
      from new_rows nr where nr.status in ('pending', 'confirmed', 'active');
  elsif tg_op = 'DELETE' then
    select jsonb_agg(jsonb_build_array(o.parking_lot_id, o.starts_at, o.ends_at, -1)) into v_changes
      from old_rows o where o.status in ('pending', 'confirmed', 'active');
  else
    select jsonb_agg(c.x) into v_changes from (
      select jsonb_build_array(o.parking_lot_id, o.starts_at, o.ends_at, -1) as x
        from old_rows o join new_rows nr on nr.id = o.id
       where o.status in ('pending', 'confirmed', 'active')
         and not (nr.status in ('pending', 'confirmed', 'active')
                  and (nr.parking_lot_id, nr.starts_at, nr.ends_at) = (o.parking_lot_id, o.starts_at, o.ends_at))
      union all
      select jsonb_build_array(nr.parking_lot_id, nr.starts_at, nr.ends_at, 1)
        from old_rows o join new_rows nr on nr.id = o.id
       where nr.status in ('pending', 'confirmed', 'active')
         and not (o.status in ('pending', 'confirmed', 'active')
                  and (nr.parking_lot_id, nr.starts_at, nr.ends_at) = (o.parking_lot_id, o.starts_at, o.ends_at))
    ) c;
  end if;
  n := coalesce(jsonb_array_length(v_changes), 0);
  if n = 0 then
    return null;
  end if;
  if n = 1 then
    perform public.capacity_index_apply((v_changes->0->>0)::uuid, (v_changes->0->>1)::timestamptz,
                                        (v_changes->0->>2)::timestamptz, (v_changes->0->>3)::integer);
    return null;
  end if;
  if exists (select 1 from jsonb_array_elements(v_changes) c
              where not isfinite((c->>1)::timestamptz) or not isfinite((c->>2)::timestamptz)) then
    raise exception 'A holding booking''s window must have a finite start and end' using errcode = '22023', hint = 'VALIDATION_ERROR';
  end if;

  -- every bucket a change touches: `whole` if the window covers it whole
  if to_regclass('pg_temp.capacity_touched') is null then
    create temporary table pg_temp.capacity_touched (
      parking_lot_id uuid, bucket timestamptz, whole boolean, delta integer
    ) on commit drop;
  end if;
  delete from pg_temp.capacity_touched;
  insert into pg_temp.capacity_touched
  select c.parking_lot_id, g, c.starts_at <= g and c.ends_at >= g + interval '15 minutes', c.delta
    from (select (x->>0)::uuid as parking_lot_id, (x->>1)::timestamptz as starts_at, (x->>2)::timestamptz as ends_at,
                 (x->>3)::integer as delta
            from jsonb_array_elements(v_changes) x) c
   cross join lateral generate_series(date_bin(interval '15 minutes', c.starts_at, timestamptz '2000-01-01 00:00:00+00'),
                                      c.ends_at - interval '1 microsecond', interval '15 minutes') g;
  insert into public.lot_hold_buckets (parking_lot_id, bucket, covering, peak)
  select distinct t.parking_lot_id, t.bucket, 0, 0 from pg_temp.capacity_touched t order by 1, 2
  on conflict (parking_lot_id, bucket) do nothing;
  perform 1 from public.lot_hold_buckets h
    join (select distinct t.parking_lot_id, t.bucket from pg_temp.capacity_touched t) t
      on t.parking_lot_id = h.parking_lot_id and t.bucket = h.bucket
   order by h.parking_lot_id, h.bucket
     for update of h;
  update public.lot_hold_buckets h set covering = h.covering + d.delta, peak = h.peak + d.delta
    from (select t.parking_lot_id, t.bucket, sum(t.delta)::integer as delta from pg_temp.capacity_touched t
           where t.whole group by 1, 2) d
   where d.parking_lot_id = h.parking_lot_id and d.bucket = h.bucket and d.delta <> 0;
  update public.lot_hold_buckets h
     set peak = h.covering + public.capacity_partial_sweep(h.parking_lot_id, h.bucket, h.bucket, h.bucket + interval '15 minutes')
    from (select distinct t.parking_lot_id, t.bucket from pg_temp.capacity_touched t where not t.whole) e
   where e.parking_lot_id = h.parking_lot_id and e.bucket = h.bucket;
  return null;
end
$$;
revoke execute on function public.capacity_index_changes() from public, anon, authenticated;

create trigger bookings_capacity_index_insert after insert on public.bookings
  referencing new table as new_rows
  for each statement execute function public.capacity_index_changes();
create trigger bookings_capacity_index_update after update on public.bookings
  referencing old table as old_rows new table as new_rows
  for each statement execute function public.capacity_index_changes();
create trigger bookings_capacity_index_delete after delete on public.bookings
  referencing old table as old_rows
  for each statement execute function public.capacity_index_changes();
-- Also under session_replication_role = replica (a bulk clean-up, a logical replica applying
-- rows): a change the index missed would make it wrong for good.
alter table public.bookings enable always trigger bookings_capacity_index_insert;
alter table public.bookings enable always trigger bookings_capacity_index_update;
alter table public.bookings enable always trigger bookings_capacity_index_delete;

-- The index recomputed from the bookings (of one lot, or all), compared with what is stored:
-- {"lots": n, "rows": rows compared, "differing": [{lot, bucket, stored, expected}], "repaired"}.
-- A missing row and a row of zeros are the same. With p_repair the lots concerned are locked (the
-- lock every booking change takes first) and their rows replaced, in this one transaction.
create function public.capacity_index_drift(p_lot_id uuid default null, p_repair boolean default false)
returns jsonb
language plpgsql security definer
set search_path = ''
as $$
declare
  v_diff jsonb;
  v_rows integer;
  v_lots integer;
begin
  if p_repair then
    perform 1 from public.parking_lots l where p_lot_id is null or l.id = p_lot_id order by l.id for update;
  end if;
  if to_regclass('pg_temp.capacity_expected') is null then
    create temporary table pg_temp.capacity_expected (
      parking_lot_id uuid, bucket timestamptz, covering integer, peak integer, primary key (parking_lot_id, bucket)
    ) on commit drop;
  end if;
  delete from pg_temp.capacity_expected;
  insert into pg_temp.capacity_expected
  select t.parking_lot_id, t.bucket, t.covering,
         t.covering + public.capacity_partial_sweep(t.parking_lot_id, t.bucket, t.bucket, t.bucket + interval '15 minutes')
    from (
      select b.parking_lot_id, g as bucket,
             count(*) filter (where b.starts_at <= g and b.ends_at >= g + interval '15 minutes')::integer as covering
        from public.bookings b
       cross join lateral generate_series(public.capacity_bucket(b.starts_at),
                                          b.ends_at - interval '1 microsecond', interval '15 minutes') g
       where b.status in ('pending', 'confirmed', 'active') and (p_lot_id is null or b.parking_lot_id = p_lot_id)
       group by b.parking_lot_id, g
    ) t;

  select coalesce(jsonb_agg(jsonb_build_object(
           'parking_lot_id', coalesce(e.parking_lot_id, s.parking_lot_id), 'bucket', coalesce(e.bucket, s.bucket),
           'stored', jsonb_build_object('covering', coalesce(s.covering, 0), 'peak', coalesce(s.peak, 0)),
           'expected', jsonb_build_object('covering', coalesce(e.covering, 0), 'peak', coalesce(e.peak, 0)))
           order by coalesce(e.parking_lot_id, s.parking_lot_id), coalesce(e.bucket, s.bucket)) filter (
           where (coalesce(s.covering, 0), coalesce(s.peak, 0)) <> (coalesce(e.covering, 0), coalesce(e.peak, 0))), '[]'::jsonb),
         count(*)::integer, count(distinct coalesce(e.parking_lot_id, s.parking_lot_id))::integer
    into v_diff, v_rows, v_lots
    from pg_temp.capacity_expected e
    full join (select * from public.lot_hold_buckets h where p_lot_id is null or h.parking_lot_id = p_lot_id) s
      on s.parking_lot_id = e.parking_lot_id and s.bucket = e.bucket;

  if p_repair and jsonb_array_length(v_diff) > 0 then
    delete from public.lot_hold_buckets h where p_lot_id is null or h.parking_lot_id = p_lot_id;
    insert into public.lot_hold_buckets (parking_lot_id, bucket, covering, peak)
    select e.parking_lot_id, e.bucket, e.covering, e.peak from pg_temp.capacity_expected e where e.peak > 0;
  end if;
  delete from pg_temp.capacity_expected;
  return jsonb_build_object('lots', v_lots, 'rows', v_rows, 'differing', v_diff,
                            'repaired', p_repair and jsonb_array_length(v_diff) > 0);
end
$$;
revoke execute on function public.capacity_index_drift(uuid, boolean) from public, anon, authenticated;
grant execute on function public.capacity_index_drift(uuid, boolean) to service_role;

-- The bookings made before this migration.
select public.capacity_index_drift(null, true);

-- The admin rebuild (013: POST /admin/rebuild, rebuild_derived_state) checks and repairs the index too.
insert into public.derived_state_items values ('capacity_index', 'public.capacity_index_drift(uuid, boolean)', 50);

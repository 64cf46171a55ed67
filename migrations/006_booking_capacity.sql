-- Capacity, and the race for the last space: which bookings hold a lot, its availability, the
-- events a booking change logs, and create_booking, where the lot row lock decides who gets a
-- space. Every later command that changes what a lot holds takes the same lock first.

-- Spaces of a lot bookings may hold: total minus out of service minus physically taken without a
-- booking. Deliberately the same for every window: a car parked now without a booking may stay,
-- so a booking is never promised a space that could be physically taken.
create function public.lot_capacity(l public.parking_lots) returns integer
language sql immutable
set search_path = ''
as $$ select greatest(l.total_spaces - l.out_of_service - l.occupied_unbooked, 0) $$;

-- The most bookings holding the lot at any one instant of [p_from, p_to). Windows are half-open,
-- so a booking ending at t and one starting at t do not overlap (ends sort before starts).
create function public.lot_peak_holds(p_lot_id uuid, p_from timestamptz, p_to timestamptz)
returns integer
language sql stable security definer
set search_path = ''
as $$
  with w as (
    select greatest(b.starts_at, p_from) as a, least(b.ends_at, p_to) as z
    from public.bookings b
    where b.parking_lot_id = p_lot_id
      and b.status in ('pending', 'confirmed', 'active')
      and b.starts_at < p_to and b.ends_at > p_from
  ), edges as (
    select a as t, 1 as d from w union all select z, -1 from w
  )
  select coalesce(max(n), 0)::integer from (
    select sum(d) over (order by t, d rows between unbounded preceding and current row) as n from edges
  ) s
$$;

-- The wall clock, not the transaction's start: called after the lot lock, it counts every booking
-- committed before that lock, however late its transaction began.
create function public.lot_held_now(p_lot_id uuid) returns integer
language sql volatile security definer
set search_path = ''
as $$
  select count(*)::integer from public.bookings b
  where b.parking_lot_id = p_lot_id and b.status in ('pending', 'confirmed', 'active')
    and b.starts_at <= clock_timestamp() and b.ends_at > clock_timestamp()
$$;

revoke execute on function public.lot_capacity(public.parking_lots), public.lot_peak_holds(uuid, timestamptz, timestamptz)
  from public, anon, authenticated;
grant execute on function public.lot_capacity(public.parking_lots), public.lot_peak_holds(uuid, timestamptz, timestamptz)
  to service_role;

-- Availability of one lot or all. Security definer so that a user can count the spaces others'
-- bookings hold without seeing those bookings: it returns aggregates only. `id` repeats
-- parking_lot_id for frontends that key lots by `id` (the reference document's hook matches
-- `lot.id === data.parking_lot_id`); parking_updated carries both, as it is built from this row.
create function public.lot_availability(p_lot_id uuid default null)
returns table (
  id uuid, parking_lot_id uuid, name text, total_spaces integer, out_of_service integer,
  occupied_unbooked integer, held integer, available_spaces integer, is_open boolean,
  updated_at timestamptz
)
language sql stable security definer
set search_path = ''
as $$
  select l.id, l.id, l.name, l.total_spaces, l.out_of_service, l.occupied_unbooked, h.held,
         greatest(l.total_spaces - l.out_of_service - l.occupied_unbooked - h.held, 0),
         l.is_open, l.updated_at
  from public.parking_lots l
  cross join lateral (select public.lot_held_now(l.id) as held) h
  where p_lot_id is null or l.id = p_lot_id
  order by l.name, l.id
$$;

revoke execute on function public.lot_held_now(uuid), public.lot_availability(uuid) from public, anon;
grant execute on function public.lot_held_now(uuid), public.lot_availability(uuid) to authenticated, service_role;

-- The parking_updated event of a lot: its availability now, emitted to the lot, to everyone
-- watching all lots, and to admins.
create function public.append_lot_event(p_lot_id uuid, p_action text, p_actor uuid)
returns jsonb
language sql
set search_path = ''
as $$
  select public.append_event(
    'parking_lot:' || p_lot_id, 'parking_updated',
    array['parking_lot:' || p_lot_id, 'parking_updates', 'admin'],
    to_jsonb(a) || jsonb_build_object('action', p_action, 'timestamp', clock_timestamp()),
    p_actor)
  from public.lot_availability(p_lot_id) a
$$;
revoke execute on function public.append_lot_event(uuid, text, uuid) from public, anon, authenticated;
grant execute on function public.append_lot_event(uuid, text, uuid) to service_role;

-- booking_updated on the owner's stream (and to admins), plus parking_updated when the change
-- frees or takes a space, plus an optional notification. Returns the events, in order.
create function public.append_booking_events(
  b public.bookings, p_action text, p_actor uuid, p_lot_changed boolean,
  p_note_title text default null, p_note_message text default null, p_note_type text default 'info'
) returns jsonb
language plpgsql
set search_path = ''
as $$
declare
  events jsonb := '[]'::jsonb;
begin
  events := events || jsonb_build_array(public.append_event(
    'user:' || b.user_id, 'booking_updated', array['user:' || b.user_id, 'admin'],
    jsonb_build_object('booking_id', b.id, 'status', b.status, 'action', p_action,
                       'booking', public.booking_json(b), 'timestamp', clock_timestamp()),
    p_actor));
  if p_lot_changed then
    events := events || jsonb_build_array(public.append_lot_event(b.parking_lot_id, 'booking_' || p_action, p_actor));
  end if;
  if p_note_title is not null then
    events := events || jsonb_build_array(public.append_notification(
      b.user_id, p_note_title, p_note_message, p_note_type, jsonb_build_object('booking_id', b.id), p_actor));
  end if;
  return events;
end
$$;

revoke execute on function public.append_booking_events(public.bookings, text, uuid, boolean, text, text, text)
  from public, anon, authenticated;
grant execute on function public.append_booking_events(public.bookings, text, uuid, boolean, text, text, text)
  to service_role;

-- The instants at which an unpaid hold starts or stops counting in its lot's availability
-- (lot_held_now) with no status change to announce it. A paid booking's start and end are status
-- changes (activate, complete, in 008) that tell the lot's watchers; a pending hold stays pending
-- across both. create_booking writes the edges still ahead; advance_booking (008) announces each
-- when it is due and deletes it, and due_bookings finds those whose job was lost.
create table public.hold_window_edges (
  booking_id uuid not null references public.bookings (id) on delete cascade,
  transition text not null check (transition in ('hold_start', 'hold_end')),
  due_at timestamptz not null,
  primary key (booking_id, transition)
);
create index hold_window_edges_due on public.hold_window_edges (due_at);
alter table public.hold_window_edges enable row level security;
revoke all on public.hold_window_edges from anon, authenticated;
grant all on public.hold_window_edges to service_role;

-- A booking for the caller. The lot row lock serialises every booking of the lot (on every node),
-- so the capacity check and the insert are one step: two clients can never both take the last
-- space. With an idempotency key, the same key returns the same booking, never two.
-- A null start means now by the database's clock (read under the lot lock, so "now" bookings of
-- a lot are ordered as they commit); a null end means start plus p_duration_minutes.
create function public.create_booking(
  p_lot_id uuid, p_starts_at timestamptz, p_ends_at timestamptz,
  p_duration_minutes integer default null, p_idempotency_key text default null,
  p_vehicle_plate text default null
) returns jsonb
language plpgsql security definer
set search_path = ''
as $$
declare
  v_uid uuid := auth.uid();
  lot public.parking_lots;
  b public.bookings;
  v_peak integer;
  v_capacity integer;
  v_starts timestamptz;
  v_ends timestamptz;
  v_now timestamptz;
  settings public.booking_settings;
begin
  if v_uid is null then
    raise exception 'No user in the request claims' using errcode = '42501', hint = 'FORBIDDEN';
  end if;
  if p_ends_at is null and (p_duration_minutes is null or p_duration_minutes < 1) then
    raise exception 'give ends_at or a positive duration' using errcode = '22023', hint = 'VALIDATION_ERROR';
  end if;
  if p_starts_at is not null and p_ends_at is not null and p_ends_at <= p_starts_at then
    raise exception 'ends_at must be after starts_at' using errcode = '22023', hint = 'VALIDATION_ERROR';
  end if;
  if p_starts_at < now() - interval '5 minutes' then
    raise exception 'starts_at is in the past' using errcode = '22023', hint = 'VALIDATION_ERROR';
  end if;
  select * into settings from public.booking_settings;

  if p_idempotency_key is not null then
    -- Same user and key, concurrently: the second waits here, then finds the first's booking.
    perform pg_advisory_xact_lock(hashtextextended(v_uid::text || '/' || p_idempotency_key, 0));
    select * into b from public.bookings where user_id = v_uid and idempotency_key = p_idempotency_key;
    if found then
      if b.parking_lot_id <> p_lot_id then
        raise exception 'This idempotency key was already used for another booking' using errcode = 'P0001', hint = 'IDEMPOTENCY_KEY_REUSED';
      end if;
      return jsonb_build_object('booking', public.booking_json(b), 'replayed', true, 'events', '[]'::jsonb);
    end if;
  end if;

  -- A lot that is already full is refused without queueing for its lock: under a flood for the
  -- last space, losers answer at once. (Correct: it was full at this statement's snapshot.)
  select * into lot from public.parking_lots where id = p_lot_id;
  v_starts := coalesce(p_starts_at, clock_timestamp());
  v_ends := coalesce(p_ends_at, v_starts + make_interval(mins => p_duration_minutes));
  -- A window that is already over holds nothing and would only be charged. (After the replay
  -- above: a retry of a booking made before its end still gets that booking.)
  if v_ends <= clock_timestamp() then
    raise exception 'The booking''s window is already over (ends_at must be in the future)' using errcode = '22023', hint = 'VALIDATION_ERROR';
  end if;
  if lot.id is not null and v_ends > v_starts and public.lot_peak_holds(p_lot_id, v_starts, v_ends) >= public.lot_capacity(lot) then
    raise exception 'No space left in % for that time', lot.name using errcode = 'P0001', hint = 'LOT_FULL';
  end if;

  select * into lot from public.parking_lots where id = p_lot_id for update;
  if not found then
    raise exception 'Parking lot % does not exist', p_lot_id using errcode = 'P0002', hint = 'NOT_FOUND';
  end if;
  if not lot.is_open then
    raise exception 'Parking lot % is closed', lot.name using errcode = 'P0001', hint = 'LOT_CLOSED';
  end if;

  v_starts := coalesce(p_starts_at, clock_timestamp());
  v_ends := coalesce(p_ends_at, v_starts + make_interval(mins => p_duration_minutes));
  if v_ends <= v_starts then
    raise exception 'ends_at must be after starts_at' using errcode = '22023', hint = 'VALIDATION_ERROR';
  end if;
  if v_ends - v_starts > make_interval(hours => settings.max_hours) then
    raise exception 'A booking may last at most % hours', settings.max_hours using errcode = '22023', hint = 'VALIDATION_ERROR';
  end if;
  if v_starts > clock_timestamp() + make_interval(days => settings.max_days_ahead) then
    raise exception 'A booking may start at most % days ahead', settings.max_days_ahead using errcode = '22023', hint = 'VALIDATION_ERROR';
  end if;
  -- Serialised per user, so concurrent requests cannot all pass the count.
  perform pg_advisory_xact_lock(hashtextextended('pending/' || v_uid::text, 0));
  if (select count(*) from public.bookings where user_id = v_uid and status = 'pending') >= settings.max_pending_per_user then
    raise exception 'You already have % unpaid holds; pay or cancel one first', settings.max_pending_per_user
      using errcode = 'P0001', hint = 'TOO_MANY_HOLDS';
  end if;

  v_capacity := public.lot_capacity(lot);
  v_peak := public.lot_peak_holds(p_lot_id, v_starts, v_ends);
  if v_peak >= v_capacity then
    raise exception 'No space left in % for that time (% of % bookable spaces held)', lot.name, v_peak, v_capacity
      using errcode = 'P0001', hint = 'LOT_FULL';
  end if;

  -- Created when it is made under the lot lock (the wall clock), not when its transaction began:
  -- a window that starts after created_at was not counted by the creation's own announcement.
  v_now := clock_timestamp();
  insert into public.bookings (user_id, parking_lot_id, starts_at, ends_at, status, hold_expires_at,
                               amount_cents, vehicle_plate, idempotency_key, created_at, updated_at)
  values (v_uid, p_lot_id, v_starts, v_ends, 'pending', v_now + make_interval(secs => settings.hold_seconds),
          ceil(extract(epoch from (v_ends - v_starts)) / 3600 * lot.hourly_rate_cents)::integer,
          p_vehicle_plate, p_idempotency_key, v_now, v_now)
  returning * into b;
  -- The edges of this window that fall while it is still an unpaid hold and that no status change
  -- will announce: its start, when it comes after now and before the hold runs out; its end, when
  -- the hold outlives the window. (Past the hold, it has expired or been paid: those announce.)
  insert into public.hold_window_edges (booking_id, transition, due_at)
  select b.id, e.transition, e.due_at
    from (values ('hold_start', b.starts_at, b.starts_at > b.created_at and b.starts_at < b.hold_expires_at),
                 ('hold_end', b.ends_at, b.ends_at < b.hold_expires_at)) e(transition, due_at, within_hold)
   where e.within_hold;

  return jsonb_build_object('booking', public.booking_json(b), 'replayed', false,
    'events', public.append_booking_events(b, 'created', v_uid, true,
      'Space held', format('Your space at %s is held until %s. Pay to confirm it.', lot.name,
                           to_char(b.hold_expires_at at time zone 'utc', 'HH24:MI:SS "UTC"')), 'info'));
end
$$;
revoke execute on function public.create_booking(uuid, timestamptz, timestamptz, integer, text, text) from public, anon;
grant execute on function public.create_booking(uuid, timestamptz, timestamptz, integer, text, text) to authenticated, service_role;

-- The waitlist: when a window of a lot is full (LOT_FULL), a user queues for it; when space frees
-- for a waiting window, the first waiter it fits (priority first, then arrival) gets an offer: a
-- pending booking made for them with a short hold, which they pay like any other hold.
--
-- Offers are decided here, in SQL, in the same transaction that frees the space and under the lot
-- row lock every booking change takes first (006, 008): so exactly one offer per freed space,
-- whichever node freed it, and none lost if a node dies (the offer commits with the freeing, or
-- neither does). Triggers on bookings and parking_lots call it, so every path that frees space
-- (cancel, expiry, completion, payment refusal, an admin raising capacity or reopening, a direct
-- edit, a deleted user) offers without any command being changed.

create table public.waitlist_settings (
  id boolean primary key default true check (id),
  -- How long an offer's hold lasts before it passes to the next waiter.
  offer_seconds integer not null default 120 check (offer_seconds between 1 and 86400),
  updated_at timestamptz not null default now()
);
insert into public.waitlist_settings default values;
alter table public.waitlist_settings enable row level security;
revoke all on public.waitlist_settings from anon, authenticated;
grant all on public.waitlist_settings to service_role;

create function public.configure_waitlist(p_offer_seconds integer) returns void
language sql
set search_path = ''
as $$ update public.waitlist_settings set offer_seconds = p_offer_seconds, updated_at = now() $$;
revoke execute on function public.configure_waitlist(integer) from public, anon, authenticated;
grant execute on function public.configure_waitlist(integer) to service_role;

-- Arrival order: taken under the lot lock, so within a lot it is the order joins committed.
create sequence public.waitlist_arrival;

create table public.waitlist_entries (
  id uuid primary key default gen_random_uuid(),
  user_id uuid not null,
  parking_lot_id uuid not null references public.parking_lots (id) on delete cascade,
  starts_at timestamptz not null,
  ends_at timestamptz not null,
  -- 0 normal; higher ones only an admin grants (set_waitlist_priority), e.g. permit holders.
  priority smallint not null default 0 check (priority between 0 and 9),
  status text not null default 'waiting' check (status in ('waiting', 'offered', 'accepted', 'lapsed', 'left')),
  offer_booking_id uuid references public.bookings (id) on delete set null,
  -- 1-based place among the lot's waiting entries, as last announced (null once not waiting).
  position integer,
  arrival bigint not null default nextval('public.waitlist_arrival'),
  created_at timestamptz not null default clock_timestamp(),
  updated_at timestamptz not null default clock_timestamp(),
  constraint waitlist_window check (ends_at > starts_at)
);
-- The queue, in the order offers go.
create index waitlist_queue on public.waitlist_entries (parking_lot_id, priority desc, arrival) where status = 'waiting';
create index waitlist_user on public.waitlist_entries (user_id, created_at desc);
create index waitlist_offer on public.waitlist_entries (offer_booking_id) where offer_booking_id is not null;
-- One open entry per user and window: joining again returns it.
create unique index waitlist_open_once on public.waitlist_entries (user_id, parking_lot_id, starts_at, ends_at)
  where status in ('waiting', 'offered');

do $$
begin
  if to_regclass('auth.users') is not null then
    alter table public.waitlist_entries add constraint waitlist_entries_user_fk
      foreign key (user_id) references auth.users (id) on delete cascade;
  end if;
end
$$;

alter table public.waitlist_entries enable row level security;
create policy waitlist_read on public.waitlist_entries for select to authenticated
  using (user_id = (select auth.uid()) or public.is_lot_admin(parking_lot_id));
revoke all on public.waitlist_entries, public.waitlist_arrival from anon, authenticated;
grant select on public.waitlist_entries to authenticated;
grant all on public.waitlist_entries, public.waitlist_arrival to service_role;

create function public.waitlist_entry_json(e public.waitlist_entries) returns jsonb
language sql stable
set search_path = ''
as $$
  select jsonb_build_object(
    'id', e.id, 'user_id', e.user_id, 'parking_lot_id', e.parking_lot_id,
    'starts_at', e.starts_at, 'ends_at', e.ends_at, 'priority', e.priority, 'status', e.status,
    'position', e.position, 'offer_booking_id', e.offer_booking_id,
    'created_at', e.created_at, 'updated_at', e.updated_at)
$$;
revoke execute on function public.waitlist_entry_json(public.waitlist_entries) from public, anon;
grant execute on function public.waitlist_entry_json(public.waitlist_entries) to authenticated, service_role;

-- waitlist_updated on the waiter's stream, and to admins (the queue view).
create function public.append_waitlist_event(e public.waitlist_entries, p_actor uuid) returns jsonb
language sql
set search_path = ''
as $$
  select public.append_event('user:' || e.user_id, 'waitlist_updated', array['user:' || e.user_id, 'admin'],
    jsonb_build_object('entry_id', e.id, 'parking_lot_id', e.parking_lot_id, 'starts_at', e.starts_at,
                       'ends_at', e.ends_at, 'status', e.status, 'position', e.position,
                       'priority', e.priority, 'offer_booking_id', e.offer_booking_id,
                       'entry', public.waitlist_entry_json(e), 'timestamp', clock_timestamp()),
    p_actor)
$$;
revoke execute on function public.append_waitlist_event(public.waitlist_entries, uuid) from public, anon, authenticated;
grant execute on function public.append_waitlist_event(public.waitlist_entries, uuid) to service_role;

-- Renumbers the lot's waiting entries (caller holds the lot lock) and announces every entry whose
-- place moved, plus those in p_changed (their status or priority changed), in queue order.
create function public.waitlist_reposition(p_lot_id uuid, p_changed uuid[], p_actor uuid) returns jsonb
language plpgsql
set search_path = ''
as $$
declare
  moved uuid[];
  e public.waitlist_entries;
  events jsonb := '[]'::jsonb;
begin
  with ranked as (
    select w.id, row_number() over (order by w.priority desc, w.arrival)::integer as pos
      from public.waitlist_entries w where w.parking_lot_id = p_lot_id and w.status = 'waiting'
  ), upd as (
    update public.waitlist_entries w set position = r.pos, updated_at = clock_timestamp()
      from ranked r where w.id = r.id and w.position is distinct from r.pos
    returning w.id
  )
  select coalesce(array_agg(id), '{}') into moved from upd;
  for e in
    select * from public.waitlist_entries w
     where w.id = any(moved || coalesce(p_changed, '{}'))
     order by (w.status = 'waiting'), w.position, w.priority desc, w.arrival
  loop
    events := events || jsonb_build_array(public.append_waitlist_event(e, p_actor));
  end loop;
  return events;
end
$$;
revoke execute on function public.waitlist_reposition(uuid, uuid[], uuid) from public, anon, authenticated;

-- The offers a lot owes now: each waiting entry, priority first then arrival, whose window fits
-- gets a pending booking held offer_seconds (a pass in that order suffices: holds only grow in
-- it). Entries whose window is over lapse. The caller holds the lot lock (the triggers below run
-- inside the statement that freed the space). A closed lot offers nothing until it reopens.
-- No parking_updated here: every path that frees space announces the lot after this ran, so
-- that one event already counts the offers.
create function public.waitlist_offer_spaces(p_lot_id uuid, p_changed uuid[], p_actor uuid) returns jsonb
language plpgsql
set search_path = ''
as $$
declare
  lot public.parking_lots;
  e public.waitlist_entries;
  b public.bookings;
  v_now timestamptz;
  changed uuid[] := coalesce(p_changed, '{}');
  events jsonb := '[]'::jsonb;
  v_offer integer := (select s.offer_seconds from public.waitlist_settings s);
  full_from timestamptz[] := '{}';
  full_to timestamptz[] := '{}';
begin
  select * into lot from public.parking_lots l where l.id = p_lot_id for update;
  if not found then return events; end if;
  with gone as (
    update public.waitlist_entries w set status = 'lapsed', position = null, updated_at = clock_timestamp()
     where w.parking_lot_id = p_lot_id and w.status = 'waiting' and w.ends_at <= clock_timestamp()
    returning w.id
  )
  select changed || coalesce(array_agg(id), '{}') into changed from gone;
  if lot.is_open then
    for e in
      select * from public.waitlist_entries w where w.parking_lot_id = p_lot_id and w.status = 'waiting'
       order by w.priority desc, w.arrival
    loop
      -- A window containing one found full is full too (holds only grow in this pass): a queue
      -- of the same few windows costs a few capacity checks, not one per waiter.
      if exists (select 1 from unnest(full_from, full_to) f(a, z) where f.a >= e.starts_at and f.z <= e.ends_at) then
        continue;
      end if;
      if public.lot_peak_holds(p_lot_id, e.starts_at, e.ends_at) >= public.lot_capacity(lot) then
        full_from := full_from || e.starts_at;
        full_to := full_to || e.ends_at;
      else
        v_now := clock_timestamp();
        -- The booking's history (013) records why it was made: an offer, not a booking of its own.
        perform set_config('spotcast.change_reason', 'offered', true);
        insert into public.bookings (user_id, parking_lot_id, starts_at, ends_at, status, hold_expires_at,
                                     amount_cents, created_at, updated_at)
        values (e.user_id, p_lot_id, e.starts_at, e.ends_at, 'pending', v_now + make_interval(secs => v_offer),
                ceil(extract(epoch from (e.ends_at - e.starts_at)) / 3600 * lot.hourly_rate_cents)::integer, v_now, v_now)
        returning * into b;
        perform set_config('spotcast.change_reason', '', true);
        -- The window edges a hold must announce, by create_booking's rule (006).
        insert into public.hold_window_edges (booking_id, transition, due_at)
        select b.id, x.transition, x.due_at
          from (values ('hold_start', b.starts_at, b.starts_at > b.created_at and b.starts_at < b.hold_expires_at),
                       ('hold_end', b.ends_at, b.ends_at < b.hold_expires_at)) x(transition, due_at, within_hold)
         where x.within_hold;
        update public.waitlist_entries w set status = 'offered', offer_booking_id = b.id, position = null,
               updated_at = clock_timestamp()
         where w.id = e.id;
        changed := changed || e.id;
        events := events || public.append_booking_events(b, 'offered', p_actor, false,
          'A space freed up', format('A space at %s is held for you until %s. Pay to confirm it.', lot.name,
                                     to_char(b.hold_expires_at at time zone 'utc', 'HH24:MI:SS "UTC"')), 'success');
      end if;
    end loop;
  end if;
  return events || public.waitlist_reposition(p_lot_id, changed, p_actor);
end
$$;
revoke execute on function public.waitlist_offer_spaces(uuid, uuid[], uuid) from public, anon, authenticated;

-- Events a trigger logged inside someone else's transaction: the command that fired it returns
-- only its own events, so these are handed to the relay (origin null, and a notification at
-- commit), which any node runs: delivered promptly even if the node that committed dies.
create function public.waitlist_publish(p_events jsonb) returns void
language plpgsql
set search_path = ''
as $$
begin
  if jsonb_array_length(p_events) = 0 then return; end if;
  update public.event_log set origin = null
   where id in (select (x->>'id')::bigint from jsonb_array_elements(p_events) x);
  perform pg_notify('spotcast_events', '');
end
$$;
revoke execute on function public.waitlist_publish(jsonb) from public, anon, authenticated;

-- After bookings change: an offer paid becomes accepted, one cancelled is left, one expired
-- lapses; then every lot where a booking stopped holding its window (or moved it) offers what it
-- now owes. Statement-level, lots locked in id order (as 011 does). Named to run before 011's
-- bookings_direct_* triggers (same timing fires in name order), so that a direct edit's
-- parking_updated already counts the offers made here.
create function public.waitlist_after_bookings_change() returns trigger
language plpgsql security definer
set search_path = ''
as $$
declare
  v_lot uuid;
  settled uuid[] := '{}';
  lots uuid[];
  events jsonb := '[]'::jsonb;
  v_actor uuid := auth.uid();
begin
  if tg_op = 'UPDATE' then
    with s as (
      update public.waitlist_entries w
         set status = case when n.status in ('confirmed', 'active', 'completed') then 'accepted'
                           when n.status = 'cancelled' then 'left' else 'lapsed' end,
             updated_at = clock_timestamp()
        from new_rows n join old_rows o on o.id = n.id
       where w.offer_booking_id = n.id and w.status = 'offered' and o.status = 'pending' and n.status <> 'pending'
      returning w.id
    )
    select coalesce(array_agg(id), '{}') into settled from s;
    select coalesce(array_agg(distinct o.parking_lot_id), '{}') into lots
      from old_rows o join new_rows n on n.id = o.id
     where o.status in ('pending', 'confirmed', 'active')
       and (n.status not in ('pending', 'confirmed', 'active')
            or (o.parking_lot_id, o.starts_at, o.ends_at) is distinct from (n.parking_lot_id, n.starts_at, n.ends_at));
  else
    select coalesce(array_agg(distinct o.parking_lot_id), '{}') into lots
      from old_rows o where o.status in ('pending', 'confirmed', 'active');
  end if;
  -- An accepted offer frees nothing, but its waiter hears the status change.
  lots := lots || array(select distinct w.parking_lot_id from public.waitlist_entries w where w.id = any(settled));
  for v_lot in select distinct x from unnest(lots) x order by x loop
    events := events || public.waitlist_offer_spaces(v_lot,
      array(select w.id from public.waitlist_entries w where w.id = any(settled) and w.parking_lot_id = v_lot), v_actor);
  end loop;
  perform public.waitlist_publish(events);
  return null;
end
$$;
create trigger bookings_check_waitlist_update after update on public.bookings
  referencing old table as old_rows new table as new_rows
  for each statement
  execute function public.waitlist_after_bookings_change();
create trigger bookings_check_waitlist_delete after delete on public.bookings
  referencing old table as old_rows
  for each statement
  execute function public.waitlist_after_bookings_change();

-- After lots change: more bookable spaces (total up, out of service or unbooked occupancy down)
-- or a reopened lot offers what it now owes. Runs before 011's parking_lots_direct_update, for
-- the same reason as above; set_lot_availability announces the lot after its update too.
create function public.waitlist_after_lots_change() returns trigger
language plpgsql security definer
set search_path = ''
as $$
declare
  v_lot uuid;
  events jsonb := '[]'::jsonb;
begin
  for v_lot in
    select n.id from new_lots n join old_lots o on o.id = n.id
     where n.is_open and (public.lot_capacity(n) > public.lot_capacity(o) or not o.is_open)
     order by n.id
  loop
    events := events || public.waitlist_offer_spaces(v_lot, '{}', auth.uid());
  end loop;
  perform public.waitlist_publish(events);
  return null;
end
$$;
create trigger parking_lots_check_waitlist after update on public.parking_lots
  referencing old table as old_lots new table as new_lots
  for each statement
  execute function public.waitlist_after_lots_change();
revoke execute on function public.waitlist_after_bookings_change(), public.waitlist_after_lots_change() from public, anon, authenticated;

-- The commands of a caller (security definer: they check the caller's claims themselves, and
-- take the lot lock first like every booking command).

-- Queue for a window of a full lot. Validated like create_booking (006); a window with space is
-- refused SPACE_AVAILABLE (book it instead). Joining the same window again returns the open entry.
create function public.join_waitlist(
  p_lot_id uuid, p_starts_at timestamptz, p_ends_at timestamptz, p_duration_minutes integer default null
) returns jsonb
language plpgsql security definer
set search_path = ''
as $$
declare
  v_uid uuid := auth.uid();
  lot public.parking_lots;
  e public.waitlist_entries;
  v_starts timestamptz;
  v_ends timestamptz;
  settings public.booking_settings;
  events jsonb;
begin
  if v_uid is null then
    raise exception 'No user in the request claims' using errcode = '42501', hint = 'FORBIDDEN';
  end if;
  if p_ends_at is null and (p_duration_minutes is null or p_duration_minutes < 1) then
    raise exception 'give ends_at or a positive duration' using errcode = '22023', hint = 'VALIDATION_ERROR';
  end if;
  if p_starts_at < now() - interval '5 minutes' then
    raise exception 'starts_at is in the past' using errcode = '22023', hint = 'VALIDATION_ERROR';
  end if;
  select * into settings from public.booking_settings;
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
  if v_ends <= clock_timestamp() then
    raise exception 'The window is already over (ends_at must be in the future)' using errcode = '22023', hint = 'VALIDATION_ERROR';
  end if;
  if v_ends - v_starts > make_interval(hours => settings.max_hours) then
    raise exception 'A booking may last at most % hours', settings.max_hours using errcode = '22023', hint = 'VALIDATION_ERROR';
  end if;
  if v_starts > clock_timestamp() + make_interval(days => settings.max_days_ahead) then
    raise exception 'A booking may start at most % days ahead', settings.max_days_ahead using errcode = '22023', hint = 'VALIDATION_ERROR';
  end if;
  select * into e from public.waitlist_entries w
   where w.user_id = v_uid and w.parking_lot_id = p_lot_id and w.starts_at = v_starts and w.ends_at = v_ends
     and w.status in ('waiting', 'offered');
  if found then
    return jsonb_build_object('entry', public.waitlist_entry_json(e), 'replayed', true, 'events', '[]'::jsonb);
  end if;
  if public.lot_peak_holds(p_lot_id, v_starts, v_ends) < public.lot_capacity(lot) then
    raise exception 'There is space in % for that window: book it instead', lot.name using errcode = 'P0001', hint = 'SPACE_AVAILABLE';
  end if;
  insert into public.waitlist_entries (user_id, parking_lot_id, starts_at, ends_at)
  values (v_uid, p_lot_id, v_starts, v_ends) returning * into e;
  -- Its own statement: the entry read after it sees the position it wrote.
  events := public.waitlist_reposition(p_lot_id, array[e.id], v_uid);
  select * into e from public.waitlist_entries w where w.id = e.id;
  return jsonb_build_object('entry', public.waitlist_entry_json(e), 'replayed', false, 'events', events);
end
$$;

-- Leave the queue (the waiter, or an admin). An open offer is cancelled with it: its space goes
-- to the next waiter (the trigger above, in this transaction).
create function public.leave_waitlist(p_entry_id uuid) returns jsonb
language plpgsql security definer
set search_path = ''
as $$
declare
  v_uid uuid := auth.uid();
  e public.waitlist_entries;
  b public.bookings;
  events jsonb;
begin
  select * into e from public.waitlist_entries where id = p_entry_id;
  if not found or v_uid is null or (e.user_id <> v_uid and not public.is_lot_admin(e.parking_lot_id)) then
    raise exception 'Waitlist entry % does not exist', p_entry_id using errcode = 'P0002', hint = 'NOT_FOUND';
  end if;
  perform 1 from public.parking_lots where id = e.parking_lot_id for update;
  select * into e from public.waitlist_entries where id = p_entry_id for update;
  if e.status not in ('waiting', 'offered') then
    raise exception 'A % waitlist entry cannot be left', e.status using errcode = 'P0001', hint = 'INVALID_TRANSITION';
  end if;
  update public.waitlist_entries set status = 'left', position = null, updated_at = clock_timestamp()
   where id = p_entry_id returning * into e;
  events := public.waitlist_reposition(e.parking_lot_id, array[e.id], v_uid);
  if e.offer_booking_id is not null then
    update public.bookings set status = 'cancelled', hold_expires_at = null, updated_at = now()
     where id = e.offer_booking_id and status = 'pending' returning * into b;
    if b.id is not null then
      events := events || public.append_booking_events(b, 'cancelled', v_uid, true, 'Offer declined',
        'You left the waitlist; the space held for you was released.', 'info');
    end if;
  end if;
  return jsonb_build_object('entry', public.waitlist_entry_json(e), 'events', events);
end
$$;

-- An admin grants (or takes back) a priority: the entry moves in the queue.
create function public.set_waitlist_priority(p_entry_id uuid, p_priority integer) returns jsonb
language plpgsql security definer
set search_path = ''
as $$
declare
  e public.waitlist_entries;
  events jsonb;
begin
  if not public.has_admin_role() then
    raise exception 'Only admins can set a waitlist priority' using errcode = '42501', hint = 'FORBIDDEN';
  end if;
  if p_priority is null or p_priority < 0 or p_priority > 9 then
    raise exception 'priority must be between 0 and 9' using errcode = '22023', hint = 'VALIDATION_ERROR';
  end if;
  select * into e from public.waitlist_entries where id = p_entry_id;
  if not found then
    raise exception 'Waitlist entry % does not exist', p_entry_id using errcode = 'P0002', hint = 'NOT_FOUND';
  end if;
  if not public.is_lot_admin(e.parking_lot_id) then
    raise exception 'Only admins of this lot can set a waitlist priority' using errcode = '42501', hint = 'FORBIDDEN';
  end if;
  perform 1 from public.parking_lots where id = e.parking_lot_id for update;
  select * into e from public.waitlist_entries where id = p_entry_id for update;
  if e.status not in ('waiting', 'offered') then
    raise exception 'A % waitlist entry has no place in the queue', e.status using errcode = 'P0001', hint = 'INVALID_TRANSITION';
  end if;
  update public.waitlist_entries set priority = p_priority, updated_at = clock_timestamp() where id = p_entry_id;
  insert into public.admin_audit_log (actor_id, action, target_type, target_id, details, operator_id)
  values (auth.uid(), 'set_waitlist_priority', 'waitlist_entry', p_entry_id::text,
          jsonb_build_object('before', e.priority, 'after', p_priority),
          (select l.operator_id from public.parking_lots l where l.id = e.parking_lot_id));
  events := public.waitlist_reposition(e.parking_lot_id, array[e.id], auth.uid());
  select * into e from public.waitlist_entries w where w.id = p_entry_id;
  return jsonb_build_object('entry', public.waitlist_entry_json(e), 'events', events);
end
$$;

-- Reads, as the caller (RLS decides).
create function public.list_waitlist(p_status text default null, p_limit integer default 50) returns jsonb
language sql stable
set search_path = ''
as $$
  select coalesce(jsonb_agg(public.waitlist_entry_json(w) order by w.created_at desc, w.id), '[]'::jsonb)
  from (select * from public.waitlist_entries x
         where x.user_id = auth.uid() and (p_status is null or x.status = p_status)
         order by x.created_at desc, x.id limit least(greatest(p_limit, 1), 200)) w
$$;

-- A lot's queue for admins: open offers, then waiters in offer order.
create function public.admin_waitlist(p_lot_id uuid) returns jsonb
language plpgsql stable
set search_path = ''
as $$
begin
  if not public.is_lot_admin(p_lot_id) then
    raise exception 'Only admins of this lot can see its waitlist' using errcode = '42501', hint = 'FORBIDDEN';
  end if;
  return (select coalesce(jsonb_agg(public.waitlist_entry_json(w)
            order by w.status = 'waiting', w.priority desc, w.arrival), '[]'::jsonb)
            from public.waitlist_entries w where w.parking_lot_id = p_lot_id and w.status in ('waiting', 'offered'));
end
$$;

revoke execute on function public.join_waitlist(uuid, timestamptz, timestamptz, integer), public.leave_waitlist(uuid),
  public.set_waitlist_priority(uuid, integer), public.list_waitlist(text, integer), public.admin_waitlist(uuid) from public, anon;
grant execute on function public.join_waitlist(uuid, timestamptz, timestamptz, integer), public.leave_waitlist(uuid),
  public.set_waitlist_priority(uuid, integer), public.list_waitlist(text, integer), public.admin_waitlist(uuid) to authenticated, service_role;

-- 011's list of commands that announce their own writes, plus the waitlist's two that write
-- bookings (an offer, a cancelled offer). Body otherwise exactly as in 011.
create or replace function public.in_spotcast_command() returns boolean
language plpgsql stable
set search_path = ''
as $$
declare
  stack text;
begin
  get diagnostics stack = pg_context;
  return stack ~ '(^|\n)(PL/pgSQL function public\.|SQL function ")(create_booking|cancel_booking|advance_booking|apply_payment_event|set_lot_availability|append_notification|waitlist_offer_spaces|leave_waitlist)[("]';
end
$$;
revoke execute on function public.in_spotcast_command() from public, anon, authenticated;

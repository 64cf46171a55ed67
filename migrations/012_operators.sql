-- Operators (multitenancy): an operator owns lots; its admins see and change only what belongs to
-- those lots. Who is whose comes from the JWT: an org claim (JWT_ORG_CLAIM, default
-- `app_metadata.org_id`, stored here like the role claim of 001) beside the role claim.
--   role admin, no org claim   -> the platform admin: everything, exactly as admins before 012;
--   role admin, org claim      -> that operator's admin: its lots, their bookings, payments, events
--                                 and logs (rows written for principals carrying its org);
--   anything else              -> a user (drivers book in any lot, whatever their org claim).
-- Safe by default: is_admin() now means the platform admin only, so every check not switched to
-- is_lot_admin() (or admin_operator_id()) refuses an operator's admin.
-- Existing deployments keep working: every lot moves to the default operator (a fixed id), and a
-- lot created without an operator goes to the creating operator admin's, else the default.

create table public.operators (
  id uuid primary key default gen_random_uuid(),
  name text not null check (length(name) between 1 and 200),
  created_at timestamptz not null default now()
);
insert into public.operators (id, name) values ('00000000-0000-0000-0000-000000000001', 'Default operator');

-- Where the org claim sits in the JWT (the server writes its JWT_ORG_CLAIM at start).
alter table public.spotcast_settings add column org_claim_path text not null default 'app_metadata.org_id'
  check (org_claim_path ~ '^[A-Za-z0-9_]+(\.[A-Za-z0-9_]+)*$');

create function public.configure_org_claim(p_path text) returns void
language sql
set search_path = ''
as $$
  update public.spotcast_settings set org_claim_path = p_path, updated_at = now()
$$;
revoke execute on function public.configure_org_claim(text) from public, anon, authenticated;
grant execute on function public.configure_org_claim(text) to service_role;

-- The caller's org claim as text (null when absent or JSON null), read like is_admin() reads the
-- role: the per-transaction `spotcast.org_claim_path` when the server set one, else the stored one.
create function public.org_claim() returns text
language sql stable security definer
set search_path = ''
as $$
  select auth.jwt() #>> string_to_array(coalesce(
    nullif(current_setting('spotcast.org_claim_path', true), ''),
    (select s.org_claim_path from public.spotcast_settings s),
    'app_metadata.org_id'), '.')
$$;

-- The application role claim says admin (platform or operator): is_admin()'s body before 012.
create function public.has_admin_role() returns boolean
language sql stable security definer
set search_path = ''
as $$
  select coalesce(
    auth.jwt() #>> string_to_array(coalesce(
      nullif(current_setting('spotcast.role_claim_path', true), ''),
      (select s.role_claim_path from public.spotcast_settings s),
      'app_metadata.role'), '.') = 'admin',
    false
  )
$$;

-- Redefined (001): the PLATFORM admin only. An admin token carrying an org claim (even one that is
-- not an operator id) is not one: it fails closed wherever is_admin() is still the check.
create or replace function public.is_admin() returns boolean
language sql stable security definer
set search_path = ''
as $$
  select public.has_admin_role() and public.org_claim() is null
$$;

-- The operator the caller's org claim names (any role), or null when none or not an id.
create function public.current_operator_id() returns uuid
language sql stable
set search_path = ''
as $$
  select case when public.org_claim() ~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'
              then lower(public.org_claim())::uuid end
$$;

-- The operator whose admin the caller is: null for the platform admin and for users.
create function public.admin_operator_id() returns uuid
language sql stable
set search_path = ''
as $$
  select case when public.has_admin_role() then public.current_operator_id() end
$$;

-- The admin room of an operator (server/contract/rooms.ts: rooms.operatorAdmin). The one place
-- the SQL spells it; null for no operator.
create function public.operator_room(p_operator_id uuid) returns text
language sql immutable
set search_path = ''
as $$ select 'admin:' || p_operator_id::text $$;

revoke execute on function public.org_claim(), public.has_admin_role(), public.current_operator_id(),
  public.admin_operator_id(), public.operator_room(uuid) from public, anon;
grant execute on function public.org_claim(), public.has_admin_role(), public.current_operator_id(),
  public.admin_operator_id(), public.operator_room(uuid) to authenticated, service_role;

alter table public.operators enable row level security;
create policy operators_read on public.operators for select to authenticated
  using ((select public.is_admin()) or id = (select public.current_operator_id()));
revoke all on public.operators from anon, authenticated;
grant select on public.operators to authenticated;
grant all on public.operators to service_role;

-- Lots: every existing lot to the default operator; a new one to its creator's operator.
create function public.new_lot_operator() returns uuid
language sql stable
set search_path = ''
as $$ select coalesce(public.admin_operator_id(), '00000000-0000-0000-0000-000000000001'::uuid) $$;
revoke execute on function public.new_lot_operator() from public, anon;
grant execute on function public.new_lot_operator() to authenticated, service_role;

alter table public.parking_lots add column operator_id uuid references public.operators (id);
update public.parking_lots set operator_id = '00000000-0000-0000-0000-000000000001';
alter table public.parking_lots alter column operator_id set default public.new_lot_operator(),
  alter column operator_id set not null;
create index parking_lots_operator on public.parking_lots (operator_id);

-- May the caller administer this lot: the platform admin any, an operator's admin its own.
create function public.is_lot_admin(p_lot_id uuid) returns boolean
language sql stable security definer
set search_path = ''
as $$
  select public.is_admin() or exists (
    select 1 from public.parking_lots l where l.id = p_lot_id and l.operator_id = public.admin_operator_id())
$$;
revoke execute on function public.is_lot_admin(uuid) from public, anon;
grant execute on function public.is_lot_admin(uuid) to authenticated, service_role;

drop policy parking_lots_admin_write on public.parking_lots;
create policy parking_lots_admin_write on public.parking_lots for all to authenticated
  using ((select public.is_admin()) or operator_id = (select public.admin_operator_id()))
  with check ((select public.is_admin()) or operator_id = (select public.admin_operator_id()));

-- Bookings and payments of the operator's lots.
drop policy bookings_read on public.bookings;
create policy bookings_read on public.bookings for select to authenticated
  using (user_id = (select auth.uid()) or (select public.is_admin())
         or parking_lot_id in (select l.id from public.parking_lots l where l.operator_id = (select public.admin_operator_id())));

drop policy payments_read on public.payments;
create policy payments_read on public.payments for select to authenticated
  using (user_id = (select auth.uid()) or (select public.is_admin())
         or booking_id in (select b.id from public.bookings b join public.parking_lots l on l.id = b.parking_lot_id
                            where l.operator_id = (select public.admin_operator_id())));

-- Events: an operator's admin reads what was emitted to its admin room (replay, activity).
drop policy event_log_read on public.event_log;
create policy event_log_read on public.event_log for select to authenticated
  using (stream like 'parking\_lot:%' or stream = 'user:' || (select auth.uid())::text or (select public.is_admin())
         or (select public.operator_room(public.admin_operator_id())) = any (rooms));

-- Audit entries belong to an operator (null: the platform's); its admins read theirs.
alter table public.admin_audit_log add column operator_id uuid default public.admin_operator_id();
create index admin_audit_log_operator on public.admin_audit_log (operator_id, occurred_at desc);
drop policy audit_admin_read on public.admin_audit_log;
create policy audit_admin_read on public.admin_audit_log for select to authenticated
  using ((select public.is_admin()) or operator_id = (select public.admin_operator_id()));
drop policy audit_admin_insert on public.admin_audit_log;
create policy audit_admin_insert on public.admin_audit_log for insert to authenticated
  with check (((select public.is_admin()) or operator_id = (select public.admin_operator_id()))
              and actor_id = (select auth.uid()));

-- Connection and client-event logs: the server records the org claim of each connection; an
-- operator's admin reads the rows of principals carrying its org (and its daily stats cover those).
alter table public.realtime_connection_log add column operator_id uuid;
alter table public.realtime_event_log add column operator_id uuid;
create index realtime_connection_log_operator on public.realtime_connection_log (operator_id, connected_at) where operator_id is not null;
create index realtime_event_log_operator on public.realtime_event_log (operator_id, occurred_at) where operator_id is not null;
drop policy connection_log_read on public.realtime_connection_log;
create policy connection_log_read on public.realtime_connection_log for select to authenticated
  using (user_id = (select auth.uid()) or (select public.is_admin()) or operator_id = (select public.admin_operator_id()));
drop policy event_log_read on public.realtime_event_log;
create policy event_log_read on public.realtime_event_log for select to authenticated
  using (user_id = (select auth.uid()) or (select public.is_admin()) or operator_id = (select public.admin_operator_id()));

-- The rooms of an event: whatever goes to the platform's `admin` room also goes to the admin room
-- of the operator of the lot the event is about (its parking_lot_id, its booking's, the lot of its
-- booking_id, or its lot stream). Events other features add later get this too.
create function public.with_operator_rooms(p_rooms text[], p_stream text, p_payload jsonb) returns text[]
language plpgsql stable security definer
set search_path = ''
as $$
declare
  v_lot text;
  v_room text;
begin
  if not ('admin' = any (p_rooms)) then
    return p_rooms;
  end if;
  v_lot := coalesce(p_payload ->> 'parking_lot_id', p_payload -> 'booking' ->> 'parking_lot_id');
  if v_lot is null and p_payload ->> 'booking_id' ~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$' then
    select b.parking_lot_id::text into v_lot from public.bookings b where b.id = (p_payload ->> 'booking_id')::uuid;
  end if;
  if v_lot is null and p_stream like 'parking\_lot:%' then
    v_lot := substr(p_stream, length('parking_lot:') + 1);
  end if;
  if v_lot is null or v_lot !~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$' then
    return p_rooms;
  end if;
  select public.operator_room(l.operator_id) into v_room from public.parking_lots l where l.id = v_lot::uuid;
  if v_room is null or v_room = any (p_rooms) then
    return p_rooms;
  end if;
  return p_rooms || v_room;
end
$$;
revoke execute on function public.with_operator_rooms(text[], text, jsonb) from public, anon, authenticated;
grant execute on function public.with_operator_rooms(text[], text, jsonb) to service_role;

-- Redefined (002): the body of 002 with two changes: the rooms pass through with_operator_rooms,
-- and `actor_role` is admin for any admin (has_admin_role), operator admins included.
create or replace function public.append_event(
  p_stream text, p_event text, p_rooms text[], p_payload jsonb, p_actor uuid
) returns jsonb
language plpgsql
set search_path = ''
as $$
declare
  v_seq bigint;
  v_id bigint;
  v_at timestamptz := clock_timestamp();
  v_rooms text[] := public.with_operator_rooms(p_rooms, p_stream, p_payload);
  v_payload jsonb := p_payload || jsonb_build_object('actor_role',
    case when p_actor is null then 'system' when p_actor = auth.uid() and public.has_admin_role() then 'admin' else 'user' end);
begin
  if p_stream like 'user:%' then
    v_payload := v_payload || jsonb_build_object('actor_id', p_actor);
  end if;
  insert into public.stream_sequences as s (stream, last_seq) values (p_stream, 1)
  on conflict (stream) do update set last_seq = s.last_seq + 1
  returning last_seq into v_seq;
  insert into public.event_log (stream, seq, event, rooms, payload, actor_id)
  values (p_stream, v_seq, p_event, v_rooms, v_payload, p_actor)
  returning id into v_id;
  return jsonb_build_object('id', v_id, 'stream', p_stream, 'seq', v_seq, 'event', p_event,
                            'rooms', to_jsonb(v_rooms), 'payload', v_payload, 'created_at', v_at);
end
$$;

-- Redefined (008): the body of 008 with one change: the owner or an admin of the booking's lot
-- (is_lot_admin) may cancel it.
create or replace function public.cancel_booking(p_booking_id uuid, p_reason text default null)
returns jsonb
language plpgsql security definer
set search_path = ''
as $$
declare
  v_uid uuid := auth.uid();
  b public.bookings;
  p public.payments;
  events jsonb;
begin
  select * into b from public.bookings where id = p_booking_id;
  -- Someone else's booking is reported exactly like a missing one: existence is not leaked.
  if not found or v_uid is null or (b.user_id <> v_uid and not public.is_lot_admin(b.parking_lot_id)) then
    raise exception 'Booking % does not exist', p_booking_id using errcode = 'P0002', hint = 'NOT_FOUND';
  end if;
  -- Lock order everywhere: lot, then booking, then streams.
  perform 1 from public.parking_lots where id = b.parking_lot_id for update;
  select * into b from public.bookings where id = p_booking_id for update;
  if b.status not in ('pending', 'confirmed') then
    raise exception 'A % booking cannot be cancelled', b.status using errcode = 'P0001', hint = 'INVALID_TRANSITION';
  end if;
  update public.bookings set status = 'cancelled', hold_expires_at = null, updated_at = now()
   where id = p_booking_id returning * into b;
  events := public.append_booking_events(b, 'cancelled', v_uid, true, 'Booking cancelled',
      coalesce('Your booking was cancelled: ' || p_reason, 'Your booking was cancelled.'), 'warning');
  -- A paid booking that is cancelled is owed back.
  for p in update public.payments set status = 'refunded', updated_at = now()
            where booking_id = b.id and status = 'succeeded' returning * loop
    events := events || jsonb_build_array(public.append_payment_event(p, 'refund_due', v_uid));
  end loop;
  return jsonb_build_object('booking', public.booking_json(b), 'events', events);
end
$$;

-- Redefined (009): the body of 009 with two changes: an admin of the lot (is_lot_admin) may change
-- it, and the audit entry belongs to the lot's operator.
create or replace function public.set_lot_availability(
  p_lot_id uuid,
  p_available_spaces integer default null,
  p_out_of_service integer default null,
  p_is_open boolean default null,
  p_reason text default null
) returns jsonb
language plpgsql security definer
set search_path = ''
as $$
declare
  lot public.parking_lots;
  v_held integer;
  v_peak integer;
  v_oos integer;
  v_occupied integer;
begin
  if not public.is_lot_admin(p_lot_id) then
    raise exception 'Only admins of this lot can change availability' using errcode = '42501', hint = 'FORBIDDEN';
  end if;
  select * into lot from public.parking_lots l where l.id = p_lot_id for update;
  if not found then
    raise exception 'Parking lot % does not exist', p_lot_id using errcode = 'P0002', hint = 'NOT_FOUND';
  end if;

  v_held := public.lot_held_now(p_lot_id);
  v_peak := public.lot_peak_holds(p_lot_id, now(), 'infinity');
  v_oos := coalesce(p_out_of_service, lot.out_of_service);
  if v_oos < 0 or v_oos > lot.total_spaces then
    raise exception 'out_of_service must be between 0 and %', lot.total_spaces
      using errcode = '22023', hint = 'VALIDATION_ERROR';
  end if;

  if p_available_spaces is not null then
    v_occupied := lot.total_spaces - v_oos - v_held - p_available_spaces;
    if p_available_spaces < 0 or v_occupied < 0 then
      raise exception 'available_spaces must be between 0 and % (total % - out of service % - held by bookings %)',
        greatest(lot.total_spaces - v_oos - v_held, 0), lot.total_spaces, v_oos, v_held
        using errcode = '22023', hint = 'INVALID_AVAILABILITY';
    end if;
  else
    -- Taking spaces out of service shrinks what can be physically occupied, never below zero.
    v_occupied := least(lot.occupied_unbooked, greatest(lot.total_spaces - v_oos - v_held, 0));
  end if;
  if lot.total_spaces - v_oos - v_occupied < v_peak then
    raise exception 'Bookings hold up to % spaces at once from now on; only % would remain bookable. Cancel bookings first.',
      v_peak, lot.total_spaces - v_oos - v_occupied using errcode = 'P0001', hint = 'SPACES_HELD';
  end if;

  update public.parking_lots l
     set out_of_service = v_oos, occupied_unbooked = v_occupied,
         is_open = coalesce(p_is_open, l.is_open), updated_at = now()
   where l.id = p_lot_id;

  insert into public.admin_audit_log (actor_id, action, target_type, target_id, details, operator_id)
  values (auth.uid(), 'set_lot_availability', 'parking_lot', p_lot_id::text, jsonb_strip_nulls(jsonb_build_object(
    'before', jsonb_build_object('out_of_service', lot.out_of_service, 'occupied_unbooked', lot.occupied_unbooked, 'is_open', lot.is_open),
    'after', jsonb_build_object('out_of_service', v_oos, 'occupied_unbooked', v_occupied, 'is_open', coalesce(p_is_open, lot.is_open)),
    'available_spaces', p_available_spaces,
    'reason', p_reason)), lot.operator_id);

  return jsonb_build_object(
    'lot', (select to_jsonb(a) from public.lot_availability(p_lot_id) a),
    'events', jsonb_build_array(public.append_lot_event(p_lot_id, 'availability_updated', auth.uid())));
end
$$;

-- Redefined (009): the body of 009 with one change: an operator's admin gets the transitions of
-- bookings in its lots.
create or replace function public.booking_activity(p_limit integer default 100)
returns jsonb
language sql stable security definer
set search_path = ''
as $$
  select coalesce(jsonb_agg(jsonb_build_object(
      'event_id', e.id, 'occurred_at', e.created_at, 'booking_id', e.payload->>'booking_id',
      'user_id', e.payload->'booking'->>'user_id', 'parking_lot_id', e.payload->'booking'->>'parking_lot_id',
      'status', e.payload->>'status', 'action', e.payload->>'action', 'actor_id', e.actor_id,
      'actor_role', coalesce(e.payload->>'actor_role', case when e.actor_id is null then 'system' end)) order by e.id desc), '[]'::jsonb)
  from (select x.id, x.created_at, x.payload, x.actor_id from public.event_log x
         where x.event = 'booking_updated'
           and ((select public.is_admin()) or x.stream = 'user:' || (select auth.uid())::text
                or x.payload->'booking'->>'parking_lot_id' in (
                  select l.id::text from public.parking_lots l where l.operator_id = (select public.admin_operator_id())))
         order by x.id desc limit least(greatest(p_limit, 1), 1000)) e
$$;

-- What an admin's console is scoped to: everything for the platform admin; for an operator's
-- admin its id, its lots, and the users holding a booking (pending, confirmed, active) in them
-- (the audience of its announcements). Anyone else is refused.
create function public.admin_scope() returns jsonb
language plpgsql stable security definer
set search_path = ''
as $$
declare
  v_op uuid := public.admin_operator_id();
begin
  if public.is_admin() then
    return jsonb_build_object('platform', true, 'operator_id', null, 'lot_ids', '[]'::jsonb, 'user_ids', '[]'::jsonb);
  end if;
  if not public.has_admin_role() then
    raise exception 'Admin role required' using errcode = '42501', hint = 'FORBIDDEN';
  end if;
  return jsonb_build_object('platform', false, 'operator_id', v_op,
    'lot_ids', coalesce((select jsonb_agg(l.id order by l.id) from public.parking_lots l where l.operator_id = v_op), '[]'::jsonb),
    'user_ids', coalesce((select jsonb_agg(distinct b.user_id) from public.bookings b
                           join public.parking_lots l on l.id = b.parking_lot_id
                          where l.operator_id = v_op and b.status in ('pending', 'confirmed', 'active')), '[]'::jsonb));
end
$$;
revoke execute on function public.admin_scope() from public, anon;
grant execute on function public.admin_scope() to authenticated, service_role;

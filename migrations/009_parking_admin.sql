-- Parking administration: the admin audit log, and an admin's change to a lot's availability
-- (a physical count, spaces out of service, open or closed), stored, audited and announced in one
-- transaction under the lot lock that also serialises bookings.

create table public.admin_audit_log (
  id bigint generated always as identity primary key,
  occurred_at timestamptz not null default now(),
  actor_id uuid not null,
  action text not null,
  target_type text not null,
  target_id text,
  details jsonb not null default '{}'::jsonb
);
create index admin_audit_log_occurred_at on public.admin_audit_log (occurred_at desc);

alter table public.admin_audit_log enable row level security;

create policy audit_admin_read on public.admin_audit_log for select to authenticated
  using ((select public.is_admin()));
create policy audit_admin_insert on public.admin_audit_log for insert to authenticated
  with check ((select public.is_admin()) and actor_id = (select auth.uid()));

-- Append-only for admins: no update or delete, not even of their own rows.
revoke all on public.admin_audit_log, public.admin_audit_log_id_seq from anon, authenticated;
grant select, insert on public.admin_audit_log to authenticated;
grant all on public.admin_audit_log to service_role;

-- An admin's physical count or service change: stored, audited and announced in one transaction,
-- under the lot lock that also serialises bookings. Security definer so it may append the event
-- (it checks the admin claim first); returns the lot's availability and the logged event.
create function public.set_lot_availability(
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
  if not public.is_admin() then
    raise exception 'Only admins can change availability' using errcode = '42501', hint = 'FORBIDDEN';
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

  insert into public.admin_audit_log (actor_id, action, target_type, target_id, details)
  values (auth.uid(), 'set_lot_availability', 'parking_lot', p_lot_id::text, jsonb_strip_nulls(jsonb_build_object(
    'before', jsonb_build_object('out_of_service', lot.out_of_service, 'occupied_unbooked', lot.occupied_unbooked, 'is_open', lot.is_open),
    'after', jsonb_build_object('out_of_service', v_oos, 'occupied_unbooked', v_occupied, 'is_open', coalesce(p_is_open, lot.is_open)),
    'available_spaces', p_available_spaces,
    'reason', p_reason)));

  return jsonb_build_object(
    'lot', (select to_jsonb(a) from public.lot_availability(p_lot_id) a),
    'events', jsonb_build_array(public.append_lot_event(p_lot_id, 'availability_updated', auth.uid())));
end
$$;
revoke execute on function public.set_lot_availability(uuid, integer, integer, boolean, text) from public, anon;
grant execute on function public.set_lot_availability(uuid, integer, integer, boolean, text) to authenticated, service_role;

-- Admins' reads and audit entries, as the admin (RLS decides).

-- Recent booking transitions with who caused them: everyone's for an admin, a user's own for a
-- user (what the event log's read policy grants them). Security definer because callers may not
-- read event_log.actor_id themselves (002): the check is here instead.
create function public.booking_activity(p_limit integer default 100)
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
           and ((select public.is_admin()) or x.stream = 'user:' || (select auth.uid())::text)
         order by x.id desc limit least(greatest(p_limit, 1), 1000)) e
$$;

-- An announcement, audited as the admin who sends it before it goes out.
create function public.log_announcement(p_room text, p_details jsonb) returns void
language sql
set search_path = ''
as $$
  insert into public.admin_audit_log (actor_id, action, target_type, target_id, details)
  values (auth.uid(), 'announcement', 'room', p_room, coalesce(p_details, '{}'::jsonb))
$$;
revoke execute on function public.booking_activity(integer), public.log_announcement(text, jsonb) from public, anon;
grant execute on function public.booking_activity(integer), public.log_announcement(text, jsonb) to authenticated, service_role;

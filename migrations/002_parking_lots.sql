-- Parking lots with their live occupancy, the admin audit log, and the availability rules.

create table public.parking_lots (
  id uuid primary key default gen_random_uuid(),
  name text not null check (length(name) between 1 and 200),
  address text,
  total_spaces integer not null check (total_spaces >= 0),
  -- spaces an admin took out of service (repairs, reserved for staff...)
  out_of_service integer not null default 0 check (out_of_service >= 0),
  -- spaces physically taken that no booking explains (a count by staff, or gate sensors)
  occupied_unbooked integer not null default 0 check (occupied_unbooked >= 0),
  is_open boolean not null default true,
  hourly_rate_cents integer not null default 0 check (hourly_rate_cents >= 0),
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  constraint parking_lots_capacity check (out_of_service + occupied_unbooked <= total_spaces)
);

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

alter table public.parking_lots enable row level security;
alter table public.admin_audit_log enable row level security;

create policy parking_lots_read on public.parking_lots for select to authenticated using (true);
create policy parking_lots_admin_write on public.parking_lots for all to authenticated
  using (public.is_admin()) with check (public.is_admin());

create policy audit_admin_read on public.admin_audit_log for select to authenticated
  using (public.is_admin());
create policy audit_admin_insert on public.admin_audit_log for insert to authenticated
  with check (public.is_admin() and actor_id = auth.uid());

-- Supabase grants everything on new public tables to the API roles by default; start from
-- nothing so both environments have exactly these privileges.
revoke all on public.parking_lots, public.admin_audit_log from anon, authenticated;
-- Capacity and availability change only through set_lot_availability (checks holds, logs the
-- event); a direct update may touch descriptive columns only.
grant select, insert, delete on public.parking_lots to authenticated;
grant update (name, address, hourly_rate_cents) on public.parking_lots to authenticated;
grant select, insert on public.admin_audit_log to authenticated;
grant all on public.parking_lots, public.admin_audit_log to service_role;

-- How many spaces of a lot bookings hold right now. Redefined when bookings exist; kept apart
-- so availability and the booking rules share one definition.
create or replace function public.lot_held_now(p_lot_id uuid) returns integer
language sql stable security definer
set search_path = ''
as $$ select 0 $$;

-- Availability of one lot or all. Security definer so that a user can count the spaces others'
-- bookings hold without seeing those bookings: it returns aggregates only.
create or replace function public.lot_availability(p_lot_id uuid default null)
returns table (
  parking_lot_id uuid, name text, total_spaces integer, out_of_service integer,
  occupied_unbooked integer, held integer, available_spaces integer, is_open boolean,
  updated_at timestamptz
)
language sql stable security definer
set search_path = ''
as $$
  select l.id, l.name, l.total_spaces, l.out_of_service, l.occupied_unbooked, h.held,
         greatest(l.total_spaces - l.out_of_service - l.occupied_unbooked - h.held, 0),
         l.is_open, l.updated_at
  from public.parking_lots l
  cross join lateral (select public.lot_held_now(l.id) as held) h
  where p_lot_id is null or l.id = p_lot_id
  order by l.name, l.id
$$;

-- An admin's physical count or service change. Runs as the caller, so RLS and the audit
-- policy check that the caller is an admin; the lot row lock serialises it with bookings.
create or replace function public.set_lot_availability(
  p_lot_id uuid,
  p_available_spaces integer default null,
  p_out_of_service integer default null,
  p_is_open boolean default null,
  p_reason text default null
)
returns table (
  parking_lot_id uuid, name text, total_spaces integer, out_of_service integer,
  occupied_unbooked integer, held integer, available_spaces integer, is_open boolean,
  updated_at timestamptz
)
language plpgsql
set search_path = ''
as $$
declare
  lot public.parking_lots;
  v_held integer;
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
  if lot.total_spaces - v_oos - v_occupied < v_held then
    raise exception 'Bookings hold % spaces; only % would remain bookable', v_held,
      lot.total_spaces - v_oos - v_occupied using errcode = 'P0001', hint = 'SPACES_HELD';
  end if;

  update public.parking_lots l
     set out_of_service = v_oos,
         occupied_unbooked = v_occupied,
         is_open = coalesce(p_is_open, l.is_open),
         updated_at = now()
   where l.id = p_lot_id;

  insert into public.admin_audit_log (actor_id, action, target_type, target_id, details)
  values (auth.uid(), 'set_lot_availability', 'parking_lot', p_lot_id::text, jsonb_strip_nulls(jsonb_build_object(
    'before', jsonb_build_object('out_of_service', lot.out_of_service, 'occupied_unbooked', lot.occupied_unbooked, 'is_open', lot.is_open),
    'after', jsonb_build_object('out_of_service', v_oos, 'occupied_unbooked', v_occupied, 'is_open', coalesce(p_is_open, lot.is_open)),
    'available_spaces', p_available_spaces,
    'reason', p_reason)));

  return query select * from public.lot_availability(p_lot_id);
end
$$;

revoke execute on function public.lot_held_now(uuid) from public, anon;
revoke execute on function public.lot_availability(uuid) from public, anon;
revoke execute on function public.set_lot_availability(uuid, integer, integer, boolean, text) from public, anon;
grant execute on function public.lot_held_now(uuid), public.lot_availability(uuid),
  public.set_lot_availability(uuid, integer, integer, boolean, text) to authenticated, service_role;

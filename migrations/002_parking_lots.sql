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

-- Admins change a lot's availability with public.set_lot_availability (in 006, next to the
-- event log its change is announced through).

revoke execute on function public.lot_held_now(uuid) from public, anon;
revoke execute on function public.lot_availability(uuid) from public, anon;
grant execute on function public.lot_held_now(uuid), public.lot_availability(uuid) to authenticated, service_role;

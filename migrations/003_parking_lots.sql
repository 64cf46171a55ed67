-- Parking lots: the table, who may read and change it, and which columns a direct update may
-- touch. Their availability (which counts bookings) is in 006; an admin's availability change,
-- audited and announced, in 009.

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

alter table public.parking_lots enable row level security;

create policy parking_lots_read on public.parking_lots for select to authenticated using (true);
create policy parking_lots_admin_write on public.parking_lots for all to authenticated
  using ((select public.is_admin())) with check ((select public.is_admin()));

-- Supabase grants everything on new public tables to the API roles by default; start from
-- nothing so both environments have exactly these privileges.
revoke all on public.parking_lots from anon, authenticated;
-- Capacity and availability change only through set_lot_availability (checks holds, logs the
-- event); a direct update may touch descriptive columns only.
grant select, insert, delete on public.parking_lots to authenticated;
grant update (name, address, hourly_rate_cents) on public.parking_lots to authenticated;
grant all on public.parking_lots to service_role;

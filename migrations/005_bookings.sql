-- Bookings: the table, the limits the server configures, who may read them, and a booking's JSON
-- shape. Nobody writes a booking directly: creating one (the capacity race) is in 006, paying in
-- 007, cancelling and the time-based transitions in 008. Those functions are security definer
-- and check the caller's claims themselves; reads go through RLS.

create table public.bookings (
  id uuid primary key default gen_random_uuid(),
  user_id uuid not null,
  parking_lot_id uuid not null references public.parking_lots (id),
  starts_at timestamptz not null,
  ends_at timestamptz not null,
  status text not null default 'pending'
    check (status in ('pending', 'confirmed', 'active', 'completed', 'cancelled', 'expired')),
  hold_expires_at timestamptz,
  amount_cents integer not null check (amount_cents >= 0),
  currency text not null default 'EUR',
  vehicle_plate text check (length(vehicle_plate) <= 20),
  idempotency_key text check (length(idempotency_key) between 1 and 200),
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  constraint bookings_window check (ends_at > starts_at),
  constraint bookings_idempotency unique (user_id, idempotency_key)
);
-- The bookings that hold a lot; what the capacity check scans under the lot lock.
create index bookings_holding on public.bookings (parking_lot_id, starts_at, ends_at)
  where status in ('pending', 'confirmed', 'active');
create index bookings_user on public.bookings (user_id, created_at desc);
create index bookings_due_hold on public.bookings (hold_expires_at) where status = 'pending';
create index bookings_due_start on public.bookings (starts_at) where status = 'confirmed';
create index bookings_due_end on public.bookings (ends_at) where status in ('confirmed', 'active');

-- On Supabase a user's bookings go with the user (their payments too, see 007).
do $$
begin
  if to_regclass('auth.users') is not null then
    alter table public.bookings add constraint bookings_user_fk
      foreign key (user_id) references auth.users (id) on delete cascade;
  end if;
end
$$;

-- The booking limits, set by the server from its configuration at start. A table only the service
-- writes, so a caller of create_booking (e.g. over supabase-js rpc) cannot pick their own hold.
create table public.booking_settings (
  id boolean primary key default true check (id),
  hold_seconds integer not null default 900 check (hold_seconds between 1 and 86400),
  max_hours integer not null default 24 check (max_hours between 1 and 744),
  -- Unpaid holds one user may have at once, and how far ahead a booking may start: without them
  -- one user could keep a whole lot held without paying.
  max_pending_per_user integer not null default 5 check (max_pending_per_user between 1 and 100000),
  max_days_ahead integer not null default 90 check (max_days_ahead between 1 and 3650),
  updated_at timestamptz not null default now()
);
insert into public.booking_settings default values;

alter table public.booking_settings enable row level security;
alter table public.bookings enable row level security;

create policy bookings_read on public.bookings for select to authenticated
  using (user_id = (select auth.uid()) or (select public.is_admin()));

-- Reads only: every write goes through the functions of the later files.
revoke all on public.booking_settings from anon, authenticated;
grant all on public.booking_settings to service_role;
revoke all on public.bookings from anon, authenticated;
grant select on public.bookings to authenticated;
grant all on public.bookings to service_role;

-- The server writes its configured limits here at start (service_role only).
create function public.configure_bookings(
  p_hold_seconds integer, p_max_hours integer, p_max_pending_per_user integer, p_max_days_ahead integer
) returns void
language sql
set search_path = ''
as $$
  update public.booking_settings
     set hold_seconds = p_hold_seconds, max_hours = p_max_hours,
         max_pending_per_user = p_max_pending_per_user, max_days_ahead = p_max_days_ahead, updated_at = now()
$$;
revoke execute on function public.configure_bookings(integer, integer, integer, integer) from public, anon, authenticated;
grant execute on function public.configure_bookings(integer, integer, integer, integer) to service_role;

-- A booking as the functions return it and the events carry it. Shapes a row the caller can
-- already see; reads stay under RLS.
create function public.booking_json(b public.bookings) returns jsonb
language sql stable
set search_path = ''
as $$
  select jsonb_build_object(
    'id', b.id, 'user_id', b.user_id, 'parking_lot_id', b.parking_lot_id,
    'starts_at', b.starts_at, 'ends_at', b.ends_at, 'status', b.status,
    'hold_expires_at', b.hold_expires_at, 'amount_cents', b.amount_cents, 'currency', b.currency,
    'vehicle_plate', b.vehicle_plate, 'created_at', b.created_at, 'updated_at', b.updated_at)
$$;
revoke execute on function public.booking_json(public.bookings) from public, anon;
grant execute on function public.booking_json(public.bookings) to authenticated, service_role;

-- Reads of bookings, as the caller: RLS decides what they see (the same functions over supabase-js rpc).

create function public.get_booking(p_booking_id uuid) returns jsonb
language sql stable
set search_path = ''
as $$ select public.booking_json(b) from public.bookings b where b.id = p_booking_id $$;

-- The caller's bookings, newest first; an admin may name another user.
create function public.list_bookings(p_status text default null, p_limit integer default 50, p_user_id uuid default null)
returns jsonb
language sql stable
set search_path = ''
as $$
  select coalesce(jsonb_agg(public.booking_json(b) order by b.created_at desc, b.id), '[]'::jsonb)
  from (select * from public.bookings x
         where x.user_id = coalesce(p_user_id, auth.uid()) and (p_status is null or x.status = p_status)
         order by x.created_at desc, x.id limit least(greatest(p_limit, 1), 200)) b
$$;
revoke execute on function public.get_booking(uuid), public.list_bookings(text, integer, uuid) from public, anon;
grant execute on function public.get_booking(uuid), public.list_bookings(text, integer, uuid) to authenticated, service_role;

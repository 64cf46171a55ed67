-- Bookings and payments. The multi-row rules (no overbooking, legal transitions, one event per
-- change) live here, in functions the server calls; @supabase/supabase-js can call the same ones
-- over `rpc`. The functions that write are security definer and check the caller's claims
-- themselves (auth.uid(), is_admin()) before anything else; reads go through RLS.

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

create table public.payments (
  id uuid primary key default gen_random_uuid(),
  booking_id uuid not null references public.bookings (id),
  user_id uuid not null,
  amount_cents integer not null check (amount_cents >= 0),
  currency text not null default 'EUR',
  status text not null check (status in ('pending', 'succeeded', 'failed', 'refunded')),
  provider text not null default 'webhook',
  provider_payment_id text not null,
  failure_reason text,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  constraint payments_provider_id unique (provider, provider_payment_id)
);
create index payments_booking on public.payments (booking_id);
create index payments_user on public.payments (user_id, created_at desc);

-- Provider events already applied: the replay guard of the webhook.
create table public.payment_webhook_events (
  provider_event_id text primary key,
  type text not null,
  booking_id uuid,
  outcome jsonb,
  received_at timestamptz not null default now()
);

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
alter table public.payments enable row level security;
alter table public.payment_webhook_events enable row level security;

create policy bookings_read on public.bookings for select to authenticated
  using (user_id = auth.uid() or public.is_admin());
create policy payments_read on public.payments for select to authenticated
  using (user_id = auth.uid() or public.is_admin());
create policy webhook_events_admin_read on public.payment_webhook_events for select to authenticated
  using (public.is_admin());

-- Reads only: every write goes through the functions below.
revoke all on public.booking_settings from anon, authenticated;
grant all on public.booking_settings to service_role;
revoke all on public.bookings, public.payments, public.payment_webhook_events from anon, authenticated;
grant select on public.bookings, public.payments, public.payment_webhook_events to authenticated;
grant all on public.bookings, public.payments, public.payment_webhook_events to service_role;

-- The server writes its configured limits here at start (service_role only).
create or replace function public.configure_bookings(
  p_hold_seconds integer, p_max_hours integer, p_max_pending_per_user integer, p_max_days_ahead integer
) returns void
language sql
set search_path = ''
as $$
  update public.booking_settings
     set hold_seconds = p_hold_seconds, max_hours = p_max_hours,
         max_pending_per_user = p_max_pending_per_user, max_days_ahead = p_max_days_ahead, updated_at = now()
$$;

-- ---- capacity -------------------------------------------------------------------------------

-- Spaces of a lot bookings may hold: total minus out of service minus physically taken without a
-- booking. Deliberately the same for every window: a car parked now without a booking may stay,
-- so a booking is never promised a space that could be physically taken.
create or replace function public.lot_capacity(l public.parking_lots) returns integer
language sql immutable
as $$ select greatest(l.total_spaces - l.out_of_service - l.occupied_unbooked, 0) $$;

-- The most bookings holding the lot at any one instant of [p_from, p_to). Windows are half-open,
-- so a booking ending at t and one starting at t do not overlap (ends sort before starts).
create or replace function public.lot_peak_holds(p_lot_id uuid, p_from timestamptz, p_to timestamptz)
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
create or replace function public.lot_held_now(p_lot_id uuid) returns integer
language sql volatile security definer
set search_path = ''
as $$
  select count(*)::integer from public.bookings b
  where b.parking_lot_id = p_lot_id and b.status in ('pending', 'confirmed', 'active')
    and b.starts_at <= clock_timestamp() and b.ends_at > clock_timestamp()
$$;

-- ---- events of a booking ----------------------------------------------------------------------

create or replace function public.booking_json(b public.bookings) returns jsonb
language sql stable
as $$
  select jsonb_build_object(
    'id', b.id, 'user_id', b.user_id, 'parking_lot_id', b.parking_lot_id,
    'starts_at', b.starts_at, 'ends_at', b.ends_at, 'status', b.status,
    'hold_expires_at', b.hold_expires_at, 'amount_cents', b.amount_cents, 'currency', b.currency,
    'vehicle_plate', b.vehicle_plate, 'created_at', b.created_at, 'updated_at', b.updated_at)
$$;

-- booking_updated on the owner's stream (and to admins), plus parking_updated when the change
-- frees or takes a space, plus an optional notification. Returns the events, in order.
create or replace function public.append_booking_events(
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

-- payment_updated on the payer's stream (and to admins).
create or replace function public.append_payment_event(p public.payments, p_action text, p_actor uuid)
returns jsonb
language sql
set search_path = ''
as $$
  select public.append_event(
    'user:' || p.user_id, 'payment_updated', array['user:' || p.user_id, 'admin'],
    jsonb_build_object('payment_id', p.id, 'booking_id', p.booking_id, 'status', p.status, 'action', p_action,
      'payment', to_jsonb(p), 'timestamp', clock_timestamp()), p_actor)
$$;

-- ---- commands ---------------------------------------------------------------------------------

-- A booking for the caller. The lot row lock serialises every booking of the lot (on every node),
-- so the capacity check and the insert are one step: two clients can never both take the last
-- space. With an idempotency key, the same key returns the same booking, never two.
-- A null start means now by the database's clock (read under the lot lock, so "now" bookings of
-- a lot are ordered as they commit); a null end means start plus p_duration_minutes.
create or replace function public.create_booking(
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
  if found and v_ends > v_starts and public.lot_peak_holds(p_lot_id, v_starts, v_ends) >= public.lot_capacity(lot) then
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

  insert into public.bookings (user_id, parking_lot_id, starts_at, ends_at, status, hold_expires_at,
                               amount_cents, vehicle_plate, idempotency_key)
  values (v_uid, p_lot_id, v_starts, v_ends, 'pending', clock_timestamp() + make_interval(secs => settings.hold_seconds),
          ceil(extract(epoch from (v_ends - v_starts)) / 3600 * lot.hourly_rate_cents)::integer,
          p_vehicle_plate, p_idempotency_key)
  returning * into b;

  return jsonb_build_object('booking', public.booking_json(b), 'replayed', false,
    'events', public.append_booking_events(b, 'created', v_uid, true,
      'Space held', format('Your space at %s is held until %s. Pay to confirm it.', lot.name,
                           to_char(b.hold_expires_at at time zone 'utc', 'HH24:MI:SS "UTC"')), 'info'));
end
$$;

-- The owner (or an admin) cancels a pending or confirmed booking; its space is free at once.
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
  if not found or v_uid is null or (b.user_id <> v_uid and not public.is_admin()) then
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

-- Time-based transitions, each a guarded update: a late, doubled or stale job changes nothing.
-- Returns null when there is nothing to do, or {not_due, due_at} when the job came early (the
-- caller's clock is behind the database's, or rounded away microseconds): it should retry then.
create or replace function public.advance_booking(p_booking_id uuid, p_transition text)
returns jsonb
language plpgsql
set search_path = ''
as $$
declare
  b public.bookings;
  v_lot uuid;
  v_due timestamptz;
begin
  if p_transition not in ('expire', 'activate', 'complete') then
    raise exception 'Unknown transition %', p_transition using errcode = '22023', hint = 'VALIDATION_ERROR';
  end if;
  select parking_lot_id into v_lot from public.bookings where id = p_booking_id;
  if not found then return null; end if;
  perform 1 from public.parking_lots where id = v_lot for update;
  select * into b from public.bookings where id = p_booking_id for update;

  v_due := case p_transition
    when 'expire' then case when b.status = 'pending' then b.hold_expires_at end
    when 'activate' then case when b.status = 'confirmed' then b.starts_at end
    else case when b.status in ('confirmed', 'active') then b.ends_at end
  end;
  if v_due is null then return null; end if;
  if v_due > clock_timestamp() then
    return jsonb_build_object('not_due', true, 'due_at', v_due);
  end if;

  if p_transition = 'expire' then
    update public.bookings set status = 'expired', hold_expires_at = null, updated_at = now()
     where id = p_booking_id returning * into b;
    return jsonb_build_object('booking', public.booking_json(b), 'events', public.append_booking_events(
      b, 'expired', null, true, 'Hold expired', 'Your unpaid booking expired and its space was released.', 'warning'));
  elsif p_transition = 'activate' then
    if b.ends_at <= clock_timestamp() then return null; end if; -- already over: 'complete' handles it
    update public.bookings set status = 'active', updated_at = now() where id = p_booking_id returning * into b;
    -- Its window starts now: the space counts as held from here, so the lot's watchers hear it.
    return jsonb_build_object('booking', public.booking_json(b), 'events', public.append_booking_events(b, 'activated', null, true));
  end if;
  update public.bookings set status = 'completed', updated_at = now() where id = p_booking_id returning * into b;
  return jsonb_build_object('booking', public.booking_json(b), 'events', public.append_booking_events(b, 'completed', null, true));
end
$$;

-- Bookings whose time has come, for the sweep job (catches jobs lost with Redis, or never made).
create or replace function public.due_bookings(p_limit integer default 500)
returns table (booking_id uuid, transition text, due_at timestamptz)
language sql stable
set search_path = ''
as $$
  (select id, 'expire', hold_expires_at from public.bookings where status = 'pending' and hold_expires_at <= now() order by hold_expires_at limit p_limit)
  union all
  (select id, 'complete', ends_at from public.bookings where status in ('confirmed', 'active') and ends_at <= now() order by ends_at limit p_limit)
  union all
  (select id, 'activate', starts_at from public.bookings where status = 'confirmed' and starts_at <= now() and ends_at > now() order by starts_at limit p_limit)
$$;

-- A payment provider's event, applied once: the provider's event id is the replay guard.
-- Success confirms a still-pending booking; a success for a booking that already expired or was
-- cancelled is recorded as owed back (refunded); failure keeps the booking pending and says so.
create or replace function public.apply_payment_event(
  p_event_id text, p_type text, p_booking_id uuid, p_amount_cents integer,
  p_currency text, p_provider_payment_id text, p_failure_reason text default null
) returns jsonb
language plpgsql
set search_path = ''
as $$
declare
  b public.bookings;
  p public.payments;
  v_status text;
  v_action text;
  v_confirmed boolean := false;
  events jsonb := '[]'::jsonb;
  v_outcome jsonb;
begin
  insert into public.payment_webhook_events (provider_event_id, type, booking_id)
  values (p_event_id, p_type, p_booking_id) on conflict do nothing;
  if not found then
    select jsonb_build_object('duplicate', true) || coalesce(e.outcome, '{}'::jsonb) into v_outcome
      from public.payment_webhook_events e where e.provider_event_id = p_event_id;
    return v_outcome;
  end if;

  select * into b from public.bookings where id = p_booking_id;
  if not found then
    raise exception 'Booking % does not exist', p_booking_id using errcode = 'P0002', hint = 'NOT_FOUND';
  end if;
  perform 1 from public.parking_lots where id = b.parking_lot_id for update;
  select * into b from public.bookings where id = p_booking_id for update;

  -- The provider's payment id names one payment of one booking; a final one is never re-applied.
  select * into p from public.payments x where x.provider = 'webhook' and x.provider_payment_id = p_provider_payment_id for update;
  if found and p.booking_id <> b.id then
    raise exception 'Payment % belongs to another booking', p_provider_payment_id using errcode = '22023', hint = 'VALIDATION_ERROR';
  end if;
  if found and p.status in ('succeeded', 'refunded') then
    v_outcome := jsonb_build_object('payment_id', p.id, 'payment_status', p.status, 'booking_status', b.status, 'ignored', true);
    update public.payment_webhook_events e set outcome = v_outcome where e.provider_event_id = p_event_id;
    return v_outcome || jsonb_build_object('duplicate', false, 'booking', public.booking_json(b), 'events', '[]'::jsonb);
  end if;

  if p_type = 'payment.succeeded' then
    if coalesce(p_currency, 'EUR') <> b.currency then
      v_status := 'failed'; v_action := 'failed';
      p_failure_reason := format('currency %s does not match the booking''s %s', p_currency, b.currency);
    elsif b.status = 'pending' and p_amount_cents >= b.amount_cents then
      v_status := 'succeeded'; v_action := 'succeeded';
      update public.bookings set status = 'confirmed', hold_expires_at = null, updated_at = now()
       where id = b.id returning * into b;
      v_confirmed := true;
    elsif b.status = 'pending' then
      v_status := 'failed'; v_action := 'failed';
      p_failure_reason := format('amount %s is less than the booking''s %s', p_amount_cents, b.amount_cents);
    elsif b.status in ('confirmed', 'active', 'completed') and not exists (
        select 1 from public.payments x where x.booking_id = b.id and x.status = 'succeeded'
           and x.provider_payment_id <> p_provider_payment_id) then
      v_status := 'succeeded'; v_action := 'succeeded';
    else
      -- Paid twice, or paid after the booking expired or was cancelled: owed back.
      v_status := 'refunded'; v_action := 'refund_due';
    end if;
  elsif p_type = 'payment.failed' then
    v_status := 'failed'; v_action := 'failed';
  else
    raise exception 'Unknown payment event type %', p_type using errcode = '22023', hint = 'VALIDATION_ERROR';
  end if;

  -- A payment never moves back from succeeded or refunded (providers deliver out of order).
  insert into public.payments as x (booking_id, user_id, amount_cents, currency, status, provider_payment_id, failure_reason)
  values (b.id, b.user_id, p_amount_cents, coalesce(p_currency, 'EUR'), v_status, p_provider_payment_id, p_failure_reason)
  on conflict (provider, provider_payment_id) do update
    set status = excluded.status, amount_cents = excluded.amount_cents, failure_reason = excluded.failure_reason, updated_at = now()
    where x.status not in ('succeeded', 'refunded')
  returning * into p;
  if not found then
    select * into p from public.payments x where x.provider = 'webhook' and x.provider_payment_id = p_provider_payment_id;
    v_outcome := jsonb_build_object('payment_id', p.id, 'payment_status', p.status, 'booking_status', b.status, 'ignored', true);
    update public.payment_webhook_events e set outcome = v_outcome where e.provider_event_id = p_event_id;
    return v_outcome || jsonb_build_object('duplicate', false, 'booking', public.booking_json(b), 'events', '[]'::jsonb);
  end if;

  events := events || jsonb_build_array(public.append_payment_event(p, v_action, null));
  if v_confirmed then
    events := events || public.append_booking_events(b, 'confirmed', null, false,
      'Booking confirmed', 'Payment received: your space is booked.', 'success');
  elsif v_action = 'failed' and b.status = 'pending' then
    events := events || jsonb_build_array(public.append_notification(b.user_id, 'Payment failed',
      coalesce('Your payment failed: ' || p_failure_reason, 'Your payment failed.') || ' Your space is still held until the hold runs out.',
      'error', jsonb_build_object('booking_id', b.id, 'payment_id', p.id), null));
  elsif v_action = 'refund_due' then
    events := events || jsonb_build_array(public.append_notification(b.user_id, 'Payment will be refunded',
      format('Your payment arrived after the booking was %s; it will be refunded.', b.status), 'warning',
      jsonb_build_object('booking_id', b.id, 'payment_id', p.id), null));
  end if;

  v_outcome := jsonb_build_object('payment_id', p.id, 'payment_status', p.status, 'booking_status', b.status);
  update public.payment_webhook_events e set outcome = v_outcome where e.provider_event_id = p_event_id;
  return v_outcome || jsonb_build_object('duplicate', false, 'booking', public.booking_json(b), 'events', events);
end
$$;

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

-- Privileges: callers may run the commands meant for them; the rest is the server's (service_role).
revoke execute on function public.lot_capacity(public.parking_lots), public.lot_peak_holds(uuid, timestamptz, timestamptz),
  public.append_payment_event(public.payments, text, uuid), public.configure_bookings(integer, integer, integer, integer),
  public.append_booking_events(public.bookings, text, uuid, boolean, text, text, text),
  public.advance_booking(uuid, text), public.due_bookings(integer),
  public.apply_payment_event(text, text, uuid, integer, text, text, text)
  from public, anon, authenticated;
grant execute on function public.lot_capacity(public.parking_lots), public.lot_peak_holds(uuid, timestamptz, timestamptz),
  public.append_payment_event(public.payments, text, uuid), public.configure_bookings(integer, integer, integer, integer),
  public.append_booking_events(public.bookings, text, uuid, boolean, text, text, text),
  public.advance_booking(uuid, text), public.due_bookings(integer),
  public.apply_payment_event(text, text, uuid, integer, text, text, text)
  to service_role;

revoke execute on function public.create_booking(uuid, timestamptz, timestamptz, integer, text, text),
  public.cancel_booking(uuid, text), public.set_lot_availability(uuid, integer, integer, boolean, text)
  from public, anon;
grant execute on function public.create_booking(uuid, timestamptz, timestamptz, integer, text, text),
  public.cancel_booking(uuid, text), public.set_lot_availability(uuid, integer, integer, boolean, text)
  to authenticated, service_role;

-- Shapes a row the caller can already see; reads stay under RLS.
revoke execute on function public.booking_json(public.bookings) from public, anon;
grant execute on function public.booking_json(public.bookings) to authenticated, service_role;

-- Retention of dispatched events joins the log clean-up: recovery replays only what is kept.
create or replace function public.cleanup_event_log(p_older_than interval, p_chunk integer default 10000)
returns bigint
language plpgsql
set search_path = ''
as $$
declare
  total bigint := 0;
  n bigint;
begin
  if p_older_than is null or p_older_than < interval '1 hour' then
    raise exception 'Refusing to delete events younger than an hour' using errcode = '22023', hint = 'VALIDATION_ERROR';
  end if;
  if p_chunk is null or p_chunk < 1 then
    raise exception 'p_chunk must be at least 1' using errcode = '22023', hint = 'VALIDATION_ERROR';
  end if;
  loop
    delete from public.event_log where id in (
      select id from public.event_log where created_at < now() - p_older_than and dispatched_at is not null limit p_chunk);
    get diagnostics n = row_count;
    total := total + n;
    exit when n < p_chunk;
  end loop;
  return total;
end
$$;
revoke execute on function public.cleanup_event_log(interval, integer) from public, anon, authenticated;
grant execute on function public.cleanup_event_log(interval, integer) to service_role;

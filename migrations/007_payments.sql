-- Payments: what the provider's webhook reports, applied once per provider event, and the
-- booking it confirms. The payment provider talks to the server, never to the database: the
-- functions here are the service's only.

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

-- On Supabase a user's payments go with the user, as their bookings do (005).
do $$
begin
  if to_regclass('auth.users') is not null then
    alter table public.payments add constraint payments_user_fk
      foreign key (user_id) references auth.users (id) on delete cascade;
  end if;
end
$$;

-- Provider events already applied: the replay guard of the webhook.
create table public.payment_webhook_events (
  provider_event_id text primary key,
  type text not null,
  booking_id uuid,
  outcome jsonb,
  received_at timestamptz not null default now()
);

alter table public.payments enable row level security;
alter table public.payment_webhook_events enable row level security;

create policy payments_read on public.payments for select to authenticated
  using (user_id = (select auth.uid()) or (select public.is_admin()));
create policy webhook_events_admin_read on public.payment_webhook_events for select to authenticated
  using ((select public.is_admin()));

-- Reads only: every write goes through apply_payment_event (and a cancellation's refund, 008).
revoke all on public.payments, public.payment_webhook_events from anon, authenticated;
grant select on public.payments, public.payment_webhook_events to authenticated;
grant all on public.payments, public.payment_webhook_events to service_role;

-- payment_updated on the payer's stream (and to admins).
create function public.append_payment_event(p public.payments, p_action text, p_actor uuid)
returns jsonb
language sql
set search_path = ''
as $$
  select public.append_event(
    'user:' || p.user_id, 'payment_updated', array['user:' || p.user_id, 'admin'],
    jsonb_build_object('payment_id', p.id, 'booking_id', p.booking_id, 'status', p.status, 'action', p_action,
      'payment', to_jsonb(p), 'timestamp', clock_timestamp()), p_actor)
$$;
revoke execute on function public.append_payment_event(public.payments, text, uuid) from public, anon, authenticated;
grant execute on function public.append_payment_event(public.payments, text, uuid) to service_role;

-- A payment provider's event, applied once: the provider's event id is the replay guard.
-- Success confirms a still-pending booking; a success for a booking that already expired or was
-- cancelled is recorded as owed back (refunded); failure keeps the booking pending and says so.
create function public.apply_payment_event(
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
revoke execute on function public.apply_payment_event(text, text, uuid, integer, text, text, text)
  from public, anon, authenticated;
grant execute on function public.apply_payment_event(text, text, uuid, integer, text, text, text) to service_role;

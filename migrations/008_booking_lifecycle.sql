-- A booking's life after it is created: the owner (or an admin) cancels it, and time moves it
-- on (an unpaid hold expires, a confirmed booking starts and ends, an unpaid hold's window starts
-- or ends). Each change takes the lot lock first, as create_booking (006) does, and logs its
-- events in the same transaction.

-- The owner (or an admin) cancels a pending or confirmed booking; its space is free at once.
create function public.cancel_booking(p_booking_id uuid, p_reason text default null)
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
revoke execute on function public.cancel_booking(uuid, text) from public, anon;
grant execute on function public.cancel_booking(uuid, text) to authenticated, service_role;

-- An unpaid hold's window starts or ends (hold_window_edges, 006): its status stays pending, but
-- what lot_held_now counts changes, so the lot's watchers hear parking_updated. The edge row is
-- the guard: deleted when announced, so a late, doubled or stale job finds nothing to do. A hold
-- paid, cancelled or expired since needs no word here: that change announced itself, and a paid
-- booking's own start and end are activate and complete.
create function public.advance_hold_edge(p_booking_id uuid, p_transition text)
returns jsonb
language plpgsql
set search_path = ''
as $$
declare
  b public.bookings;
  e public.hold_window_edges;
begin
  select * into b from public.bookings where id = p_booking_id;
  if not found then return null; end if;
  if b.status <> 'pending' then -- paid, cancelled or expired: for good, so no lock is needed to drop the edge
    delete from public.hold_window_edges where booking_id = p_booking_id and transition = p_transition;
    return null;
  end if;
  perform 1 from public.parking_lots where id = b.parking_lot_id for update;
  select * into e from public.hold_window_edges where booking_id = p_booking_id and transition = p_transition for update;
  if not found then return null; end if;
  if e.due_at > clock_timestamp() then
    return jsonb_build_object('not_due', true, 'due_at', e.due_at);
  end if;
  delete from public.hold_window_edges where booking_id = p_booking_id and transition = p_transition;
  select * into b from public.bookings where id = p_booking_id;
  if b.status <> 'pending' then return null; end if;
  return jsonb_build_object('booking', public.booking_json(b), 'events', jsonb_build_array(public.append_lot_event(
    b.parking_lot_id, case p_transition when 'hold_start' then 'hold_started' else 'hold_ended' end, null)));
end
$$;
revoke execute on function public.advance_hold_edge(uuid, text) from public, anon, authenticated;
grant execute on function public.advance_hold_edge(uuid, text) to service_role;

-- Time-based transitions, each a guarded update: a late, doubled or stale job changes nothing.
-- Returns null when there is nothing to do, or {not_due, due_at} when the job came early (the
-- caller's clock is behind the database's, or rounded away microseconds): it should retry then.
create function public.advance_booking(p_booking_id uuid, p_transition text)
returns jsonb
language plpgsql
set search_path = ''
as $$
declare
  b public.bookings;
  v_lot uuid;
  v_due timestamptz;
begin
  if p_transition in ('hold_start', 'hold_end') then
    return public.advance_hold_edge(p_booking_id, p_transition);
  end if;
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
    delete from public.hold_window_edges where booking_id = p_booking_id; -- nothing left to announce
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
revoke execute on function public.advance_booking(uuid, text) from public, anon, authenticated;
grant execute on function public.advance_booking(uuid, text) to service_role;

-- Bookings whose time has come, for the sweep job (catches jobs lost with Redis, or never made).
create function public.due_bookings(p_limit integer default 500)
returns table (booking_id uuid, transition text, due_at timestamptz)
language sql stable
set search_path = ''
as $$
  (select id, 'expire', hold_expires_at from public.bookings where status = 'pending' and hold_expires_at <= now() order by hold_expires_at limit p_limit)
  union all
  (select id, 'complete', ends_at from public.bookings where status in ('confirmed', 'active') and ends_at <= now() order by ends_at limit p_limit)
  union all
  (select id, 'activate', starts_at from public.bookings where status = 'confirmed' and starts_at <= now() and ends_at > now() order by starts_at limit p_limit)
  union all
  (select booking_id, transition, due_at from public.hold_window_edges where due_at <= now() order by due_at limit p_limit)
$$;
revoke execute on function public.due_bookings(integer) from public, anon, authenticated;
grant execute on function public.due_bookings(integer) to service_role;

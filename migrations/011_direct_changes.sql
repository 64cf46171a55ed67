-- Changes made without spotcast's commands: a row edited in the dashboard's table editor, an
-- UPDATE in SQL, a user deleted with their bookings. Triggers announce them with the same events,
-- in order, in the same transaction, and keep the capacity rule of 006 for them too.
--
-- Direct edits are announced as action `changed_directly` / `created_directly` (booking_updated,
-- and parking_updated `booking_…` when a space is taken or freed), `updated_directly` (a lot) and
-- `booking_deleted_directly`; the actor is the caller's auth.uid() when there is one (an admin over
-- Supabase's Data API), else none (`actor_role` system: the dashboard or SQL as postgres).
-- A new or deleted lot is not announced: a lot's stream starts with its first change, and clients
-- list lots with get_parking_availability.

-- True while one of spotcast's commands runs: they announce their own changes, with their own
-- action and actor, so the triggers below (which check it first) leave those changes alone and
-- none is announced twice.
-- Read from the call stack (PG_CONTEXT), which names each function being executed: it is exactly
-- the duration of the call, whoever calls it (a node, supabase-js, SQL), and ends with it even on
-- error. (A function-level `set spotcast.command = …` would say the same more plainly, but
-- Postgres lets only superusers put a custom parameter there, and Supabase's migration owner is
-- not one.) Every function here has `search_path = ''`, so the stack names a PL/pgSQL one
-- `public.<name>(…)`; a SQL-language one appears unqualified, `SQL function "<name>"`. It costs
-- about 30 µs a check, a few per command.
-- A new command that writes bookings, parking_lots or notifications is added to this list.
create function public.in_spotcast_command() returns boolean
language plpgsql stable
set search_path = ''
as $$
declare
  stack text;
begin
  get diagnostics stack = pg_context;
  return stack ~ '(^|\n)(PL/pgSQL function public\.|SQL function ")(create_booking|cancel_booking|advance_booking|apply_payment_event|set_lot_availability|append_notification)[("]';
end
$$;
revoke execute on function public.in_spotcast_command() from public, anon, authenticated;

-- A lot's spaces, name or open state edited directly: one parking_updated per lot changed. Fewer
-- bookable spaces than bookings hold from now on is refused, as set_lot_availability refuses it
-- (the UPDATE already holds the lot rows, so no booking can slip in between).
create function public.announce_direct_lot_changes() returns trigger
language plpgsql security definer
set search_path = ''
as $$
declare
  l record;
  v_peak integer;
begin
  if public.in_spotcast_command() then
    return null;
  end if;
  for l in
    select n.id, n.name, public.lot_capacity(n) as capacity, public.lot_capacity(o) as was
      from new_lots n join old_lots o on o.id = n.id
     where (n.name, n.total_spaces, n.out_of_service, n.occupied_unbooked, n.is_open)
           is distinct from (o.name, o.total_spaces, o.out_of_service, o.occupied_unbooked, o.is_open)
     order by n.id
  loop
    if l.capacity < l.was then
      v_peak := public.lot_peak_holds(l.id, now(), 'infinity');
      if v_peak > l.capacity then
        raise exception 'Bookings hold up to % spaces of % at once from now on; only % would remain bookable. Cancel bookings first.',
          v_peak, l.name, l.capacity using errcode = 'P0001', hint = 'SPACES_HELD';
      end if;
    end if;
    perform public.append_lot_event(l.id, 'updated_directly', auth.uid());
  end loop;
  return null;
end
$$;
create trigger parking_lots_direct_update after update on public.parking_lots
  referencing old table as old_lots new table as new_lots
  for each statement
  execute function public.announce_direct_lot_changes();

-- Before a booking row is written directly: a new booking (or one moved to another lot) locks its
-- lot first, as create_booking does, so that concurrent direct inserts queue instead of
-- deadlocking on the foreign key check; a pending booking gets a hold if it has none (without one
-- it would never expire), and any other status none; updated_at moves.
create function public.prepare_direct_booking_change() returns trigger
language plpgsql security definer
set search_path = ''
as $$
begin
  if public.in_spotcast_command() then
    return new;
  end if;
  if tg_op = 'INSERT' or new.parking_lot_id is distinct from old.parking_lot_id then
    perform 1 from public.parking_lots l where l.id = new.parking_lot_id for update;
  end if;
  if new.status = 'pending' and new.hold_expires_at is null then
    new.hold_expires_at := now() + make_interval(secs => (select s.hold_seconds from public.booking_settings s));
  elsif new.status <> 'pending' then
    new.hold_expires_at := null;
  end if;
  if tg_op = 'UPDATE' then
    new.updated_at := now();
  end if;
  return new;
end
$$;
create trigger bookings_direct_prepare before insert or update on public.bookings
  for each row
  execute function public.prepare_direct_booking_change();

-- One booking changed directly (ob: before, nb: after; null when inserted or deleted): the
-- capacity rule when it now holds a space it did not hold before, then its events.
create function public.announce_direct_booking_change(ob public.bookings, nb public.bookings, p_actor uuid)
returns void
language plpgsql
set search_path = ''
as $$
declare
  was_holding boolean := ob.id is not null and ob.status in ('pending', 'confirmed', 'active');
  holding boolean := nb.id is not null and nb.status in ('pending', 'confirmed', 'active');
  moved boolean := ob.id is not null and nb.id is not null
    and (ob.parking_lot_id, ob.starts_at, ob.ends_at) is distinct from (nb.parking_lot_id, nb.starts_at, nb.ends_at);
  lot public.parking_lots;
  v_peak integer;
begin
  if nb.id is null then
    if was_holding then
      perform public.append_lot_event(ob.parking_lot_id, 'booking_deleted_directly', p_actor);
    end if;
    return;
  end if;
  if ob.id is not null and (public.booking_json(ob) - 'updated_at') = (public.booking_json(nb) - 'updated_at') then
    return;
  end if;
  if holding and (not was_holding or moved) then
    select * into lot from public.parking_lots l where l.id = nb.parking_lot_id;
    v_peak := public.lot_peak_holds(nb.parking_lot_id, nb.starts_at, nb.ends_at);
    if v_peak > public.lot_capacity(lot) then
      raise exception 'No space left in % for that time (% bookings would hold % bookable spaces)', lot.name, v_peak, public.lot_capacity(lot)
        using errcode = 'P0001', hint = 'LOT_FULL';
    end if;
  end if;
  perform public.append_booking_events(nb, case when ob.id is null then 'created_directly' else 'changed_directly' end,
    p_actor, was_holding <> holding or (holding and moved));
  if moved and was_holding and ob.parking_lot_id <> nb.parking_lot_id then
    perform public.append_lot_event(ob.parking_lot_id, 'booking_changed_directly', p_actor);
  end if;
end
$$;
revoke execute on function public.announce_direct_booking_change(public.bookings, public.bookings, uuid) from public, anon, authenticated;

-- After a statement that wrote bookings directly: the lots those bookings hold are locked in one
-- order (so two such statements cannot deadlock on each other), then each booking's change is
-- checked and announced, oldest booking first.
create function public.announce_direct_booking_changes() returns trigger
language plpgsql security definer
set search_path = ''
as $$
declare
  r record;
  ob public.bookings;
  nb public.bookings;
  v_actor uuid := auth.uid();
begin
  if public.in_spotcast_command() then
    return null;
  end if;
  if tg_op = 'INSERT' then
    perform 1 from public.parking_lots l where l.id in (select n.parking_lot_id from new_rows n) order by l.id for update;
    for r in select n as b from new_rows n order by n.created_at, n.id loop
      nb := r.b;
      perform public.announce_direct_booking_change(null, nb, v_actor);
    end loop;
  elsif tg_op = 'UPDATE' then
    perform 1 from public.parking_lots l where l.id in (select n.parking_lot_id from new_rows n) order by l.id for update;
    for r in select o as a, n as b from old_rows o join new_rows n on n.id = o.id order by n.created_at, n.id loop
      ob := r.a;
      nb := r.b;
      perform public.announce_direct_booking_change(ob, nb, v_actor);
    end loop;
  else
    for r in select o as a from old_rows o order by o.created_at, o.id loop
      ob := r.a;
      perform public.announce_direct_booking_change(ob, null, v_actor);
    end loop;
  end if;
  return null;
end
$$;
create trigger bookings_direct_insert after insert on public.bookings
  referencing new table as new_rows
  for each statement
  execute function public.announce_direct_booking_changes();
create trigger bookings_direct_update after update on public.bookings
  referencing old table as old_rows new table as new_rows
  for each statement
  execute function public.announce_direct_booking_changes();
create trigger bookings_direct_delete after delete on public.bookings
  referencing old table as old_rows
  for each statement
  execute function public.announce_direct_booking_changes();

-- A notification inserted directly (an admin over the Data API, SQL) is delivered live like one
-- made by a command.
create function public.announce_direct_notification() returns trigger
language plpgsql security definer
set search_path = ''
as $$
begin
  if public.in_spotcast_command() then
    return null;
  end if;
  perform public.append_notification_event(new, auth.uid());
  return null;
end
$$;
create trigger notifications_direct_insert after insert on public.notifications
  for each row
  execute function public.announce_direct_notification();

revoke execute on function public.announce_direct_lot_changes(), public.prepare_direct_booking_change(),
  public.announce_direct_booking_changes(), public.announce_direct_notification() from public, anon, authenticated;

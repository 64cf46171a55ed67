-- History and rebuild: every change of a booking and of a lot's capacity, kept for good; a lot's
-- availability at a past instant computed from them; and a rebuild that recomputes what spotcast
-- derives from the bookings (hold_window_edges, stream heads, what each lot last announced) and
-- reports or repairs any drift.
--
-- History is written by triggers on the tables, not by the commands, so every path records:
-- spotcast's commands, other migrations' functions, supabase-js, the dashboard, plain SQL.

-- A booking's changes, oldest first. No foreign key: a booking deleted (directly, or with its
-- user on Supabase) keeps its history. from_status is null when created, to_status when deleted.
create table public.booking_history (
  id bigint generated always as identity primary key,
  booking_id uuid not null,
  user_id uuid not null,
  parking_lot_id uuid not null,
  starts_at timestamptz not null,
  ends_at timestamptz not null,
  from_status text,
  to_status text,
  reason text not null check (length(reason) between 1 and 100),
  -- false: written without one of spotcast's commands (011's "directly")
  via_command boolean not null,
  actor_id uuid,
  actor_role text not null check (actor_role in ('user', 'admin', 'system')),
  at timestamptz not null default clock_timestamp()
);
create index booking_history_booking on public.booking_history (booking_id, id);
create index booking_history_lot on public.booking_history (parking_lot_id, at);

-- A lot's capacity over time: one row per change of what decides its bookable spaces.
create table public.parking_lot_history (
  id bigint generated always as identity primary key,
  parking_lot_id uuid not null,
  total_spaces integer,
  out_of_service integer,
  occupied_unbooked integer,
  is_open boolean,
  reason text not null check (length(reason) between 1 and 100),
  via_command boolean not null,
  actor_id uuid,
  actor_role text not null check (actor_role in ('user', 'admin', 'system')),
  at timestamptz not null default clock_timestamp()
);
create index parking_lot_history_lot on public.parking_lot_history (parking_lot_id, at);

alter table public.booking_history enable row level security;
alter table public.parking_lot_history enable row level security;

-- Read under RLS as the booking's owner or an admin of the lot (the platform's, or its operator's:
-- 012); written only by the triggers below.
create policy booking_history_read on public.booking_history for select to authenticated
  using (user_id = (select auth.uid()) or public.is_lot_admin(parking_lot_id));
create policy parking_lot_history_read on public.parking_lot_history for select to authenticated
  using (public.is_lot_admin(parking_lot_id));

-- Append-only for everyone, the service role included: no update, delete or truncate granted,
-- and the triggers below refuse them for any role that could still try (the owner).
revoke all on public.booking_history, public.parking_lot_history from public, anon, authenticated, service_role;
revoke all on public.booking_history_id_seq, public.parking_lot_history_id_seq from public, anon, authenticated, service_role;
grant select on public.booking_history, public.parking_lot_history to authenticated, service_role;

create function public.refuse_history_change() returns trigger
language plpgsql
set search_path = ''
as $$
begin
  raise exception 'History is append-only: % on % refused', tg_op, tg_table_name using errcode = '42501', hint = 'FORBIDDEN';
end
$$;
revoke execute on function public.refuse_history_change() from public, anon, authenticated;
create trigger booking_history_append_only before update or delete on public.booking_history
  for each row execute function public.refuse_history_change();
create trigger booking_history_no_truncate before truncate on public.booking_history
  for each statement execute function public.refuse_history_change();
create trigger parking_lot_history_append_only before update or delete on public.parking_lot_history
  for each row execute function public.refuse_history_change();
create trigger parking_lot_history_no_truncate before truncate on public.parking_lot_history
  for each statement execute function public.refuse_history_change();

-- Who causes a change, as append_event (002) says it: the caller's claims, none for the system.
create function public.change_actor_role() returns text
language sql stable
set search_path = ''
as $$ select case when auth.uid() is null then 'system' when public.has_admin_role() then 'admin' else 'user' end $$;
revoke execute on function public.change_actor_role() from public, anon, authenticated;

-- Why a change happens. Code that knows better (a waitlist's offer: 'offered') says so for its
-- transaction: `select set_config('spotcast.change_reason', 'offered', true)` before the write,
-- and resets it ('') after, if the same transaction writes other bookings. Otherwise the reason
-- is the transition itself.
create function public.change_reason(p_from text, p_to text, p_op text) returns text
language sql stable
set search_path = ''
as $$
  select coalesce(left(nullif(current_setting('spotcast.change_reason', true), ''), 100), case
    when p_op = 'INSERT' then 'created'
    when p_op = 'DELETE' then 'deleted'
    when p_from is not distinct from p_to then 'changed'
    else case p_to
      when 'pending' then 'held'
      when 'confirmed' then 'paid'
      when 'active' then 'activated'
      when 'completed' then 'completed'
      when 'cancelled' then 'cancelled'
      when 'expired' then 'expired'
      else 'changed' end
  end)
$$;
revoke execute on function public.change_reason(text, text, text) from public, anon, authenticated;

-- Each booking row written: one history row when its status, lot or window changed (an update of
-- updated_at alone, or of its hold's end, changes nothing the history keeps).
create function public.record_booking_change() returns trigger
language plpgsql security definer
set search_path = ''
as $$
declare
  b public.bookings := case when tg_op = 'DELETE' then old else new end;
  v_from text := case when tg_op = 'INSERT' then null else old.status end;
  v_to text := case when tg_op = 'DELETE' then null else new.status end;
begin
  if tg_op = 'UPDATE' and (old.status, old.parking_lot_id, old.starts_at, old.ends_at)
                        is not distinct from (new.status, new.parking_lot_id, new.starts_at, new.ends_at) then
    return null;
  end if;
  insert into public.booking_history (booking_id, user_id, parking_lot_id, starts_at, ends_at, from_status, to_status,
                                      reason, via_command, actor_id, actor_role)
  values (b.id, b.user_id, b.parking_lot_id, b.starts_at, b.ends_at, v_from, v_to,
          public.change_reason(v_from, v_to, tg_op), public.in_spotcast_command(), auth.uid(), public.change_actor_role());
  return null;
end
$$;
create trigger bookings_history after insert or update or delete on public.bookings
  for each row execute function public.record_booking_change();

-- Each lot row written: one history row when what decides its capacity changed.
create function public.record_lot_change() returns trigger
language plpgsql security definer
set search_path = ''
as $$
declare
  l public.parking_lots := case when tg_op = 'DELETE' then old else new end;
begin
  if tg_op = 'UPDATE' and (old.total_spaces, old.out_of_service, old.occupied_unbooked, old.is_open)
                        is not distinct from (new.total_spaces, new.out_of_service, new.occupied_unbooked, new.is_open) then
    return null;
  end if;
  insert into public.parking_lot_history (parking_lot_id, total_spaces, out_of_service, occupied_unbooked, is_open,
                                          reason, via_command, actor_id, actor_role)
  values (l.id, case when tg_op <> 'DELETE' then l.total_spaces end, case when tg_op <> 'DELETE' then l.out_of_service end,
          case when tg_op <> 'DELETE' then l.occupied_unbooked end, case when tg_op <> 'DELETE' then l.is_open end,
          coalesce(left(nullif(current_setting('spotcast.change_reason', true), ''), 100),
                   case tg_op when 'INSERT' then 'created' when 'DELETE' then 'deleted' else 'capacity_changed' end),
          public.in_spotcast_command(), auth.uid(), public.change_actor_role());
  return null;
end
$$;
create trigger parking_lots_history after insert or update or delete on public.parking_lots
  for each row execute function public.record_lot_change();

revoke execute on function public.record_booking_change(), public.record_lot_change() from public, anon, authenticated;

-- What exists when history starts: each booking and lot as it is now, so the past from here on
-- is complete. (Instants before this have no history; lot_availability_at says so.)
insert into public.parking_lot_history (parking_lot_id, total_spaces, out_of_service, occupied_unbooked, is_open, reason, via_command, actor_role)
select l.id, l.total_spaces, l.out_of_service, l.occupied_unbooked, l.is_open, 'history_started', false, 'system'
  from public.parking_lots l order by l.id;
insert into public.booking_history (booking_id, user_id, parking_lot_id, starts_at, ends_at, from_status, to_status, reason, via_command, actor_role)
select b.id, b.user_id, b.parking_lot_id, b.starts_at, b.ends_at, null, b.status, 'history_started', false, 'system'
  from public.bookings b order by b.created_at, b.id;

-- ---- reads ------------------------------------------------------------------------------------

-- A booking's history, oldest first, for its owner and admins. Anyone else is told it does not
-- exist, as get_booking does. Security definer: it outlives the booking (its own check here).
create function public.booking_history(p_booking_id uuid) returns jsonb
language plpgsql stable security definer
set search_path = ''
as $$
declare
  v_owner uuid;
  v_lot uuid;
begin
  select h.user_id, h.parking_lot_id into v_owner, v_lot from public.booking_history h where h.booking_id = p_booking_id order by h.id desc limit 1;
  if v_owner is null or auth.uid() is null or (v_owner <> auth.uid() and not public.is_lot_admin(v_lot)) then
    raise exception 'Booking % does not exist', p_booking_id using errcode = 'P0002', hint = 'NOT_FOUND';
  end if;
  return (select jsonb_agg(jsonb_build_object(
      'id', h.id, 'booking_id', h.booking_id, 'user_id', h.user_id, 'parking_lot_id', h.parking_lot_id,
      'starts_at', h.starts_at, 'ends_at', h.ends_at, 'from_status', h.from_status, 'to_status', h.to_status,
      'reason', h.reason, 'via_command', h.via_command, 'actor_id', h.actor_id, 'actor_role', h.actor_role, 'at', h.at)
    order by h.id)
    from public.booking_history h where h.booking_id = p_booking_id);
end
$$;
revoke execute on function public.booking_history(uuid) from public, anon;
grant execute on function public.booking_history(uuid) to authenticated, service_role;

-- A lot's availability at a past instant, for admins, from the two histories: its capacity then
-- (the last lot change at or before p_at) and the bookings that held it then (each booking's last
-- change at or before p_at left it holding, in this lot, with a window covering p_at: what
-- lot_held_now counted at that instant).
create function public.lot_availability_at(p_lot_id uuid, p_at timestamptz) returns jsonb
language plpgsql stable security definer
set search_path = ''
as $$
declare
  c public.parking_lot_history;
  v_held integer;
begin
  if not public.is_lot_admin(p_lot_id) then
    raise exception 'Only admins of this lot can read its past availability' using errcode = '42501', hint = 'FORBIDDEN';
  end if;
  if p_at is null or p_at > clock_timestamp() then
    raise exception 'at must be a past instant' using errcode = '22023', hint = 'VALIDATION_ERROR';
  end if;
  select * into c from public.parking_lot_history h
   where h.parking_lot_id = p_lot_id and h.at <= p_at order by h.at desc, h.id desc limit 1;
  if not found then
    if exists (select 1 from public.parking_lot_history h where h.parking_lot_id = p_lot_id) then
      raise exception 'Parking lot % has no history before %', p_lot_id,
        (select min(h.at) from public.parking_lot_history h where h.parking_lot_id = p_lot_id)
        using errcode = '22023', hint = 'VALIDATION_ERROR';
    end if;
    raise exception 'Parking lot % does not exist', p_lot_id using errcode = 'P0002', hint = 'NOT_FOUND';
  end if;
  if c.total_spaces is null then
    raise exception 'Parking lot % did not exist at %', p_lot_id, p_at using errcode = 'P0002', hint = 'NOT_FOUND';
  end if;
  select count(*)::integer into v_held from (
    select distinct on (h.booking_id) h.to_status, h.parking_lot_id, h.starts_at, h.ends_at
      from public.booking_history h
     where h.at <= p_at
       and h.booking_id in (select x.booking_id from public.booking_history x where x.parking_lot_id = p_lot_id and x.at <= p_at)
     order by h.booking_id, h.at desc, h.id desc
  ) s
  where s.to_status in ('pending', 'confirmed', 'active') and s.parking_lot_id = p_lot_id
    and s.starts_at <= p_at and s.ends_at > p_at;
  return jsonb_build_object(
    'parking_lot_id', p_lot_id, 'at', p_at, 'total_spaces', c.total_spaces, 'out_of_service', c.out_of_service,
    'occupied_unbooked', c.occupied_unbooked, 'is_open', c.is_open, 'held', v_held,
    'available_spaces', greatest(c.total_spaces - c.out_of_service - c.occupied_unbooked - v_held, 0),
    'capacity_since', c.at);
end
$$;
revoke execute on function public.lot_availability_at(uuid, timestamptz) from public, anon;
grant execute on function public.lot_availability_at(uuid, timestamptz) to authenticated, service_role;

-- ---- rebuild ----------------------------------------------------------------------------------

-- What spotcast derives from the bookings and keeps, one checker per item: a function
-- (p_lot_id uuid, p_repair boolean) returns jsonb `{ "drift": [ { "parking_lot_id", … } ] }`
-- (or `differing` for `drift`)
-- that recomputes the item (of one lot, or all when null), reports each row that differs and,
-- with p_repair, fixes it. rebuild_derived_state calls them in `position` order. A new derived
-- structure joins the rebuild with one row here, e.g. from its own migration:
--   insert into public.derived_state_items values ('capacity_index', 'public.capacity_index_drift(uuid, boolean)', 50);
create table public.derived_state_items (
  item text primary key check (item ~ '^[a-z_]{1,60}$'),
  checker regprocedure not null,
  position integer not null
);
alter table public.derived_state_items enable row level security;
revoke all on public.derived_state_items from public, anon, authenticated;
grant select on public.derived_state_items to service_role;

-- hold_window_edges (006): the edges of each unpaid hold's window that fall within its hold
-- after its creation, as create_booking writes them. Compared only where it matters: an edge
-- still ahead that is missing, an edge whose time differs from its booking's window, and an edge
-- of a pending hold that should not be there. (An edge already due may have been announced and
-- dropped; the edge of a hold since paid, cancelled or expired is dropped by its job unannounced.)
create function public.hold_window_edges_drift(p_lot_id uuid, p_repair boolean) returns jsonb
language plpgsql
set search_path = ''
as $$
declare
  v_drift jsonb;
begin
  with expected as (
    select b.id as booking_id, b.parking_lot_id, e.transition, e.due_at
      from public.bookings b
     cross join lateral (values ('hold_start', b.starts_at, b.starts_at > b.created_at and b.starts_at < b.hold_expires_at),
                                ('hold_end', b.ends_at, b.ends_at < b.hold_expires_at)) e(transition, due_at, within_hold)
     where b.status = 'pending' and e.within_hold and (p_lot_id is null or b.parking_lot_id = p_lot_id)
  ), actual as (
    select h.booking_id, b.parking_lot_id, h.transition, h.due_at
      from public.hold_window_edges h join public.bookings b on b.id = h.booking_id
     where b.status = 'pending' and (p_lot_id is null or b.parking_lot_id = p_lot_id)
  )
  select coalesce(jsonb_agg(jsonb_build_object(
           'parking_lot_id', coalesce(x.parking_lot_id, a.parking_lot_id), 'booking_id', coalesce(x.booking_id, a.booking_id),
           'transition', coalesce(x.transition, a.transition),
           'kind', case when a.booking_id is null then 'missing' when x.booking_id is null then 'unexpected' else 'wrong_due_at' end,
           'expected_due_at', x.due_at, 'actual_due_at', a.due_at)
           order by coalesce(x.parking_lot_id, a.parking_lot_id), coalesce(x.booking_id, a.booking_id), coalesce(x.transition, a.transition)), '[]'::jsonb)
    into v_drift
    from expected x full join actual a on a.booking_id = x.booking_id and a.transition = x.transition
   where (a.booking_id is null and x.due_at > clock_timestamp())
      or x.booking_id is null
      or (a.booking_id is not null and x.booking_id is not null and a.due_at <> x.due_at);

  if p_repair then
    delete from public.hold_window_edges h using jsonb_array_elements(v_drift) d
     where d->>'kind' = 'unexpected' and h.booking_id = (d->>'booking_id')::uuid and h.transition = d->>'transition';
    update public.hold_window_edges h set due_at = (d->>'expected_due_at')::timestamptz from jsonb_array_elements(v_drift) d
     where d->>'kind' = 'wrong_due_at' and h.booking_id = (d->>'booking_id')::uuid and h.transition = d->>'transition';
    insert into public.hold_window_edges (booking_id, transition, due_at)
    select (d->>'booking_id')::uuid, d->>'transition', (d->>'expected_due_at')::timestamptz
      from jsonb_array_elements(v_drift) d where d->>'kind' = 'missing';
  end if;
  return jsonb_build_object('drift', v_drift);
end
$$;

-- stream_sequences (002): a stream's head must be at least its highest logged seq, or the next
-- append fails on the unique (stream, seq). (A head above it is normal: retention deleted events.)
create function public.stream_heads_drift(p_lot_id uuid, p_repair boolean) returns jsonb
language plpgsql
set search_path = ''
as $$
declare
  v_drift jsonb;
begin
  select coalesce(jsonb_agg(jsonb_build_object(
           'parking_lot_id', case when m.stream like 'parking\_lot:%' then substr(m.stream, 13) end,
           'stream', m.stream, 'kind', case when s.stream is null then 'missing' else 'behind' end,
           'expected_last_seq', m.max_seq, 'actual_last_seq', s.last_seq) order by m.stream), '[]'::jsonb)
    into v_drift
    from (select e.stream, max(e.seq) as max_seq from public.event_log e
           where p_lot_id is null or e.stream = 'parking_lot:' || p_lot_id group by e.stream) m
    left join public.stream_sequences s on s.stream = m.stream
   where s.stream is null or s.last_seq < m.max_seq;
  if p_repair then
    insert into public.stream_sequences as s (stream, last_seq)
    select d->>'stream', (d->>'expected_last_seq')::bigint from jsonb_array_elements(v_drift) d
    on conflict (stream) do update set last_seq = excluded.last_seq;
  end if;
  return jsonb_build_object('drift', v_drift);
end
$$;

-- Each lot's held spaces and availability are computed from the bookings on every read
-- (lot_availability, 006), so nothing is cached; what can drift is what its watchers were last
-- told: the lot's latest parking_updated against its availability now (a lost edge or job, a
-- write that bypassed the log). Repaired by the announcement rebuild_derived_state makes for
-- every lot with drift.
create function public.lot_announcement_drift(p_lot_id uuid, p_repair boolean) returns jsonb
language sql
set search_path = ''
as $$
  select jsonb_build_object('drift', coalesce(jsonb_agg(jsonb_build_object(
           'parking_lot_id', a.id, 'kind', 'announced_availability_differs', 'seq', e.seq,
           'announced', e.payload - 'actor_role' - 'action' - 'timestamp' - 'name' - 'updated_at' - 'id' - 'parking_lot_id',
           'current', jsonb_build_object('total_spaces', a.total_spaces, 'out_of_service', a.out_of_service,
             'occupied_unbooked', a.occupied_unbooked, 'held', a.held, 'available_spaces', a.available_spaces, 'is_open', a.is_open))
           order by a.id), '[]'::jsonb))
    from public.lot_availability(p_lot_id) a
    cross join lateral (select x.seq, x.payload from public.event_log x
                         where x.stream = 'parking_lot:' || a.id and x.event = 'parking_updated'
                         order by x.seq desc limit 1) e
   where (a.total_spaces, a.out_of_service, a.occupied_unbooked, a.held, a.available_spaces, a.is_open)
         is distinct from ((e.payload->>'total_spaces')::integer, (e.payload->>'out_of_service')::integer,
                           (e.payload->>'occupied_unbooked')::integer, (e.payload->>'held')::integer,
                           (e.payload->>'available_spaces')::integer, (e.payload->>'is_open')::boolean)
$$;

revoke execute on function public.hold_window_edges_drift(uuid, boolean), public.stream_heads_drift(uuid, boolean),
  public.lot_announcement_drift(uuid, boolean) from public, anon, authenticated;
grant execute on function public.hold_window_edges_drift(uuid, boolean), public.stream_heads_drift(uuid, boolean),
  public.lot_announcement_drift(uuid, boolean) to service_role;

insert into public.derived_state_items (item, checker, position) values
  ('hold_window_edges', 'public.hold_window_edges_drift(uuid, boolean)', 10),
  ('stream_heads', 'public.stream_heads_drift(uuid, boolean)', 20),
  -- last: it compares with announcements, after the items above are repaired
  ('lot_announcements', 'public.lot_announcement_drift(uuid, boolean)', 1000);

-- The rebuild, for admins: every item of derived_state_items recomputed for one lot or all, its
-- drift reported per item and per lot; with p_repair, fixed in this one transaction, and every lot
-- with drift announces its availability now (parking_updated, action `rebuilt`; the events are
-- returned for the server to emit). The lots are locked first, in id order as 011 does, so no
-- booking changes between the check and the repair.
create function public.rebuild_derived_state(p_lot_id uuid default null, p_repair boolean default false) returns jsonb
language plpgsql security definer
set search_path = ''
as $$
declare
  it public.derived_state_items;
  r jsonb;
  v_items jsonb := '[]'::jsonb;
  v_all jsonb := '[]'::jsonb;
  v_events jsonb := '[]'::jsonb;
  v_lot uuid;
begin
  if not public.has_admin_role() then
    raise exception 'Only admins can rebuild' using errcode = '42501', hint = 'FORBIDDEN';
  end if;
  -- An operator's admin rebuilds its own lots, one at a time; all lots at once is the platform's.
  if p_lot_id is null and not public.is_admin() then
    raise exception 'An operator''s admin rebuilds one lot at a time: give parking_lot_id' using errcode = '42501', hint = 'FORBIDDEN';
  end if;
  if p_lot_id is not null and not exists (select 1 from public.parking_lots l where l.id = p_lot_id) then
    raise exception 'Parking lot % does not exist', p_lot_id using errcode = 'P0002', hint = 'NOT_FOUND';
  end if;
  if p_lot_id is not null and not public.is_lot_admin(p_lot_id) then
    raise exception 'Parking lot % belongs to another operator', p_lot_id using errcode = '42501', hint = 'FORBIDDEN';
  end if;
  perform 1 from public.parking_lots l where p_lot_id is null or l.id = p_lot_id order by l.id for update;
  for it in select * from public.derived_state_items i order by i.position, i.item loop
    execute format('select %s($1, $2)', it.checker::oid::regproc) into r using p_lot_id, coalesce(p_repair, false);
    -- `differing` is accepted for `drift` (capacity_index_drift's name for it, migrations/015).
    r := case when jsonb_typeof(r->'drift') = 'array' then r
              when jsonb_typeof(r->'differing') = 'array' then (r - 'differing') || jsonb_build_object('drift', r->'differing')
              else jsonb_build_object('drift', '[]'::jsonb, 'result', r) end;
    v_items := v_items || jsonb_build_array(jsonb_build_object('item', it.item, 'drift_count', jsonb_array_length(r->'drift')) || r);
    v_all := v_all || (select coalesce(jsonb_agg(d || jsonb_build_object('item', it.item)), '[]'::jsonb) from jsonb_array_elements(r->'drift') d);
  end loop;
  if p_repair then
    for v_lot in select distinct (d->>'parking_lot_id')::uuid from jsonb_array_elements(v_all) d
                  where d->>'parking_lot_id' is not null and exists (select 1 from public.parking_lots l where l.id = (d->>'parking_lot_id')::uuid)
                  order by 1 loop
      v_events := v_events || jsonb_build_array(public.append_lot_event(v_lot, 'rebuilt', auth.uid()));
    end loop;
  end if;
  return jsonb_build_object(
    'parking_lot_id', p_lot_id, 'repaired', coalesce(p_repair, false), 'checked_at', clock_timestamp(),
    'drift_count', jsonb_array_length(v_all), 'items', v_items,
    'by_lot', coalesce((select jsonb_object_agg(lot, counts) from (
        select lot, jsonb_object_agg(item, n) as counts from (
          select d->>'parking_lot_id' as lot, d->>'item' as item, count(*) as n
            from jsonb_array_elements(v_all) d where d->>'parking_lot_id' is not null group by 1, 2) c group by lot) l), '{}'::jsonb),
    'events', v_events);
end
$$;
revoke execute on function public.rebuild_derived_state(uuid, boolean) from public, anon;
grant execute on function public.rebuild_derived_state(uuid, boolean) to authenticated, service_role;

-- Every read and write a caller makes is a SQL function, so the server's direct path and
-- supabase-js (`rpc`) call exactly the same thing. These are security invoker: they run as the
-- caller, and RLS decides what they see.

create or replace function public.get_booking(p_booking_id uuid) returns jsonb
language sql stable
set search_path = ''
as $$ select public.booking_json(b) from public.bookings b where b.id = p_booking_id $$;

-- The caller's bookings, newest first; an admin may name another user.
create or replace function public.list_bookings(p_status text default null, p_limit integer default 50, p_user_id uuid default null)
returns jsonb
language sql stable
set search_path = ''
as $$
  select coalesce(jsonb_agg(public.booking_json(b) order by b.created_at desc, b.id), '[]'::jsonb)
  from (select * from public.bookings x
         where x.user_id = coalesce(p_user_id, auth.uid()) and (p_status is null or x.status = p_status)
         order by x.created_at desc, x.id limit least(greatest(p_limit, 1), 200)) b
$$;

create or replace function public.list_notifications(p_unread_only boolean default false, p_limit integer default 50)
returns jsonb
language sql stable
set search_path = ''
as $$
  select jsonb_build_object(
    'notifications', coalesce((
      select jsonb_agg(to_jsonb(n) - 'user_id' order by n.created_at desc, n.id)
      from (select * from public.notifications x
             where x.user_id = auth.uid() and (not p_unread_only or x.read_at is null)
             order by x.created_at desc, x.id limit least(greatest(p_limit, 1), 200)) n), '[]'::jsonb),
    'unread', (select count(*) from public.notifications x where x.user_id = auth.uid() and x.read_at is null))
$$;

create or replace function public.mark_notification_read(p_id uuid) returns jsonb
language sql
set search_path = ''
as $$
  update public.notifications set read_at = coalesce(read_at, now())
   where id = p_id and user_id = auth.uid()
  returning to_jsonb(notifications) - 'user_id'
$$;

create or replace function public.mark_all_notifications_read() returns integer
language sql
set search_path = ''
as $$
  with marked as (
    update public.notifications set read_at = now() where user_id = auth.uid() and read_at is null returning 1)
  select count(*)::integer from marked
$$;

-- What a reconnecting client missed in one stream, read as the caller (the event log's RLS is
-- the second guard behind the server's room check), and the stream's head.
create or replace function public.read_stream(p_stream text, p_after bigint, p_limit integer)
returns jsonb
language sql stable
set search_path = ''
as $$
  select jsonb_build_object(
    'events', coalesce((
      select jsonb_agg(jsonb_build_object('id', e.id, 'stream', e.stream, 'seq', e.seq, 'event', e.event,
                                          'rooms', to_jsonb(e.rooms), 'payload', e.payload) order by e.seq)
      from (select * from public.event_log x where x.stream = p_stream and x.seq > p_after
             order by x.seq limit least(greatest(p_limit, 1), 100001)) e), '[]'::jsonb),
    'head', coalesce((select s.last_seq from public.stream_sequences s where s.stream = p_stream), 0))
$$;

-- Recent booking transitions with who caused them (admins; RLS shows others nothing).
create or replace function public.booking_activity(p_limit integer default 100)
returns jsonb
language sql stable
set search_path = ''
as $$
  select coalesce(jsonb_agg(jsonb_build_object(
      'event_id', e.id, 'occurred_at', e.created_at, 'booking_id', e.payload->>'booking_id',
      'user_id', e.payload->'booking'->>'user_id', 'parking_lot_id', e.payload->'booking'->>'parking_lot_id',
      'status', e.payload->>'status', 'action', e.payload->>'action', 'actor_id', e.actor_id) order by e.id desc), '[]'::jsonb)
  from (select * from public.event_log x where x.event = 'booking_updated'
         order by x.id desc limit least(greatest(p_limit, 1), 1000)) e
$$;

-- Today's numbers for live stats (admins): the daily view's row and the admin actions so far.
create or replace function public.admin_today() returns jsonb
language sql stable
set search_path = ''
as $$
  select coalesce((select to_jsonb(s) from public.realtime_daily_stats s where s.day = (now() at time zone 'utc')::date), '{}'::jsonb)
    || jsonb_build_object('admin_actions', (
         select count(*) from public.admin_audit_log a
          where a.occurred_at >= date_trunc('day', now() at time zone 'utc') at time zone 'utc'))
$$;

-- An announcement, audited as the admin who sends it before it goes out.
create or replace function public.log_announcement(p_room text, p_details jsonb) returns void
language sql
set search_path = ''
as $$
  insert into public.admin_audit_log (actor_id, action, target_type, target_id, details)
  values (auth.uid(), 'announcement', 'room', p_room, coalesce(p_details, '{}'::jsonb))
$$;

revoke execute on function public.get_booking(uuid), public.list_bookings(text, integer, uuid),
  public.list_notifications(boolean, integer), public.mark_notification_read(uuid), public.mark_all_notifications_read(),
  public.read_stream(text, bigint, integer), public.booking_activity(integer), public.admin_today(),
  public.log_announcement(text, jsonb)
  from public, anon;
grant execute on function public.get_booking(uuid), public.list_bookings(text, integer, uuid),
  public.list_notifications(boolean, integer), public.mark_notification_read(uuid), public.mark_all_notifications_read(),
  public.read_stream(text, bigint, integer), public.booking_activity(integer), public.admin_today(),
  public.log_announcement(text, jsonb)
  to authenticated, service_role;

-- Notifications: stored per user, delivered live by the server through the event log, listed and
-- marked read.

create table public.notifications (
  id uuid primary key default gen_random_uuid(),
  user_id uuid not null,
  title text not null check (length(title) between 1 and 200),
  message text not null check (length(message) <= 2000),
  type text not null default 'info' check (type in ('info', 'success', 'warning', 'error')),
  data jsonb not null default '{}'::jsonb,
  read_at timestamptz,
  created_at timestamptz not null default now()
);
create index notifications_user on public.notifications (user_id, created_at desc);

-- On Supabase a user's rows go with the user: deleting them from auth.users deletes these too.
-- Plain Postgres has no users table (users live with the JWT issuer), so no reference there.
do $$
begin
  if to_regclass('auth.users') is not null then
    alter table public.notifications add constraint notifications_user_fk
      foreign key (user_id) references auth.users (id) on delete cascade;
  end if;
end
$$;

alter table public.notifications enable row level security;

create policy notifications_read on public.notifications for select to authenticated
  using (user_id = (select auth.uid()) or (select public.is_admin()));
-- A user may only mark their own as read (the column grant below limits what changes).
create policy notifications_mark_read on public.notifications for update to authenticated
  using (user_id = (select auth.uid())) with check (user_id = (select auth.uid()));
create policy notifications_admin_insert on public.notifications for insert to authenticated
  with check ((select public.is_admin()));

revoke all on public.notifications from anon, authenticated;
grant select, insert on public.notifications to authenticated;
grant update (read_at) on public.notifications to authenticated;
grant all on public.notifications to service_role;

-- The live event of a stored notification, on its user's stream.
create function public.append_notification_event(n public.notifications, p_actor uuid) returns jsonb
language sql
set search_path = ''
as $$
  select public.append_event('user:' || n.user_id, 'notification', array['user:' || n.user_id],
    jsonb_build_object('id', n.id, 'title', n.title, 'message', n.message, 'type', n.type,
                       'data', n.data, 'timestamp', n.created_at), p_actor)
$$;
revoke execute on function public.append_notification_event(public.notifications, uuid) from public, anon, authenticated;
grant execute on function public.append_notification_event(public.notifications, uuid) to service_role;

-- A stored notification for a user, and its live event. A command of its own: the trigger for
-- notifications inserted directly (011) leaves its insert alone.
create function public.append_notification(
  p_user_id uuid, p_title text, p_message text, p_type text, p_data jsonb, p_actor uuid
) returns jsonb
language plpgsql
set search_path = ''
as $$
declare
  n public.notifications;
begin
  insert into public.notifications (user_id, title, message, type, data)
  values (p_user_id, p_title, p_message, p_type, coalesce(p_data, '{}'::jsonb))
  returning * into n;
  return public.append_notification_event(n, p_actor);
end
$$;
revoke execute on function public.append_notification(uuid, text, text, text, jsonb, uuid) from public, anon, authenticated;
grant execute on function public.append_notification(uuid, text, text, text, jsonb, uuid) to service_role;

-- A user's notifications, listed and marked read as that user (security invoker: RLS applies).

create function public.list_notifications(p_unread_only boolean default false, p_limit integer default 50)
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

create function public.mark_notification_read(p_id uuid) returns jsonb
language sql
set search_path = ''
as $$
  update public.notifications set read_at = coalesce(read_at, now())
   where id = p_id and user_id = auth.uid()
  returning to_jsonb(notifications) - 'user_id'
$$;

create function public.mark_all_notifications_read() returns integer
language sql
set search_path = ''
as $$
  with marked as (
    update public.notifications set read_at = now() where user_id = auth.uid() and read_at is null returning 1)
  select count(*)::integer from marked
$$;
revoke execute on function public.list_notifications(boolean, integer), public.mark_notification_read(uuid), public.mark_all_notifications_read() from public, anon;
grant execute on function public.list_notifications(boolean, integer), public.mark_notification_read(uuid), public.mark_all_notifications_read() to authenticated, service_role;

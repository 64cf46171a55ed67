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

-- A stored notification for a user, and its live event on the user's stream.
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
  return public.append_event('user:' || p_user_id, 'notification', array['user:' || p_user_id],
    jsonb_build_object('id', n.id, 'title', n.title, 'message', n.message, 'type', n.type,
                       'data', n.data, 'timestamp', n.created_at), p_actor);
end
$$;
revoke execute on function public.append_notification(uuid, text, text, text, jsonb, uuid) from public, anon, authenticated;
grant execute on function public.append_notification(uuid, text, text, text, jsonb, uuid) to service_role;

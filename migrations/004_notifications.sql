-- Notifications: stored per user, delivered live by the server, listed and marked read.

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

alter table public.notifications enable row level security;

create policy notifications_read on public.notifications for select to authenticated
  using (user_id = auth.uid() or public.is_admin());
-- A user may only mark their own as read (the column grant below limits what changes).
create policy notifications_mark_read on public.notifications for update to authenticated
  using (user_id = auth.uid()) with check (user_id = auth.uid());
create policy notifications_admin_insert on public.notifications for insert to authenticated
  with check (public.is_admin());

revoke all on public.notifications from anon, authenticated;
grant select, insert on public.notifications to authenticated;
grant update (read_at) on public.notifications to authenticated;
grant all on public.notifications to service_role;

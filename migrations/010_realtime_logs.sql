-- Realtime activity: connections and client events (written in batches by the server, as the
-- service), a daily statistics view, and the retention clean-up.

create table public.realtime_connection_log (
  id bigint generated always as identity primary key,
  node_id text not null,
  socket_id text not null,
  user_id uuid,
  app_role text,
  ip text,
  user_agent text,
  connected_at timestamptz not null,
  disconnected_at timestamptz,
  duration_ms bigint,
  disconnect_reason text,
  constraint realtime_connection_log_socket unique (node_id, socket_id)
);
create index realtime_connection_log_connected_at on public.realtime_connection_log (connected_at);
create index realtime_connection_log_user on public.realtime_connection_log (user_id, connected_at desc);

create table public.realtime_event_log (
  id bigint generated always as identity primary key,
  occurred_at timestamptz not null,
  node_id text not null,
  socket_id text,
  user_id uuid,
  event text not null,
  ok boolean not null,
  error_code text,
  duration_ms real
);
create index realtime_event_log_occurred_at on public.realtime_event_log (occurred_at);
create index realtime_event_log_user on public.realtime_event_log (user_id, occurred_at desc);

alter table public.realtime_connection_log enable row level security;
alter table public.realtime_event_log enable row level security;

create policy connection_log_read on public.realtime_connection_log for select to authenticated
  using (user_id = (select auth.uid()) or (select public.is_admin()));
create policy event_log_read on public.realtime_event_log for select to authenticated
  using (user_id = (select auth.uid()) or (select public.is_admin()));

revoke all on public.realtime_connection_log, public.realtime_event_log,
  public.realtime_connection_log_id_seq, public.realtime_event_log_id_seq from anon, authenticated;
grant select on public.realtime_connection_log, public.realtime_event_log to authenticated;
grant all on public.realtime_connection_log, public.realtime_event_log to service_role;

-- Security invoker: a user's statistics cover their own rows, an admin's cover everyone's.
create view public.realtime_daily_stats with (security_invoker = true) as
with c as (
  select (connected_at at time zone 'utc')::date as day,
         count(*) as connections,
         count(distinct user_id) as unique_users,
         count(*) filter (where disconnected_at is null) as open_connections,
         round(avg(duration_ms))::bigint as avg_duration_ms
  from public.realtime_connection_log group by 1
), e as (
  select (occurred_at at time zone 'utc')::date as day,
         count(*) as events,
         count(*) filter (where not ok) as failed_events,
         round(avg(duration_ms)::numeric, 2) as avg_event_ms
  from public.realtime_event_log group by 1
)
select coalesce(c.day, e.day) as day,
       coalesce(c.connections, 0) as connections,
       coalesce(c.unique_users, 0) as unique_users,
       coalesce(c.open_connections, 0) as open_connections,
       c.avg_duration_ms,
       coalesce(e.events, 0) as events,
       coalesce(e.failed_events, 0) as failed_events,
       e.avg_event_ms
from c full join e on e.day = c.day;

revoke all on public.realtime_daily_stats from anon, authenticated;
grant select on public.realtime_daily_stats to authenticated, service_role;

-- Retention: delete log rows older than the given age, in bounded chunks so that a large
-- backlog does not hold long locks. Returns how many rows went from each table.
create function public.cleanup_realtime_logs(p_older_than interval, p_chunk integer default 10000)
returns jsonb
language plpgsql
set search_path = ''
as $$
declare
  cutoff timestamptz := now() - p_older_than;
  n_conn bigint := 0;
  n_events bigint := 0;
  n bigint;
begin
  if p_older_than is null or p_older_than < interval '1 hour' then
    raise exception 'Refusing to delete logs younger than an hour' using errcode = '22023', hint = 'VALIDATION_ERROR';
  end if;
  -- A chunk of 0 (or null) would never reach `n < p_chunk` and loop forever.
  if p_chunk is null or p_chunk < 1 then
    raise exception 'p_chunk must be at least 1' using errcode = '22023', hint = 'VALIDATION_ERROR';
  end if;
  loop
    delete from public.realtime_connection_log where id in (
      select id from public.realtime_connection_log
      where connected_at < cutoff and disconnected_at is not null limit p_chunk);
    get diagnostics n = row_count;
    n_conn := n_conn + n;
    exit when n < p_chunk;
  end loop;
  loop
    delete from public.realtime_event_log where id in (
      select id from public.realtime_event_log where occurred_at < cutoff limit p_chunk);
    get diagnostics n = row_count;
    n_events := n_events + n;
    exit when n < p_chunk;
  end loop;
  return jsonb_build_object('realtime_connection_log', n_conn, 'realtime_event_log', n_events, 'cutoff', cutoff);
end
$$;

revoke execute on function public.cleanup_realtime_logs(interval, integer) from public, anon, authenticated;
grant execute on function public.cleanup_realtime_logs(interval, integer) to service_role;

-- Today's numbers for live stats, as the admin.

-- Today's numbers for live stats (admins): the daily view's row and the admin actions so far.
create function public.admin_today() returns jsonb
language sql stable
set search_path = ''
as $$
  select coalesce((select to_jsonb(s) from public.realtime_daily_stats s where s.day = (now() at time zone 'utc')::date), '{}'::jsonb)
    || jsonb_build_object('admin_actions', (
         select count(*) from public.admin_audit_log a
          where a.occurred_at >= date_trunc('day', now() at time zone 'utc') at time zone 'utc'))
$$;
revoke execute on function public.admin_today() from public, anon;
grant execute on function public.admin_today() to authenticated, service_role;

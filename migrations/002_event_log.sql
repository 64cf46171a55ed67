-- The event log (transactional outbox). Every change that clients must hear about inserts its
-- event here in the same transaction as the change; the server emits it after commit and marks
-- it dispatched, and a sweeper re-emits what a dead node left behind. Each event belongs to one
-- stream (a room: `parking_lot:<id>` or `user:<id>`) with a gap-free sequence number, so a client
-- can drop duplicates and notice gaps.
--
-- Retention (cleanup_event_log) sits here too: recovery replays only what the log keeps.
--
-- Events are written by spotcast's commands (the SQL functions of later files, called by a node or
-- by anyone over supabase-js) and by the triggers of 011 (direct table edits). `origin` says who
-- will emit an event: the spotcast node whose transaction wrote it emits it right after commit;
-- an event written outside spotcast (origin null) is announced by whichever node claims it first
-- when Postgres notifies the nodes on channel `spotcast_events` at commit. A sweeper on every
-- node re-emits whatever nobody marked dispatched, as the safety net.

create table public.stream_sequences (
  stream text primary key,
  last_seq bigint not null
);

-- The spotcast node writing in this transaction: the server sets `spotcast.node_id` with the
-- caller's claims; over Supabase's HTTP API it sends the header `x-spotcast-node`, which PostgREST
-- exposes as `request.headers`. Null: written outside spotcast. A caller forging the header only
-- delays their own events to the sweep.
create function public.event_origin() returns text
language sql stable
set search_path = ''
as $$
  select left(coalesce(
    nullif(current_setting('spotcast.node_id', true), ''),
    nullif(current_setting('request.headers', true), '')::jsonb ->> 'x-spotcast-node'), 200)
$$;
revoke execute on function public.event_origin() from public, anon, authenticated;
grant execute on function public.event_origin() to service_role;

create table public.event_log (
  id bigint generated always as identity primary key,
  stream text not null,
  seq bigint not null,
  event text not null,
  -- every room the event is emitted to; the stream's room first
  rooms text[] not null,
  payload jsonb not null,
  actor_id uuid,
  created_at timestamptz not null default now(),
  -- set once the event reached every node (its publish to the cluster was confirmed)
  dispatched_at timestamptz,
  origin text default public.event_origin(),
  constraint event_log_stream_seq unique (stream, seq)
);
create index event_log_undispatched on public.event_log (id) where dispatched_at is null;
create index event_log_external on public.event_log (id) where dispatched_at is null and origin is null;
create index event_log_created_at on public.event_log (created_at);
-- A node whose Redis subscription was interrupted re-emits, to its own clients, what was
-- dispatched meanwhile (see server/outbox/resync.ts).
create index event_log_dispatched_at on public.event_log (dispatched_at);

alter table public.stream_sequences enable row level security;
alter table public.event_log enable row level security;

-- Lot streams carry availability only (public to signed-in users); a user stream is its user's.
-- `(select …)` makes the claims one evaluation per query instead of one per row. Who caused an
-- event (`actor_id`: on a lot stream, the user who booked) and which node wrote it are not among
-- the columns callers may read (grants below): admins get actors through booking_activity().
create policy event_log_read on public.event_log for select to authenticated
  using (stream like 'parking\_lot:%' or stream = 'user:' || (select auth.uid())::text or (select public.is_admin()));

-- The head of each stream, readable on the same terms (replay runs as the caller).
create policy stream_sequences_read on public.stream_sequences for select to authenticated
  using (stream like 'parking\_lot:%' or stream = 'user:' || (select auth.uid())::text or (select public.is_admin()));

revoke all on public.stream_sequences, public.event_log, public.event_log_id_seq from anon, authenticated;
grant select (id, stream, seq, event, rooms, payload, created_at) on public.event_log to authenticated;
grant select on public.stream_sequences to authenticated;
grant all on public.stream_sequences, public.event_log to service_role;

-- Wakes the nodes for an event written outside spotcast. NOTIFY is delivered at commit, and one
-- transaction's identical notifications are folded into one.
create function public.notify_external_event() returns trigger
language plpgsql
set search_path = ''
as $$
begin
  perform pg_notify('spotcast_events', '');
  return null;
end
$$;
revoke execute on function public.notify_external_event() from public, anon, authenticated;
create trigger event_log_external_notify after insert on public.event_log
  for each row when (new.origin is null) execute function public.notify_external_event();

-- Appends one event with the next number of its stream. The stream row lock orders appends per
-- stream. Private: only the functions of later files call it, so no API caller can forge an event
-- that the server would then broadcast.
-- Every event says who caused it: `actor_role` (user, admin, or system for timed transitions,
-- payments and edits without claims), and on a user's stream `actor_id` too. Lot streams, which
-- every signed-in user may read, never name the actor.
create function public.append_event(
  p_stream text, p_event text, p_rooms text[], p_payload jsonb, p_actor uuid
) returns jsonb
language plpgsql
set search_path = ''
as $$
declare
  v_seq bigint;
  v_id bigint;
  v_at timestamptz := clock_timestamp();
  v_payload jsonb := p_payload || jsonb_build_object('actor_role',
    case when p_actor is null then 'system' when p_actor = auth.uid() and public.is_admin() then 'admin' else 'user' end);
begin
  if p_stream like 'user:%' then
    v_payload := v_payload || jsonb_build_object('actor_id', p_actor);
  end if;
  insert into public.stream_sequences as s (stream, last_seq) values (p_stream, 1)
  on conflict (stream) do update set last_seq = s.last_seq + 1
  returning last_seq into v_seq;
  insert into public.event_log (stream, seq, event, rooms, payload, actor_id)
  values (p_stream, v_seq, p_event, p_rooms, v_payload, p_actor)
  returning id into v_id;
  return jsonb_build_object('id', v_id, 'stream', p_stream, 'seq', v_seq, 'event', p_event,
                            'rooms', to_jsonb(p_rooms), 'payload', v_payload, 'created_at', v_at);
end
$$;

revoke execute on function public.append_event(text, text, text[], jsonb, uuid) from public, anon, authenticated;
grant execute on function public.append_event(text, text, text[], jsonb, uuid) to service_role;

-- Retention: dispatched events older than the given age go, in bounded chunks so that a large
-- backlog does not hold long locks. Undispatched ones stay whatever their age (the sweeper owes
-- them to clients). Returns how many went.
create function public.cleanup_event_log(p_older_than interval, p_chunk integer default 10000)
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

-- Replay for a reconnecting client, read as the caller: the policies above are the second guard behind the server's room check.

-- What a reconnecting client missed in one stream, read as the caller (the event log's RLS is
-- the second guard behind the server's room check), and the stream's head.
create function public.read_stream(p_stream text, p_after bigint, p_limit integer)
returns jsonb
language sql stable
set search_path = ''
as $$
  select jsonb_build_object(
    'events', coalesce((
      select jsonb_agg(jsonb_build_object('id', e.id, 'stream', e.stream, 'seq', e.seq, 'event', e.event,
                                          'rooms', to_jsonb(e.rooms), 'payload', e.payload) order by e.seq)
      from (select x.id, x.stream, x.seq, x.event, x.rooms, x.payload from public.event_log x
             where x.stream = p_stream and x.seq > p_after
             order by x.seq limit least(greatest(p_limit, 1), 100001)) e), '[]'::jsonb),
    'head', coalesce((select s.last_seq from public.stream_sequences s where s.stream = p_stream), 0))
$$;
revoke execute on function public.read_stream(text, bigint, integer) from public, anon;
grant execute on function public.read_stream(text, bigint, integer) to authenticated, service_role;

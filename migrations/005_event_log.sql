-- The event log (transactional outbox). Every change that clients must hear about inserts its
-- event here in the same transaction as the change; the server emits it after commit and marks
-- it dispatched, and a sweeper re-emits what a dead node left behind. Each event belongs to one
-- stream (a room: `parking_lot:<id>` or `user:<id>`) with a gap-free sequence number, so a client
-- can drop duplicates and notice gaps.

create table public.stream_sequences (
  stream text primary key,
  last_seq bigint not null
);

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
  dispatched_at timestamptz,
  constraint event_log_stream_seq unique (stream, seq)
);
create index event_log_undispatched on public.event_log (id) where dispatched_at is null;
create index event_log_created_at on public.event_log (created_at);

alter table public.stream_sequences enable row level security;
alter table public.event_log enable row level security;

-- Lot streams carry availability only (public to signed-in users); a user stream is its user's.
create policy event_log_read on public.event_log for select to authenticated
  using (stream like 'parking\_lot:%' or stream = 'user:' || auth.uid()::text or public.is_admin());

-- The head of each stream, readable on the same terms (replay runs as the caller).
create policy stream_sequences_read on public.stream_sequences for select to authenticated
  using (stream like 'parking\_lot:%' or stream = 'user:' || auth.uid()::text or public.is_admin());

revoke all on public.stream_sequences, public.event_log from anon, authenticated;
grant select on public.event_log, public.stream_sequences to authenticated;
grant all on public.stream_sequences, public.event_log to service_role;

-- Appends one event with the next number of its stream. The stream row lock orders appends per
-- stream. Private: only the security-definer functions below call it, so no API caller can forge
-- an event that the server would then broadcast.
create or replace function public.append_event(
  p_stream text, p_event text, p_rooms text[], p_payload jsonb, p_actor uuid
) returns jsonb
language plpgsql
set search_path = ''
as $$
declare
  v_seq bigint;
  v_id bigint;
  v_at timestamptz := clock_timestamp();
begin
  insert into public.stream_sequences as s (stream, last_seq) values (p_stream, 1)
  on conflict (stream) do update set last_seq = s.last_seq + 1
  returning last_seq into v_seq;
  insert into public.event_log (stream, seq, event, rooms, payload, actor_id)
  values (p_stream, v_seq, p_event, p_rooms, p_payload, p_actor)
  returning id into v_id;
  return jsonb_build_object('id', v_id, 'stream', p_stream, 'seq', v_seq, 'event', p_event,
                            'rooms', to_jsonb(p_rooms), 'payload', p_payload, 'created_at', v_at);
end
$$;

revoke execute on function public.append_event(text, text, text[], jsonb, uuid) from public, anon, authenticated;
grant execute on function public.append_event(text, text, text[], jsonb, uuid) to service_role;

-- The parking_updated event of a lot: its availability now, emitted to the lot, to everyone
-- watching all lots, and to admins.
create or replace function public.append_lot_event(p_lot_id uuid, p_action text, p_actor uuid)
returns jsonb
language sql
set search_path = ''
as $$
  select public.append_event(
    'parking_lot:' || p_lot_id, 'parking_updated',
    array['parking_lot:' || p_lot_id, 'parking_updates', 'admin'],
    to_jsonb(a) || jsonb_build_object('action', p_action, 'timestamp', clock_timestamp()),
    p_actor)
  from public.lot_availability(p_lot_id) a
$$;
revoke execute on function public.append_lot_event(uuid, text, uuid) from public, anon, authenticated;
grant execute on function public.append_lot_event(uuid, text, uuid) to service_role;

-- A stored notification for a user, and its live event on the user's stream.
create or replace function public.append_notification(
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

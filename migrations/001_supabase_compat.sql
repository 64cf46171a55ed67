-- What Supabase already has, created only where it is missing, so that every later file runs
-- unchanged on Supabase and on plain Postgres. Nothing here replaces an existing object.

do $$
begin
  if not exists (select 1 from pg_roles where rolname = 'anon') then
    create role anon nologin noinherit;
  end if;
  if not exists (select 1 from pg_roles where rolname = 'authenticated') then
    create role authenticated nologin noinherit;
  end if;
  if not exists (select 1 from pg_roles where rolname = 'service_role') then
    create role service_role nologin noinherit bypassrls;
  end if;
  -- The server connects as one login role and switches with `set local role`, as PostgREST does.
  if not pg_has_role(current_user, 'authenticated', 'member') then
    execute format('grant anon, authenticated, service_role to %I', current_user);
  end if;
end
$$;

create schema if not exists auth;
grant usage on schema auth to anon, authenticated, service_role;

-- Same definitions as Supabase's: the claims come from `request.jwt.claims`, set per transaction.
do $$
begin
  if not exists (select 1 from pg_proc p join pg_namespace n on n.oid = p.pronamespace
                 where n.nspname = 'auth' and p.proname = 'jwt') then
    execute $f$
      create function auth.jwt() returns jsonb language sql stable as $b$
        select coalesce(
          nullif(current_setting('request.jwt.claim', true), ''),
          nullif(current_setting('request.jwt.claims', true), '')
        )::jsonb
      $b$ $f$;
  end if;
  if not exists (select 1 from pg_proc p join pg_namespace n on n.oid = p.pronamespace
                 where n.nspname = 'auth' and p.proname = 'uid') then
    execute $f$
      create function auth.uid() returns uuid language sql stable as $b$
        select coalesce(
          nullif(current_setting('request.jwt.claim.sub', true), ''),
          (nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'sub')
        )::uuid
      $b$ $f$;
  end if;
  if not exists (select 1 from pg_proc p join pg_namespace n on n.oid = p.pronamespace
                 where n.nspname = 'auth' and p.proname = 'role') then
    execute $f$
      create function auth.role() returns text language sql stable as $b$
        select coalesce(
          nullif(current_setting('request.jwt.claim.role', true), ''),
          (nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'role')
        )::text
      $b$ $f$;
  end if;
end
$$;

-- The migration runner's own table sits in `public`, which Supabase exposes over its HTTP API:
-- lock it away from API roles.
alter table public.migrations enable row level security;
revoke all on public.migrations from anon, authenticated;

-- The application role (user/admin) is a claim only the service can set. Its path is
-- `app_metadata.role` unless the server says otherwise for its own transactions.
create or replace function public.is_admin() returns boolean
language sql stable
set search_path = ''
as $$
  select coalesce(
    auth.jwt() #>> string_to_array(
      coalesce(nullif(current_setting('spotcast.role_claim_path', true), ''), 'app_metadata.role'), '.'
    ) = 'admin',
    false
  )
$$;

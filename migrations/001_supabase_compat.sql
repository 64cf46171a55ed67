-- What Supabase already has, created only where it is missing (the API roles, the `auth` schema
-- and its functions), so that every later file runs unchanged on Supabase and on plain Postgres;
-- and is_admin(), with the setting that says where the admin role sits in the JWT.

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

-- On Supabase the schema belongs to the auth service and is left alone; elsewhere it is created
-- with Supabase's definitions: the claims come from `request.jwt.claims`, set per transaction.
do $$
begin
  if not exists (select 1 from pg_namespace where nspname = 'auth') then
    create schema auth;
    grant usage on schema auth to anon, authenticated, service_role;
  end if;
  if to_regprocedure('auth.jwt()') is null then
    create function auth.jwt() returns jsonb language sql stable as $b$
      select coalesce(
        nullif(current_setting('request.jwt.claim', true), ''),
        nullif(current_setting('request.jwt.claims', true), '')
      )::jsonb
    $b$;
  end if;
  if to_regprocedure('auth.uid()') is null then
    create function auth.uid() returns uuid language sql stable as $b$
      select coalesce(
        nullif(current_setting('request.jwt.claim.sub', true), ''),
        (nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'sub')
      )::uuid
    $b$;
  end if;
  if to_regprocedure('auth.role()') is null then
    create function auth.role() returns text language sql stable as $b$
      select coalesce(
        nullif(current_setting('request.jwt.claim.role', true), ''),
        (nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'role')
      )::text
    $b$;
  end if;
end
$$;

-- Where the application role (user/admin) sits in the JWT: a claim only the service can set.
-- The server writes its JWT_ROLE_CLAIM here at start, so that is_admin() agrees with it also when
-- supabase-js calls the functions through PostgREST, where no per-transaction setting exists.
create table public.spotcast_settings (
  id boolean primary key default true check (id),
  role_claim_path text not null default 'app_metadata.role'
    check (role_claim_path ~ '^[A-Za-z0-9_]+(\.[A-Za-z0-9_]+)*$'),
  updated_at timestamptz not null default now()
);
insert into public.spotcast_settings default values;
alter table public.spotcast_settings enable row level security;
revoke all on public.spotcast_settings from anon, authenticated;
grant all on public.spotcast_settings to service_role;

create function public.configure_role_claim(p_path text) returns void
language sql
set search_path = ''
as $$
  update public.spotcast_settings set role_claim_path = p_path, updated_at = now()
$$;
revoke execute on function public.configure_role_claim(text) from public, anon, authenticated;
grant execute on function public.configure_role_claim(text) to service_role;

-- The claim path is the per-transaction `spotcast.role_claim_path` when the server set one, else
-- the stored setting. Security definer so that callers need no privilege on the settings table.
create function public.is_admin() returns boolean
language sql stable security definer
set search_path = ''
as $$
  select coalesce(
    auth.jwt() #>> string_to_array(coalesce(
      nullif(current_setting('spotcast.role_claim_path', true), ''),
      (select s.role_claim_path from public.spotcast_settings s),
      'app_metadata.role'), '.') = 'admin',
    false
  )
$$;
revoke execute on function public.is_admin() from public, anon;
grant execute on function public.is_admin() to authenticated, service_role;

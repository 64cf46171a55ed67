/**
 * Databases prepared the way Supabase prepares a project's (test/fixtures/supabase/), on the run's
 * Postgres: its roles (cluster-wide, created when missing), the `auth` schema owned by the auth
 * service with auth.users and auth.uid()/role()/jwt(), storage's runner table, and Supabase's
 * default privileges on `public`. Each database is new and dropped at the end of the run.
 */
import { readFileSync } from 'node:fs';
import type pg from 'pg';
import { uniqueName, withClient, withDatabase } from './env.js';
import { testEnv } from './global-setup.js';

const FIXTURE_DIR = new URL('../fixtures/supabase/', import.meta.url);
const fixture = (file: string) => readFileSync(new URL(file, FIXTURE_DIR), 'utf8');

/** Plays Supabase's `postgres`: owns the database, not a superuser; the CLI connects as it. */
export const MIGRATION_OWNER = 'supabase_postgres';
const PASSWORD = 'spotcast-supabase-fixture';

export interface SupabaseDatabase {
  name: string;
  /** The cluster's superuser, in this database: for what Supabase's own services do. */
  adminUrl: string;
  /** The migration owner (Supabase's `postgres`), as the CLI and the server connect. */
  ownerUrl: string;
  /** PostgREST's login role: switches to `anon`, `authenticated` or `service_role` per request. */
  authenticatorUrl: string;
}

export { withClient };

/** On the run's Postgres, dropped by dropSupabaseDatabases. */
const created: string[] = [];

/** A new database in the run's Postgres, or in the cluster of `clusterAdminUrl` (a suite's own). */
export async function createSupabaseDatabase(prefix: string, clusterAdminUrl?: string): Promise<SupabaseDatabase> {
  const name = uniqueName(prefix);
  await withClient(clusterAdminUrl ?? testEnv().adminUrl, async (c) => {
    await c.query(fixture('roles.sql'));
    await c.query(`create database ${c.escapeIdentifier(name)} owner ${c.escapeIdentifier(MIGRATION_OWNER)}`);
  });
  if (!clusterAdminUrl) created.push(name);
  const adminUrl = withDatabase(clusterAdminUrl ?? testEnv().adminUrl, name);
  await withClient(adminUrl, (c) => c.query(fixture('database.sql')));
  return { name, adminUrl, ownerUrl: loginUrl(adminUrl, MIGRATION_OWNER), authenticatorUrl: loginUrl(adminUrl, 'authenticator') };
}

export async function dropSupabaseDatabases(): Promise<void> {
  await withClient(testEnv().adminUrl, async (c) => {
    for (const name of created.splice(0)) await c.query(`drop database if exists ${c.escapeIdentifier(name)} with (force)`);
  });
}

function loginUrl(url: string, user: string): string {
  const u = new URL(url);
  u.username = user;
  u.password = PASSWORD;
  return u.toString();
}

/**
 * One request as PostgREST makes it: connected as `authenticator`, a transaction with the role
 * and the JWT's claims set locally, no other setting (no spotcast.role_claim_path). Rolled back
 * unless `commit`.
 */
export async function asPostgrest<T>(
  db: SupabaseDatabase,
  claims: Record<string, unknown>,
  fn: (c: pg.Client) => Promise<T>,
  commit = false,
): Promise<T> {
  return withClient(db.authenticatorUrl, async (c) => {
    await c.query('begin');
    try {
      const role = typeof claims.role === 'string' ? claims.role : 'anon';
      await c.query(`select set_config('role', $1, true), set_config('request.jwt.claims', $2, true)`, [role, JSON.stringify(claims)]);
      const result = await fn(c);
      await c.query(commit ? 'commit' : 'rollback');
      return result;
    } catch (err) {
      await c.query('rollback').catch(() => undefined);
      throw err;
    }
  });
}

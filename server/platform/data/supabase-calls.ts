import { createClient, type SupabaseClient } from '@supabase/supabase-js';
import WebSocket from 'ws';
import type { Principal } from '../auth/principal.js';
import { mapDbError } from '../db/db-errors.js';
import { ServiceUnavailableError, UnauthorizedError } from '../errors.js';
import type { UserCalls, UserFunction, UserFunctions } from './calls.js';

export interface SupabaseOptions {
  url: string;
  anonKey: string;
  /**
   * Sent as `x-spotcast-node`: PostgREST exposes it to SQL (`request.headers`), where it becomes
   * the origin of the events the call logs, so that this node, which emits them from the reply,
   * is the only one to (migrations/002_event_log.sql).
   */
  nodeId?: string | undefined;
}

interface PostgrestErrorLike {
  code?: string;
  message: string;
  hint?: string | null;
}

/**
 * PostgREST answers an error raised in SQL with its SQLSTATE in `code` and our stable code in
 * `hint`, so the same mapping as the direct path applies. A failure to reach the API at all
 * (no HTTP answer) is SERVICE_UNAVAILABLE.
 */
function mapSupabaseError(error: PostgrestErrorLike): unknown {
  if (!error.code && /fetch failed|ECONNREFUSED|network|socket hang up|ENOTFOUND|timed? ?out/i.test(error.message)) {
    return new ServiceUnavailableError('Data API unavailable');
  }
  // PGRST3xx: PostgREST refused the JWT itself (expired, bad signature).
  if (error.code?.startsWith('PGRST3')) return new UnauthorizedError('TOKEN_INVALID', `Data API refused the token: ${error.message}`);
  return mapDbError({ code: error.code, hint: error.hint ?? undefined, message: error.message });
}

async function unwrap<T>(pending: PromiseLike<{ data: T | null; error: PostgrestErrorLike | null }>): Promise<T> {
  let answer: { data: T | null; error: PostgrestErrorLike | null };
  try {
    answer = await pending;
  } catch (err) {
    throw mapSupabaseError({ message: err instanceof Error ? err.message : String(err) });
  }
  if (answer.error) throw mapSupabaseError(answer.error);
  return answer.data as T;
}

/**
 * For deployments that reach Supabase only over its HTTP API: the same SQL functions through
 * `rpc`, with the caller's own JWT as the Authorization header, so PostgREST sets the role and
 * claims and RLS applies exactly as on the direct path.
 */
export function createSupabaseCalls(opts: SupabaseOptions): UserCalls {
  // One client per request: its Authorization header is the caller's token, never shared.
  const as = (principal: Principal): SupabaseClient =>
    createClient(opts.url, opts.anonKey, {
      global: { headers: { Authorization: `Bearer ${principal.token}`, ...(opts.nodeId ? { 'x-spotcast-node': opts.nodeId } : {}) } },
      auth: { persistSession: false, autoRefreshToken: false, detectSessionInUrl: false },
      // Node 20 has no global WebSocket; supabase-js needs one for its realtime client.
      realtime: { transport: WebSocket as never },
    });
  return {
    kind: 'supabase',
    call: <F extends UserFunction>(principal: Principal, fn: F, args: UserFunctions[F]) => unwrap<unknown>(as(principal).rpc(fn, args)),
  };
}

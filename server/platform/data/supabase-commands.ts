import { createClient, type SupabaseClient } from '@supabase/supabase-js';
import WebSocket from 'ws';
import type { Principal } from '../auth/principal.js';
import type { Booking } from '../../features/bookings/types.js';
import { mapDbError } from '../db/db-errors.js';
import { ServiceUnavailableError, UnauthorizedError } from '../errors.js';
import type { LotAvailability } from '../../contract/contract.js';
import { toAvailability } from './pg-commands.js';
import type { DataCommands } from './commands.js';

export interface SupabaseOptions {
  url: string;
  anonKey: string;
}

const BOOKING_COLUMNS = 'id, user_id, parking_lot_id, starts_at, ends_at, status, hold_expires_at, amount_cents, currency, vehicle_plate, created_at, updated_at';

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
export function mapSupabaseError(error: PostgrestErrorLike): unknown {
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
export function createSupabaseCommands(opts: SupabaseOptions): DataCommands {
  // One client per request: its Authorization header is the caller's token, never shared.
  const as = (principal: Principal): SupabaseClient =>
    createClient(opts.url, opts.anonKey, {
      global: { headers: { Authorization: `Bearer ${principal.token}` } },
      auth: { persistSession: false, autoRefreshToken: false, detectSessionInUrl: false },
      // Node 20 has no global WebSocket; supabase-js needs one for its realtime client.
      realtime: { transport: WebSocket as never },
    });

  return {
    kind: 'supabase',
    createBooking: (principal, p) =>
      unwrap(
        as(principal).rpc('create_booking', {
          p_lot_id: p.parking_lot_id,
          p_starts_at: p.starts_at,
          p_ends_at: p.ends_at,
          p_duration_minutes: p.duration_minutes,
          p_idempotency_key: p.idempotency_key,
          p_vehicle_plate: p.vehicle_plate,
        }),
      ),
    cancelBooking: (principal, bookingId, reason) =>
      unwrap(as(principal).rpc('cancel_booking', { p_booking_id: bookingId, p_reason: reason })),
    async setLotAvailability(principal, lotId, p) {
      const r = await unwrap<{ lot: LotAvailability; events: [] }>(
        as(principal).rpc('set_lot_availability', {
          p_lot_id: lotId,
          p_available_spaces: p.available_spaces,
          p_out_of_service: p.out_of_service,
          p_is_open: p.is_open,
          p_reason: p.reason,
        }),
      );
      return { lot: toAvailability(r.lot), events: r.events };
    },
    async lotAvailability(principal, lotId) {
      const rows = await unwrap<LotAvailability[]>(as(principal).rpc('lot_availability', { p_lot_id: lotId }));
      return rows.map(toAvailability);
    },
    async getBooking(principal, bookingId) {
      const row = await unwrap<Booking | null>(as(principal).from('bookings').select(BOOKING_COLUMNS).eq('id', bookingId).maybeSingle());
      return row ?? undefined;
    },
    async listBookings(principal, o) {
      let query = as(principal)
        .from('bookings')
        .select(BOOKING_COLUMNS)
        .eq('user_id', o.userId ?? principal.userId);
      if (o.status) query = query.eq('status', o.status);
      return unwrap<Booking[]>(query.order('created_at', { ascending: false }).order('id').limit(o.limit));
    },
  };
}

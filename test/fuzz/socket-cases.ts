import assert from 'node:assert/strict';
import type { z } from 'zod';
import { announcementSchema, availabilityEventSchema, bookingRefSchema, cancelBookingSchema, createBookingSchema, emptySchema, refreshTokenSchema, setAvailabilityEventSchema, subscribeSchema, unsubscribeSchema } from '../../server/contract/index.js';
import { Rng } from './rng.js';
import type { World } from './world.js';
import { HOSTILE_KEYS, approxBytes, edgeDate, hostileValue, isPlainObject, polluted, setOwn, wire } from './values.js';
import { safeJson } from './oracles.js';

// ---- socket cases ------------------------------------------------------------------------------

export type EventName =
  | 'subscribe'
  | 'unsubscribe'
  | 'get_parking_availability'
  | 'get_booking_status'
  | 'create_booking'
  | 'cancel_booking'
  | 'get_live_stats'
  | 'send_announcement'
  | 'set_parking_availability'
  | 'refresh_token';

export interface EventSpec {
  schema: z.ZodType;
  /** Writes are only ever sent invalid input, or valid input aimed at an id that does not exist. */
  write: boolean;
  reply: string | null;
  template(r: Rng, w: World, role: 'user' | 'admin'): unknown;
  /** Turns a contract-valid payload into an invalid one (only writes need it). */
  spoil?(p: Record<string, unknown>): Record<string, unknown>;
  /** Checks the data of an `ok: true` answer (given the payload as the server saw it). */
  shape(data: any, w: World, role: 'user' | 'admin', payload: unknown): string | undefined;
}

export const future = (minutes: number) => new Date(Date.now() + minutes * 60_000).toISOString();

export const EVENTS: Record<EventName, EventSpec> = {
  subscribe: {
    schema: subscribeSchema,
    write: false,
    reply: 'subscribed',
    template: (r, w) =>
      r.pick([
        { room: `parking_lot:${w.lotId}` },
        { type: 'parking_lot', room: w.lotId },
        { type: 'parking_updates' },
        { room: `user:${w.userId}` },
        { room: 'admin' },
        { room: `parking_lot:${w.lotId}`, last_seq: 0 },
        { room: `user:${w.otherUserId}`, last_seq: 0 },
      ]),
    shape: (d, w, role) => {
      if (typeof d?.room !== 'string') return 'data.room is not a string';
      if (role === 'user' && (d.room === 'admin' || (d.room.startsWith('user:') && d.room !== `user:${w.userId}`))) return `user joined ${d.room}`;
      return undefined;
    },
  },
  unsubscribe: {
    schema: unsubscribeSchema,
    write: false,
    reply: 'unsubscribed',
    template: (r, w) => r.pick([{ room: `parking_lot:${w.lotId}` }, { type: 'parking_updates' }, { room: 'admin' }]),
    shape: (d) => (typeof d?.room === 'string' && typeof d.was_subscribed === 'boolean' ? undefined : 'data is not { room, was_subscribed }'),
  },
  get_parking_availability: {
    schema: availabilityEventSchema,
    write: false,
    reply: 'parking_availability',
    template: (r, w) => r.pick([{ parking_lot_id: w.lotId }, {}, undefined]),
    shape: (d) => (Array.isArray(d?.lots) && typeof d.timestamp === 'string' ? undefined : 'data is not { lots[], timestamp }'),
  },
  get_booking_status: {
    schema: bookingRefSchema,
    write: false,
    reply: 'booking_status',
    template: (r, w) => ({ booking_id: r.pick([w.bookingId, w.otherBookingId, r.uuid()]) }),
    shape: (d, w, role) => {
      if (typeof d?.booking?.id !== 'string') return 'data.booking.id is not a string';
      if (role === 'user' && d.booking.user_id !== w.userId) return "a user read another user's booking";
      return undefined;
    },
  },
  create_booking: {
    schema: createBookingSchema,
    write: true,
    reply: 'booking_created',
    template: (r) =>
      r.pick([
        { parking_lot_id: r.uuid(), duration_minutes: 60 },
        { parking_lot_id: r.uuid(), starts_at: future(60), ends_at: future(120), idempotency_key: 'k1', vehicle_plate: 'AB-123' },
        { parking_lot_id: r.uuid(), starts_at: future(10), duration_minutes: 30 },
        { parking_lot_id: r.uuid(), starts_at: edgeDate(r), duration_minutes: r.pick([1, 30, 7 * 24 * 60]) },
        { parking_lot_id: r.uuid(), starts_at: edgeDate(r), ends_at: edgeDate(r) },
        { parking_lot_id: r.uuid(), ends_at: edgeDate(r) },
      ]),
    spoil: (p) => ({ ...p, duration_minutes: -5 }),
    shape: () => 'a write was accepted',
  },
  cancel_booking: {
    schema: cancelBookingSchema,
    write: true,
    reply: 'booking_cancelled',
    template: (r, w) => ({ booking_id: r.pick([r.uuid(), w.bookingId, w.otherBookingId]), reason: 'changed plans' }),
    spoil: (p) => ({ ...p, reason: 12345 }),
    shape: () => 'a write was accepted',
  },
  get_live_stats: {
    schema: emptySchema,
    write: false,
    reply: 'live_stats',
    template: (r) => r.pick([{}, undefined]),
    shape: (d, _w, role) => (role !== 'admin' ? 'a user got live stats' : typeof d?.stats === 'object' ? undefined : 'data.stats is not an object'),
  },
  send_announcement: {
    schema: announcementSchema,
    write: true,
    reply: 'announcement_sent',
    template: (r, w) => ({ message: 'Gate B closed', title: 'Notice', type: r.pick(['info', 'warning', 'maintenance', 'emergency']), room: `parking_lot:${w.lotId}` }),
    spoil: (p) => ({ ...p, message: '   ' }),
    shape: () => 'a write was accepted',
  },
  set_parking_availability: {
    schema: setAvailabilityEventSchema,
    write: true,
    reply: null,
    template: (r, w) => ({ parking_lot_id: r.pick([r.uuid(), w.lotId]), available_spaces: 3, out_of_service: 1, is_open: true, reason: 'count' }),
    spoil: (p) => ({ ...p, parking_lot_id: 42 }),
    shape: () => 'a write was accepted',
  },
  refresh_token: {
    schema: refreshTokenSchema,
    write: false,
    reply: 'token_refreshed',
    // Another user's valid token (the admin's, for a user) must be refused; only the socket's own user's token may pass.
    template: (r, w, role) => ({ token: r.pick([role === 'user' ? w.adminToken : w.userToken, 'x.y.z', `${w.userToken}x`, `${w.adminToken.slice(0, -2)}`]) }),
    shape: (d, w, role, payload) => {
      const own = role === 'user' ? w.userToken : w.adminToken;
      if (!isPlainObject(payload) || payload.token !== own) return 'refresh_token accepted a token that is not one of the same user';
      return typeof d?.token_expires_at === 'string' ? undefined : 'data.token_expires_at is not a string';
    },
  },
};

export const UNKNOWN_EVENTS = [
  'subscribe ', 'SUBSCRIBE', 'create_bookings', '__proto__', 'constructor', 'toString', 'hasOwnProperty', 'valueOf', 'error', 'connected',
  'booking_created', 'parking_updated', 'admin', 'x'.repeat(1000), '😀', 'get_live_stats\u0000', "'; drop table public.bookings; --", '',
  'set_parking_availability.', 'emit', 'join', 'leave', 'onAny', 'bookings:create',
];

export interface SocketCase {
  idx: number;
  event: string;
  known: EventName | undefined;
  args: unknown[];
  withAck: boolean;
  valid: boolean;
  /** The first argument as the server receives it (what it validates). */
  payload: unknown;
  sent: string;
}

/** The server validates the first argument; an `undefined` there travels as null. */
export function onWire(args: unknown[]): unknown {
  if (args.length === 0) return undefined;
  return args[0] === undefined ? null : wire(args[0]);
}

export function mutate(r: Rng, w: World, template: unknown): unknown[] {
  const t = isPlainObject(template) ? { ...template } : template;
  const keys = isPlainObject(t) ? Object.keys(t) : [];
  switch (r.int(0, 13)) {
    case 0:
      return [hostileValue(r, w)];
    case 1:
    case 2:
    case 3: {
      // one field replaced by a hostile value (the commonest real-world mistake)
      if (!isPlainObject(t) || keys.length === 0) return [hostileValue(r, w)];
      const out = { ...t };
      setOwn(out, r.pick(keys), hostileValue(r, w));
      return [out];
    }
    case 4: {
      if (!isPlainObject(t) || keys.length === 0) return [t];
      const out = { ...t };
      delete out[r.pick(keys)];
      return [out];
    }
    case 5: {
      const out = isPlainObject(t) ? { ...t } : {};
      for (let i = r.int(1, 4); i > 0; i--) setOwn(out, r.pick(HOSTILE_KEYS), hostileValue(r, w));
      return [out];
    }
    case 6: {
      // numbers as strings, booleans as strings, strings as numbers
      if (!isPlainObject(t)) return [String(t)];
      const out: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(t)) out[k] = typeof v === 'number' || typeof v === 'boolean' ? String(v) : typeof v === 'string' && r.chance(0.5) ? r.int(-5, 5) : v;
      return [out];
    }
    case 7:
      return [[t]];
    case 8:
      return [];
    case 9:
      return [t, hostileValue(r, w), hostileValue(r, w)];
    case 10: {
      if (!isPlainObject(t) || keys.length === 0) return ['A'.repeat(r.int(1000, 30_000))];
      const out = { ...t };
      out[r.pick(keys)] = 'A'.repeat(r.pick([201, 501, 1001, 8193, 30_000]));
      return [out];
    }
    case 11: {
      if (!isPlainObject(t) || keys.length === 0) return [null];
      const out = { ...t };
      out[r.pick(keys)] = r.pick([null, [], {}, true, Number.NaN]);
      return [out];
    }
    case 12:
      return [Object.assign(polluted(), isPlainObject(t) ? t : {})];
    default:
      return [r.pick([{ data: t }, { payload: t }, JSON.stringify(t) ?? 'undefined', r.bytes(r.int(1, 64))])];
  }
}

export function socketCase(r: Rng, w: World, role: 'user' | 'admin', idx: number): SocketCase {
  for (;;) {
    if (r.chance(0.04)) {
      const args = r.chance(0.5) ? [hostileValue(r, w)] : [];
      const event = r.pick(UNKNOWN_EVENTS);
      return { idx, event, known: undefined, args, withAck: r.chance(0.5), valid: false, payload: undefined, sent: `${event} ${safeJson(args.map(wire))}`.toLowerCase() };
    }
    const event = r.pick(Object.keys(EVENTS) as EventName[]);
    const spec = EVENTS[event];
    let args = mutate(r, w, spec.template(r, w, role));
    if (approxBytes(args) > 45_000) continue;
    let payload = onWire(args);
    let valid = spec.schema.safeParse(payload).success;
    const sentText = () => (JSON.stringify(args.map(wire)) ?? '').toLowerCase();
    if (spec.write && valid) {
      // Valid by chance: harmless only when it names no real row (and is not an announcement).
      const real = [w.lotId, w.bookingId, w.otherBookingId].some((id) => sentText().includes(id));
      if (event === 'send_announcement' || real) {
        if (!spec.spoil || !isPlainObject(payload)) continue;
        args = [spec.spoil(payload), ...args.slice(1)];
        payload = onWire(args);
        valid = spec.schema.safeParse(payload).success;
        assert.equal(valid, false, `spoiled ${event} payload is still valid`);
      }
    }
    return { idx, event, known: event, args, withAck: r.chance(0.8), valid, payload, sent: sentText() };
  }
}

/**
 * Guarantee 6 under fire: thousands of malformed, oversized, wrongly typed and hostile payloads on
 * every client event and every HTTP route, as a user, as an admin and as nobody. The generator is
 * seeded (FUZZ_SEED=<n> replays a run exactly; the seed is printed); case counts can be raised with
 * FUZZ_SOCKET_CASES / FUZZ_HTTP_CASES / FUZZ_HANDSHAKE_CASES.
 *
 * What a user checks: the server answers every request (never crashes or hangs), every answer is
 * the documented envelope (`{ ok:false, error:{ code, message } }`, 4xx over HTTP, never 5xx or
 * INTERNAL_ERROR), no message carries a stack, SQL or an internal path, nothing is accepted that
 * the contract refuses, and no row in any table of schema public was added or removed.
 *
 * Write paths are only ever given inputs that are invalid, or valid inputs aimed at ids that do
 * not exist (a random uuid), so "no row changed" is exact. The activity log (which by design
 * records every event) is disabled on this server so that every table, audit trail included, can
 * be compared.
 */
import assert from 'node:assert/strict';
import { createHmac, randomBytes, randomUUID } from 'node:crypto';
import { deflateSync, gzipSync } from 'node:zlib';
import pg from 'pg';
import { io } from 'socket.io-client';
import type { z } from 'zod';
import { webhookEventSchema } from '../server/features/payments/routes.js';
import { signPayload, SIGNATURE_HEADER } from '../server/features/payments/signature.js';
import {
  announcementSchema,
  availabilityEventSchema,
  bookingRefSchema,
  cancelBookingSchema,
  createBookingSchema,
  emptySchema,
  refreshTokenSchema,
  setAvailabilityEventSchema,
  subscribeSchema,
  unsubscribeSchema,
} from '../server/contract/index.js';
import { call, closeAll, connect, newUserId } from './helpers/clients.js';
import { createLot } from './helpers/fixtures.js';
import { testEnv } from './helpers/global-setup.js';
import { request, startTestServer, TEST_SECRET, TEST_WEBHOOK_SECRET, type TestServer } from './helpers/server.js';

// ---- seeded generator ------------------------------------------------------------------------

const BASE_SEED = process.env.FUZZ_SEED ? Number(process.env.FUZZ_SEED) >>> 0 : randomBytes(4).readUInt32BE(0);
const SOCKET_CASES = Number(process.env.FUZZ_SOCKET_CASES ?? 3000);
const HTTP_CASES = Number(process.env.FUZZ_HTTP_CASES ?? 2600);
const HANDSHAKE_CASES = Number(process.env.FUZZ_HANDSHAKE_CASES ?? 120);
const ACK_TIMEOUT_MS = 8000;
const HTTP_TIMEOUT_MS = 10_000;

/** mulberry32: small, fast, and the same sequence for the same seed on every machine. */
class Rng {
  private s: number;
  constructor(seed: number) {
    this.s = seed >>> 0;
  }
  next(): number {
    this.s = (this.s + 0x6d2b79f5) | 0;
    let t = Math.imul(this.s ^ (this.s >>> 15), 1 | this.s);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.next() * (hi - lo + 1));
  }
  pick<T>(xs: readonly T[]): T {
    return xs[this.int(0, xs.length - 1)]!;
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
  uuid(): string {
    const hex = Array.from({ length: 32 }, () => this.int(0, 15).toString(16)).join('');
    return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-4${hex.slice(13, 16)}-${'89ab'[this.int(0, 3)]}${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
  }
  bytes(n: number): Buffer {
    return Buffer.from(Array.from({ length: n }, () => this.int(0, 255)));
  }
}

/** A sub-seed per test, so one test can be replayed alone with the same FUZZ_SEED. */
function rngFor(name: string): Rng {
  let h = 2166136261;
  for (const c of name) h = Math.imul(h ^ c.charCodeAt(0), 16777619);
  return new Rng((BASE_SEED ^ h) >>> 0);
}

/** The fixtures a generator may aim at: real ids (reads only, or writes with invalid input). */
interface World {
  lotId: string;
  bookingId: string;
  otherBookingId: string;
  userId: string;
  adminId: string;
  otherUserId: string;
  userToken: string;
  adminToken: string;
}

const SQLI = [
  "' OR '1'='1",
  "'; drop table public.bookings; --",
  '1; select pg_sleep(5); --',
  "x'); insert into public.parking_lots (name, total_spaces) values ('pwned', 1); --",
  '$$; delete from public.bookings; $$',
  "' union select password from auth.users --",
  '1 OR 1=1',
  "admin'--",
  '%27%20OR%201%3D1',
  '\\x27; select 1; --',
];

const WEIRD = [
  '',
  ' ',
  '   \t\n ',
  '\u0000',
  'a\u0000b',
  '\u0000'.repeat(50),
  '\u202eRTL override',
  '😀🚗🅿️',
  'Ω≈ç√∫˜µ≤≥÷',
  '\ud800',
  '\udfff lone',
  'ß'.repeat(250),
  'Z̡̢͈͎̟̭̯͇̿̊͗͑̀̚a̸͕̹̘͉̾ḽ̷̡̡̛̮̱̞̓̈́̑̌g̷̨̟̺̙̹̠̈̐̀̓̇o̴͕͙̔̋',
  '__proto__',
  'constructor',
  'prototype',
  'toString',
  'hasOwnProperty',
  'null',
  'undefined',
  'NaN',
  'Infinity',
  '-1',
  '0',
  '1e309',
  '0x1F',
  ' 42 ',
  '007',
  'true',
  'false',
  '[]',
  '{}',
  '{"__proto__":{"role":"admin"}}',
  '../../../../etc/passwd',
  '..\\..\\windows\\win.ini',
  '<script>alert(1)</script>',
  '${7*7}',
  '{{7*7}}',
  '%n%s%x%p',
  'parking_lot:',
  'parking_lot:../admin',
  'parking_lot:not-a-uuid',
  'parking_lot: ',
  'user:',
  'user:*',
  'admin',
  'ADMIN',
  'admin ',
  'parking_updates',
  'parking_updates:x',
  ':',
  '::',
  '00000000-0000-0000-0000-000000000000',
  'ffffffff-ffff-ffff-ffff-ffffffffffff',
  '2024-02-30T10:00:00Z',
  '2024-01-01T00:00:00',
  '9999-12-31T23:59:59Z',
  '+275760-09-13T00:00:00.000Z',
  '-271821-04-20T00:00:00Z',
  '2020-01-01T00:00:00Z',
  'yesterday',
  'payment.succeeded ',
  'PAYMENT.SUCCEEDED',
  'EUR',
  'eur',
  'Bearer x',
  'eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.',
];

const NUMBERS = [
  0, -0, 1, -1, 1.5, -1.5, 0.1, 2 ** 31, 2 ** 31 - 1, 2 ** 53, 2 ** 53 + 2, -(2 ** 53), 1e21, 1e308, 5e-324, 100_000, 100_001, 10_080, 10_081,
  100_000_000, 100_000_001, Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY,
];

/**
 * Dates at the edges of what zod's ISO check and Postgres's timestamptz accept: year 0000 (zod yes,
 * Postgres no), year 1 and 4713 BC (Postgres's first day), years past 9999 and Postgres's last
 * (294276), JavaScript's last instant, offsets up to ±15:59 (Postgres's limit) and past it, leap
 * seconds, Feb 29 of non-leap years, fractions of a second longer than Postgres keeps, and near-misses
 * of the format. Whatever the outcome, it must be a 4xx with a code, never a 5xx.
 */
const EDGE_DATES = [
  '0000-01-01T00:00:00Z', '0000-12-31T23:59:59.999Z', '0001-01-01T00:00:00Z', '0001-01-01T00:00:00+15:59', '-4713-11-24T00:00:00Z',
  '4713-11-24T00:00:00Z BC', '4714-11-24 00:00:00+00 BC', '1969-12-31T23:59:59.999Z', '1970-01-01T00:00:00Z', '2038-01-19T03:14:08Z',
  '9999-12-31T23:59:59Z', '9999-12-31T23:59:59.999999Z', '9999-12-31T23:59:59.9999999Z', '9999-12-31T23:59:59-15:59',
  '294276-12-31T23:59:59Z', '294277-01-01T00:00:00Z', '+294276-12-31T23:59:59Z', '+294277-01-01T00:00:00Z', '+275760-09-13T00:00:00Z',
  '+275760-09-13T00:00:00.001Z', '-271821-04-20T00:00:00Z', 'infinity', '-infinity', 'epoch', 'now', 'today', 'allballs',
  '2030-01-01T00:00:00+14:00', '2030-01-01T00:00:00-12:00', '2030-01-01T00:00:00+15:59', '2030-01-01T00:00:00-15:59',
  '2030-01-01T00:00:00+16:00', '2030-01-01T00:00:00-16:00', '2030-01-01T00:00:00+23:59', '2030-01-01T00:00:00+99:99', '2030-01-01T00:00:00+1400',
  '2016-12-31T23:59:60Z', '2030-06-30T23:59:60+00:00', '2023-02-29T00:00:00Z', '2100-02-29T00:00:00Z', '2000-02-29T00:00:00Z',
  '2028-02-29T12:00:00Z', '2030-02-30T00:00:00Z', '2030-04-31T00:00:00Z', '2030-13-01T00:00:00Z', '2030-00-10T00:00:00Z',
  '2030-01-01T24:00:00Z', '2030-01-01T23:60:00Z', '2030-01-01T00:00:00.1234567891Z', '2030-01-01T00:00Z', '2030-01-01T00:00:00',
  '2030-01-01 00:00:00Z', '2030-01-01t00:00:00z', '2030-W01-1T00:00:00Z', '2030-001T00:00:00Z', '20300101T000000Z',
];

/** An edge date, or a near-now date in an edge offset (a window that may be valid). */
function edgeDate(r: Rng): string {
  if (r.chance(0.7)) return r.pick(EDGE_DATES);
  const d = new Date(Date.now() + r.int(-2, 2) * 3_600_000 + r.int(-600, 600) * 1000);
  const offsetMinutes = r.pick([14 * 60, -12 * 60, 15 * 60 + 59, -(15 * 60 + 59), 16 * 60, 0]);
  const local = new Date(d.getTime() + offsetMinutes * 60_000).toISOString().slice(0, 19);
  const sign = offsetMinutes < 0 ? '-' : '+';
  const abs = Math.abs(offsetMinutes);
  return `${local}${sign}${String(Math.floor(abs / 60)).padStart(2, '0')}:${String(abs % 60).padStart(2, '0')}`;
}

const FIELD_KEYS = [
  'room', 'type', 'last_seq', 'parking_lot_id', 'booking_id', 'reason', 'starts_at', 'ends_at', 'duration_minutes', 'idempotency_key',
  'vehicle_plate', 'message', 'title', 'available_spaces', 'out_of_service', 'is_open', 'token', 'id', 'data', 'amount_cents',
  'payment_id', 'currency', 'user_id', 'status', 'role', 'app_metadata',
];
const HOSTILE_KEYS = ['__proto__', 'constructor', 'prototype', '', ' ', 'room ', 'ROOM', '$gt', '$where', 'a.b', '0', '😀', 'toString', 'valueOf', '\u0000'];

function setOwn(obj: Record<string, unknown>, key: string, value: unknown): void {
  // `__proto__` as an own, enumerable key, exactly as JSON.parse would produce it from the wire.
  Object.defineProperty(obj, key, { value, enumerable: true, writable: true, configurable: true });
}

function unicodeSoup(r: Rng, n: number): string {
  let s = '';
  for (let i = 0; i < n; i++) {
    const k = r.int(0, 5);
    if (k === 0) s += String.fromCharCode(r.int(0, 31));
    else if (k === 1) s += String.fromCharCode(r.int(0xd800, 0xdfff));
    else if (k === 2) s += String.fromCodePoint(r.int(0x1f300, 0x1faff));
    else if (k === 3) s += String.fromCharCode(r.int(0x0300, 0x036f));
    else s += String.fromCharCode(r.int(32, 126));
  }
  return s;
}

function hostileString(r: Rng, w: World): string {
  switch (r.int(0, 10)) {
    case 0:
    case 1:
      return r.pick(WEIRD);
    case 2:
      return r.pick(SQLI);
    case 3: {
      const id = r.uuid();
      return r.pick([id, id.toUpperCase(), ` ${id} `, `{${id}}`, id.replace(/-/g, ''), `${id}x`, id.slice(0, 35), `${id}\u0000`]);
    }
    case 4:
      return 'A'.repeat(r.pick([199, 200, 201, 499, 500, 501, 999, 1000, 1001, 8192, 8193, 20_000]));
    case 5:
      return unicodeSoup(r, r.int(1, 60));
    case 6:
      return r.pick([new Date(Date.now() + r.int(-1e9, 1e10)).toISOString(), `${r.int(-99999, 99999)}`, `${r.next()}`, `${r.int(0, 9)}e${r.int(0, 400)}`, edgeDate(r)]);
    case 7:
      return `${r.pick(['parking_lot', 'user', 'admin', 'parking_updates', 'PARKING_LOT', ''])}:${r.pick([w.lotId, w.userId, w.otherUserId, r.uuid(), r.pick(WEIRD)])}`;
    case 8:
      return r.pick([w.lotId, w.bookingId, w.otherBookingId, w.userId, w.otherUserId, w.adminId, w.lotId.toUpperCase()]);
    case 9:
      return r.pick(SQLI) + r.pick(WEIRD);
    default:
      return r.pick([w.userToken, w.adminToken, `${w.userToken}x`, w.userToken.split('.').slice(0, 2).join('.') + '.']);
  }
}

function nest(depth: number, asArray: boolean): unknown {
  let v: unknown = 1;
  for (let i = 0; i < depth; i++) v = asArray ? [v] : { a: v };
  return v;
}

function polluted(): Record<string, unknown> {
  return JSON.parse('{"__proto__":{"polluted":"yes","role":"admin","isAdmin":true},"constructor":{"prototype":{"polluted":"yes"}},"prototype":{"polluted":"yes"}}');
}

function hostileValue(r: Rng, w: World, depth = 0): unknown {
  const k = r.int(0, 99);
  if (k < 35) return hostileString(r, w);
  if (k < 55) return r.chance(0.8) ? r.pick(NUMBERS) : (r.next() - 0.5) * 10 ** r.int(0, 12);
  if (k < 62) return r.pick([null, true, false, undefined]);
  if (k < 72) return depth < 3 ? Array.from({ length: r.int(0, 4) }, () => hostileValue(r, w, depth + 1)) : [];
  if (k < 85) return depth < 3 ? hostileObject(r, w, depth + 1) : {};
  if (k < 89) return r.bytes(r.int(0, 256));
  if (k < 93) return nest(r.int(20, 800), r.chance(0.5));
  if (k < 97) return polluted();
  return Array.from({ length: r.int(100, 2000) }, () => r.int(-5, 5));
}

function hostileObject(r: Rng, w: World, depth = 0): Record<string, unknown> {
  const obj: Record<string, unknown> = {};
  const n = r.int(0, 5);
  for (let i = 0; i < n; i++) setOwn(obj, r.chance(0.6) ? r.pick(FIELD_KEYS) : r.pick(HOSTILE_KEYS), hostileValue(r, w, depth + 1));
  return obj;
}

/** What the payload looks like after the JSON wire: undefined dropped (null in arrays), non-finite → null; Buffers stay binary. */
function wire(v: unknown): unknown {
  if (v === undefined) return undefined;
  if (Buffer.isBuffer(v)) return v;
  if (typeof v === 'number') return Number.isFinite(v) ? (Object.is(v, -0) ? 0 : v) : null;
  if (Array.isArray(v)) return v.map((x) => (x === undefined ? null : wire(x)));
  if (v && typeof v === 'object') {
    const out: Record<string, unknown> = {};
    for (const key of Object.keys(v)) {
      const x = (v as Record<string, unknown>)[key];
      if (x !== undefined) setOwn(out, key, wire(x));
    }
    return out;
  }
  return v;
}

const isPlainObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v) && !Buffer.isBuffer(v);

function approxBytes(v: unknown): number {
  return Buffer.byteLength(JSON.stringify(v) ?? '');
}

// ---- what a well-formed answer is --------------------------------------------------------------

/** Markers of a leaked internal: a stack frame, SQL, Postgres' own wording, a source path. */
const LEAKS: [string, RegExp][] = [
  // The brief's "at " marker, as a stack frame: a bare "at " would flag "give at least one of …".
  ['stack frame', /(^|\n)\s*at \S|\bat \S+ \([^)]*:\d+:\d+\)|\bat (file|node):/],
  ['node_modules', /node_modules/i],
  ['SQL select', /\bselect\s/i],
  ['SQL insert', /\binsert\s/i],
  ['SQLSTATE', /sqlstate/i],
  ['pg_ identifier', /pg_/i],
  ['Postgres wording', /relation "|column "|violates .* constraint|duplicate key|syntax error at|invalid input syntax|function public\.|plpgsql/i],
  ['internal path', /\/work\/|\bserver\/[\w/-]+\.(ts|js)|\.ts:\d+|file:\/\//i],
];

/** A marker counts only when it is not an echo of what the client itself sent. */
function leaks(text: string, sent: string): string[] {
  return LEAKS.filter(([, re]) => re.test(text) && !re.test(sent)).map(([name]) => name);
}

function errorProblems(error: unknown, sent: string): string[] {
  if (!isPlainObject(error)) return ['error is not an object'];
  const out: string[] = [];
  if (typeof error.code !== 'string' || !/^[A-Z][A-Z0-9_]+$/.test(error.code)) out.push(`error.code is not an UPPER_CASE string: ${JSON.stringify(error.code)}`);
  if (error.code === 'INTERNAL_ERROR') out.push(`INTERNAL_ERROR (a server fault on bad input)${/\\u0000/.test(sent) ? ' [NUL in a string]' : ''}`);
  if (typeof error.message !== 'string' || error.message.length === 0) out.push('error.message is not a non-empty string');
  else if (error.message.length > 2000) out.push(`error.message is ${error.message.length} characters long`);
  const text = `${String(error.message)} ${JSON.stringify(error.details ?? '')}`;
  for (const leak of leaks(text, sent)) out.push(`message leaks: ${leak}`);
  return out;
}

interface Problem {
  where: string;
  what: string;
  input: string;
  answer: string;
}

function clip(v: unknown, n = 300): string {
  let s: string;
  try {
    s = typeof v === 'string' ? v : (JSON.stringify(v, (_k, x) => (Buffer.isBuffer(x) ? `<Buffer ${x.length}>` : x)) ?? String(v));
  } catch {
    s = String(v);
  }
  return s.length > n ? `${s.slice(0, n)}… (${s.length} chars)` : s;
}

function report(title: string, problems: Problem[], cases: number): void {
  if (problems.length === 0) return;
  // Grouped by what went wrong (with its likely cause), then where: one line per kind of fault.
  const groups = new Map<string, Problem[]>();
  for (const p of problems) groups.set(p.what, [...(groups.get(p.what) ?? []), p]);
  const lines = [...groups.entries()]
    .sort((a, b) => b[1].length - a[1].length)
    .map(([what, ps]) => {
      const wheres = [...new Set(ps.map((p) => p.where))];
      const examples = ps.slice(0, 2).map((p) => `      input:  ${p.input}\n      answer: ${p.answer}`).join('\n');
      return `  ${ps.length}× ${what}\n    on: ${wheres.slice(0, 8).join(' | ')}${wheres.length > 8 ? ` | … (${wheres.length})` : ''}\n${examples}`;
    });
  assert.fail(`${title}: ${problems.length} problems in ${cases} cases (FUZZ_SEED=${BASE_SEED})\n${lines.join('\n')}`);
}

// ---- socket cases ------------------------------------------------------------------------------

type EventName =
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

interface EventSpec {
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

const future = (minutes: number) => new Date(Date.now() + minutes * 60_000).toISOString();

const EVENTS: Record<EventName, EventSpec> = {
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

const UNKNOWN_EVENTS = [
  'subscribe ', 'SUBSCRIBE', 'create_bookings', '__proto__', 'constructor', 'toString', 'hasOwnProperty', 'valueOf', 'error', 'connected',
  'booking_created', 'parking_updated', 'admin', 'x'.repeat(1000), '😀', 'get_live_stats\u0000', "'; drop table public.bookings; --", '',
  'set_parking_availability.', 'emit', 'join', 'leave', 'onAny', 'bookings:create',
];

interface SocketCase {
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
function onWire(args: unknown[]): unknown {
  if (args.length === 0) return undefined;
  return args[0] === undefined ? null : wire(args[0]);
}

function mutate(r: Rng, w: World, template: unknown): unknown[] {
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

function socketCase(r: Rng, w: World, role: 'user' | 'admin', idx: number): SocketCase {
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

// ---- HTTP cases --------------------------------------------------------------------------------

interface HttpCase {
  idx: number;
  label: string;
  method: string;
  path: string;
  headers: Record<string, string>;
  body?: string | Buffer;
  /** A 2xx is a correct answer (a read with valid input, or an idempotent no-op). */
  mayPass: boolean;
  sent: string;
}

const BAD_PERCENT = ['%', '%E0%A4%A', '%ZZ', '%C0%AF', '%u0041', '%%', '%0', '%FF%FE'];

function pathParam(r: Rng, w: World, kind: 'lot' | 'booking' | 'notification'): string {
  const k = r.int(0, 99);
  let raw: string;
  if (k < 25) raw = r.uuid();
  else if (k < 35) raw = kind === 'lot' ? w.lotId : kind === 'booking' ? w.bookingId : r.uuid();
  else if (k < 42) raw = r.pick([w.lotId, w.bookingId, w.otherBookingId, w.userId]);
  else if (k < 47) return r.pick(BAD_PERCENT) + r.pick(['', 'x', w.lotId.slice(0, 8)]);
  else raw = hostileString(r, w).slice(0, 3000);
  const enc = encodeURIComponent(wellFormed(raw));
  // `.` and `..` are resolved by the client's URL parser before anything is sent (to /): not a server input.
  return /^(\.|%2e){1,2}$/i.test(enc) || enc === '' ? `${enc}x` : enc;
}

function queryString(r: Rng, w: World, keys: string[]): string {
  const parts: string[] = [];
  for (let i = r.int(0, 3); i > 0; i--) {
    const key = r.chance(0.8) ? r.pick(keys) : r.pick([...HOSTILE_KEYS, `${r.pick(keys)}[]`, `${r.pick(keys)}[a]`, 'limit', 'status']);
    const value = r.pick([
      () => hostileString(r, w).slice(0, 2000),
      () => r.pick(['1', '50', '200', '201', '1000', '1001', '0', '-1', '1.5', '1e3', ' 5', '0x10', 'abc', 'true', 'false', 'TRUE', '', 'pending', 'confirmed', 'PENDING']),
      () => w.lotId,
    ])();
    if (r.chance(0.05)) parts.push(`${encodeURIComponent(wellFormed(key))}=${r.pick(BAD_PERCENT)}`);
    else parts.push(`${encodeURIComponent(wellFormed(key))}=${encodeURIComponent(wellFormed(value))}`);
  }
  return parts.length ? `?${parts.join('&')}` : '';
}

const GARBAGE_BODIES = [
  'not json', '{', '{"a":', '}', '\u0000', 'null', '""', '1', 'true', '[]', '[{}]', '{"a":1,}', "{'a':1}", '<xml><a>1</a></xml>',
  'a=1&b=2', '{"__proto__":{"polluted":"yes"}}', '{"constructor":{"prototype":{"polluted":"yes"}}}', 'NaN', '{"a":NaN}', '\ufeff{}', '{"a":"\\ud800"}',
  '{"a":1}{"b":2}', '1e999999', '{"a":' + '9'.repeat(400) + '}',
];

type BodyPlan =
  | { kind: 'json'; payload: unknown }
  | { kind: 'raw'; text: string | Buffer; contentType?: string; encoding?: string };

function bodyPlan(r: Rng, w: World, template: unknown): BodyPlan {
  const k = r.int(0, 99);
  if (k < 62) {
    const args = mutate(r, w, template);
    return { kind: 'json', payload: args.length ? args[0] : undefined };
  }
  if (k < 72) return { kind: 'raw', text: r.pick(GARBAGE_BODIES), contentType: 'application/json' };
  if (k < 75) return { kind: 'raw', text: JSON.stringify({ a: 'A'.repeat(r.pick([17_000, 70_000, 1_100_000])) }), contentType: 'application/json' };
  if (k < 79) {
    const depth = r.int(1000, 5000);
    return { kind: 'raw', text: r.chance(0.5) ? '['.repeat(depth) + ']'.repeat(depth) : '{"a":'.repeat(depth) + '1' + '}'.repeat(depth), contentType: 'application/json' };
  }
  if (k < 84)
    return {
      kind: 'raw',
      text: JSON.stringify(wire(template) ?? {}),
      contentType: r.pick(['text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'application/xml', 'application/json-patch+json', '*/*']),
    };
  if (k < 87) return { kind: 'raw', text: '{}', contentType: r.pick(['application/json; charset=utf-16', 'application/json; charset=latin1', 'application/json; charset=klingon']) };
  if (k < 90) return { kind: 'raw', text: r.pick([gzipSync('{"a":1}'), deflateSync('[1]')]), contentType: 'application/json', encoding: r.pick(['gzip', 'deflate']) };
  if (k < 92) return { kind: 'raw', text: r.pick(['garbage', r.bytes(40)]), contentType: 'application/json', encoding: r.pick(['gzip', 'deflate', 'br']) };
  if (k < 94) return { kind: 'raw', text: '{}', contentType: 'application/json', encoding: r.pick(['zstd', 'compress', 'x-klingon']) };
  if (k < 96) return { kind: 'raw', text: r.bytes(r.int(1, 2000)), contentType: r.pick(['application/json', 'application/octet-stream']) };
  return { kind: 'raw', text: '' };
}

function authHeader(r: Rng, w: World): { header?: string; as: 'user' | 'admin' | 'nobody' } {
  const k = r.int(0, 99);
  if (k < 40) return { header: `Bearer ${w.userToken}`, as: 'user' };
  if (k < 80) return { header: `Bearer ${w.adminToken}`, as: 'admin' };
  if (k < 83) return { header: `bearer   ${w.userToken}`, as: 'user' };
  if (k < 88) return { as: 'nobody' };
  return {
    header: r.pick([
      'Bearer', 'Bearer ', 'Bearer garbage', `Basic ${Buffer.from('admin:admin').toString('base64')}`, `Bearer ${w.userToken} extra`, `Bearer ${w.userToken}x`,
      `Bearer ${w.userToken.split('.').slice(0, 2).join('.')}.`, `Token ${w.adminToken}`, `Bearer ${'A'.repeat(5000)}`, "Bearer ' OR 1=1 --",
    ]),
    as: 'nobody',
  };
}

function headerSafe(s: string): string {
  // fetch refuses CR, LF, NUL and non-Latin-1 in header values; that is the client library, not the server.
  return s.replace(/[^\x20-\x7e]/g, '?').slice(0, 4000);
}

function httpCase(r: Rng, w: World, idx: number): HttpCase {
  const auth = authHeader(r, w);
  const headers: Record<string, string> = {};
  if (auth.header !== undefined) headers.authorization = auth.header;
  const authed = auth.as !== 'nobody';
  const admin = auth.as === 'admin';

  /**
   * `payload` is what the body would be if the server parsed it as JSON whatever its headers say:
   * the write guards below use it, so a valid write never reaches a real row by a side door.
   */
  const withBody = (plan: BodyPlan): { body?: string | Buffer; payload: unknown } => {
    if (plan.kind === 'json') {
      const text = JSON.stringify(plan.payload);
      if (text === undefined) return { payload: undefined };
      headers['content-type'] = 'application/json';
      return { body: text, payload: wire(plan.payload) };
    }
    if (plan.contentType) headers['content-type'] = plan.contentType;
    if (plan.encoding) headers['content-encoding'] = plan.encoding;
    return { body: plan.text, payload: asJson(plan.text) };
  };

  type Made = { label: string; method: string; path: string; body?: string | Buffer | undefined; mayPass: boolean };
  const routes: (() => Made | undefined)[] = [
    () => ({ label: 'GET /realtime/parking-availability', method: 'GET', path: `/realtime/parking-availability${queryString(r, w, ['parking_lot_id'])}`, mayPass: authed }),
    () => ({ label: 'GET /realtime/connection-status', method: 'GET', path: `/realtime/connection-status${queryString(r, w, ['x'])}`, mayPass: authed }),
    () => ({ label: 'GET /realtime/connections', method: 'GET', path: `/realtime/connections${queryString(r, w, ['limit'])}`, mayPass: admin }),
    () => ({ label: 'GET /realtime/live-stats', method: 'GET', path: `/realtime/live-stats${queryString(r, w, ['x'])}`, mayPass: admin }),
    () => ({ label: 'GET /realtime/booking-activity', method: 'GET', path: `/realtime/booking-activity${queryString(r, w, ['limit'])}`, mayPass: admin }),
    () => {
      const b = withBody(bodyPlan(r, w, EVENTS.send_announcement.template(r, w, 'admin')));
      if (announcementSchema.safeParse(b.payload).success) return undefined; // would announce and audit
      return { label: 'POST /realtime/announcement', method: 'POST', path: '/realtime/announcement', body: b.body, mayPass: false };
    },
    () => {
      const id = pathParam(r, w, 'lot');
      const b = withBody(bodyPlan(r, w, { available_spaces: 3, out_of_service: 1, is_open: true, reason: 'count' }));
      const real = decodeURIComponentSafe(id).trim().toLowerCase() === w.lotId;
      if (real && isPlainObject(b.payload) && EVENTS.set_parking_availability.schema.safeParse({ ...b.payload, parking_lot_id: w.lotId }).success) return undefined;
      return { label: 'PUT /realtime/parking-lots/:id/availability', method: 'PUT', path: `/realtime/parking-lots/${id}/availability`, body: b.body, mayPass: false };
    },
    () => {
      if (r.chance(0.3)) headers['idempotency-key'] = headerSafe(hostileString(r, w));
      const b = withBody(bodyPlan(r, w, EVENTS.create_booking.template(r, w, 'user')));
      const text = safeJson(b.payload).toLowerCase();
      if (createBookingSchema.safeParse(b.payload).success && text.includes(w.lotId)) return undefined; // would book a real lot
      return { label: 'POST /bookings', method: 'POST', path: '/bookings', body: b.body, mayPass: false };
    },
    () => ({ label: 'GET /bookings', method: 'GET', path: `/bookings${queryString(r, w, ['status', 'limit'])}`, mayPass: authed }),
    () => ({ label: 'GET /bookings/:id', method: 'GET', path: `/bookings/${pathParam(r, w, 'booking')}`, mayPass: authed }),
    () => {
      const id = pathParam(r, w, 'booking');
      const real = [w.bookingId, w.otherBookingId].includes(decodeURIComponentSafe(id).trim().toLowerCase());
      const plan = bodyPlan(r, w, { reason: 'changed plans' });
      // The body is optional: on a real booking only a body the schema refuses is safe.
      const b = real ? withBody({ kind: 'json', payload: { reason: r.pick([12345, 'A'.repeat(501), [], { a: 1 }, true]) } }) : withBody(plan);
      return { label: 'POST /bookings/:id/cancel', method: 'POST', path: `/bookings/${id}/cancel`, body: b.body, mayPass: false };
    },
    () => ({ label: 'GET /notifications', method: 'GET', path: `/notifications${queryString(r, w, ['unread_only', 'limit'])}`, mayPass: authed }),
    () => {
      const b = withBody(bodyPlan(r, w, {}));
      return { label: 'POST /notifications/:id/read', method: 'POST', path: `/notifications/${pathParam(r, w, 'notification')}/read`, body: b.body, mayPass: false };
    },
    () => {
      const b = withBody(bodyPlan(r, w, {}));
      return { label: 'POST /notifications/read-all', method: 'POST', path: '/notifications/read-all', body: b.body, mayPass: authed };
    },
    () => webhookCase(r, w, headers),
    () => webhookCase(r, w, headers),
    () => ({
      label: 'unknown route or method',
      method: r.pick(['DELETE', 'PATCH']),
      path: r.pick(['/bookings', `/bookings/${w.bookingId}`, '/realtime/announcement', `/realtime/parking-lots/${w.lotId}/availability`, '/notifications/read-all', '/payments/webhook']),
      mayPass: false,
    }),
    () => ({
      label: 'unknown route or method',
      method: r.pick(['GET', 'POST', 'PUT']),
      path: r.pick(['/api/bookings', '/realtime', '/realtime/', `/bookings/${w.bookingId}/cancel/x`, '/notifications/read-all/x', '/payments', '/payments/webhook/x', '/realtime/parking-lots', '/realtime/admin', `/realtime/parking-lots/${w.lotId}`, '/health/x', `/${encodeURIComponent(wellFormed(hostileString(r, w).slice(0, 200)))}x`]),
      mayPass: false,
    }),
  ];
  for (;;) {
    for (const k of Object.keys(headers)) delete headers[k];
    if (auth.header !== undefined) headers.authorization = auth.header;
    const made = r.pick(routes)();
    if (!made) continue;
    if (made.method === 'GET' && made.body !== undefined) {
      delete headers['content-type'];
      delete headers['content-encoding'];
      made.body = undefined;
    }
    const sentBody = made.body === undefined ? '' : Buffer.isBuffer(made.body) ? '' : made.body;
    const sent = `${made.path} ${decodeURIComponentSafe(made.path)} ${sentBody} ${JSON.stringify(headers)}`.toLowerCase();
    return { idx, label: made.label, method: made.method, path: made.path, headers: { ...headers }, ...(made.body !== undefined ? { body: made.body } : {}), mayPass: made.mayPass, sent };
  }
}

function webhookCase(r: Rng, w: World, headers: Record<string, string>): { label: string; method: string; path: string; body?: string | Buffer; mayPass: boolean } {
  delete headers.authorization;
  const template = {
    id: `evt_${r.int(0, 1e9)}`,
    type: r.pick(['payment.succeeded', 'payment.failed']),
    data: { booking_id: r.pick([r.uuid(), w.bookingId, w.otherBookingId]), payment_id: `pay_${r.int(0, 1e6)}`, amount_cents: r.pick([0, 500, 2500]), currency: 'EUR' },
  };
  let body: string | Buffer;
  const k = r.int(0, 99);
  if (k < 55) {
    const args = mutate(r, w, r.chance(0.5) ? template : { ...template, data: (mutate(r, w, template.data)[0] ?? {}) });
    let payload = args.length ? wire(args[0]) : undefined;
    const ok = webhookEventSchema.safeParse(payload).success;
    const text = (JSON.stringify(payload) ?? '').toLowerCase();
    if (ok && [w.bookingId, w.otherBookingId].some((id) => text.includes(id))) {
      payload = { ...(payload as Record<string, unknown>), data: { ...((payload as { data: Record<string, unknown> }).data), amount_cents: -1 } };
      assert.equal(webhookEventSchema.safeParse(payload).success, false);
    }
    body = JSON.stringify(payload) ?? '';
  } else if (k < 70) body = r.pick(GARBAGE_BODIES);
  else if (k < 75) body = JSON.stringify({ ...template, pad: 'A'.repeat(70_000) });
  else if (k < 80) body = r.bytes(r.int(0, 3000));
  else if (k < 85) body = '';
  else body = JSON.stringify(template).replace(/"data":\{[^}]*\}/, `"data":${JSON.stringify(hostileValue(r, w)) ?? 'null'}`);

  // Whatever the route, a body that would apply a payment to a real booking is spoiled first.
  const parsed = asJson(body);
  if (webhookEventSchema.safeParse(parsed).success && [w.bookingId, w.otherBookingId].some((id) => safeJson(parsed).toLowerCase().includes(id))) {
    body = JSON.stringify({ ...(parsed as Record<string, unknown>), type: 'payment.refunded' });
    assert.equal(webhookEventSchema.safeParse(asJson(body)).success, false);
  }
  if (r.chance(0.8)) headers['content-type'] = r.pick(['application/json', 'text/plain', 'application/octet-stream']);
  const now = Math.floor(Date.now() / 1000);
  const bytes = Buffer.isBuffer(body) ? body : Buffer.from(body);
  const mac = (secret: string, t: number) => createHmac('sha256', secret).update(`${t}.`).update(bytes).digest('hex');
  const sig = r.pick([
    () => `t=${now},v1=${mac(TEST_WEBHOOK_SECRET, now)}`,
    () => `t=${now},v1=${mac(TEST_WEBHOOK_SECRET, now)}`,
    () => `t=${now},v1=${mac(TEST_WEBHOOK_SECRET, now)}`,
    () => undefined,
    () => `t=${now},v1=${mac('the-wrong-secret-entirely', now)}`,
    () => `t=${now - 100_000},v1=${mac(TEST_WEBHOOK_SECRET, now - 100_000)}`,
    () => `t=${now + 100_000},v1=${mac(TEST_WEBHOOK_SECRET, now + 100_000)}`,
    () => `t=${now},v1=${mac(TEST_WEBHOOK_SECRET, now + 1)}`,
    () => r.pick(['', 't=', 'v1=', 't=abc,v1=zz', `t=${now}`, `v1=${'a'.repeat(64)}`, `t=${now},v1=${'g'.repeat(64)}`, `t=1e3,v1=${mac(TEST_WEBHOOK_SECRET, 1000)}`, `t=${now},v1=${'0'.repeat(6000)}`, `t=${now},v1=,v1=,v1=`, `t=${now};v1=${mac(TEST_WEBHOOK_SECRET, now)}`]),
    () => headerSafe(hostileString(r, w)),
    () => `t=${now},v1=${mac(TEST_WEBHOOK_SECRET, now)},v1=${'f'.repeat(64)}`,
  ])();
  if (sig !== undefined) headers[SIGNATURE_HEADER] = sig;
  if (r.chance(0.03)) {
    headers['content-encoding'] = 'gzip';
    body = r.chance(0.5) ? 'garbage' : gzipSync(bytes);
  }
  return { label: `POST /payments/webhook`, method: 'POST', path: '/payments/webhook', body, mayPass: false };
}

/** A URL cannot carry a lone surrogate (encodeURIComponent throws): the client could not send it. */
function wellFormed(s: string): string {
  return s.replace(/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g, '\ufffd');
}

/** JSON.stringify recurses: a body nested thousands deep (which the server parses fine) overflows it. */
function safeJson(v: unknown): string {
  try {
    return JSON.stringify(v) ?? '';
  } catch {
    return '';
  }
}

function asJson(text: string | Buffer): unknown {
  try {
    return JSON.parse(Buffer.isBuffer(text) ? text.toString('utf8') : text);
  } catch {
    return undefined;
  }
}

function decodeURIComponentSafe(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

async function send(url: string, c: HttpCase): Promise<{ status: number; contentType: string; text: string } | { failed: string }> {
  try {
    const res = await fetch(`${url}${c.path}`, {
      method: c.method,
      headers: c.headers,
      ...(c.body !== undefined ? { body: c.body } : {}),
      signal: AbortSignal.timeout(HTTP_TIMEOUT_MS),
    });
    return { status: res.status, contentType: res.headers.get('content-type') ?? '', text: await res.text() };
  } catch (err) {
    return { failed: err instanceof Error ? `${err.name}: ${err.message}` : String(err) };
  }
}

/** For a 5xx: which kind of input most likely caused it, so the report groups by cause. */
function httpHint(c: HttpCase): string {
  const hints: string[] = [];
  const segments = c.path.split('?')[0]!.split('/');
  if (segments.some((seg) => decodeURIComponentSafe(seg) === seg && seg.includes('%'))) hints.push('malformed %-encoding in the path');
  if (c.headers['content-encoding']) hints.push(`content-encoding ${c.headers['content-encoding']}`);
  const body = typeof c.body === 'string' ? c.body : '';
  if (body.includes('\\u0000') || body.includes('\u0000')) hints.push('NUL in a JSON string');
  return hints.length ? ` [${hints.join(', ')}]` : ' [no hint]';
}

function httpProblems(c: HttpCase, res: { status: number; contentType: string; text: string }): string[] {
  let body: any;
  try {
    body = JSON.parse(res.text);
  } catch {
    return [`status ${res.status}, body is not JSON (${res.contentType})`];
  }
  if (res.status >= 500) return [`status ${res.status} ${body?.error?.code ?? ''}`];
  if (res.status >= 200 && res.status < 300) {
    if (!c.mayPass) return [`status ${res.status}: accepted (a write, or a route this caller may not use)`];
    if (body?.ok !== true || !isPlainObject(body.data)) return [`status ${res.status} without { ok: true, data }`];
    return [];
  }
  if (res.status < 400) return [`status ${res.status}`];
  const out: string[] = [];
  if (!/application\/json/.test(res.contentType)) out.push(`content-type ${res.contentType}`);
  if (body?.ok !== false) out.push('4xx without ok: false');
  out.push(...errorProblems(body?.error, c.sent).map((p) => `${p}`));
  return out;
}

// ---- database ----------------------------------------------------------------------------------

async function tableCounts(): Promise<Record<string, number>> {
  const client = new pg.Client({ connectionString: testEnv().databaseUrl });
  await client.connect();
  try {
    const { rows } = await client.query<{ tablename: string }>(`select tablename from pg_tables where schemaname = 'public' order by tablename`);
    const counts: Record<string, number> = {};
    for (const { tablename } of rows) {
      const res = await client.query<{ n: string }>(`select count(*) as n from public.${client.escapeIdentifier(tablename)}`);
      counts[tablename] = Number(res.rows[0]!.n);
    }
    return counts;
  } finally {
    await client.end();
  }
}

function craftJwt(header: Record<string, unknown>, payload: Record<string, unknown>, secret = TEST_SECRET): string {
  const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
  const head = `${b64(header)}.${b64(payload)}`;
  return `${head}.${createHmac('sha256', secret).update(head).digest('base64url')}`;
}

// ---- the suite ---------------------------------------------------------------------------------

describe('fuzz: hostile input is refused, not obeyed', function () {
  this.timeout(120_000);
  let server: TestServer;
  let world: World;
  let before_: Record<string, number>;
  let totalCases = 0;

  before(async () => {
    console.log(`    fuzz seed ${BASE_SEED} (replay with FUZZ_SEED=${BASE_SEED})`);
    server = await startTestServer({
      // The activity log records every event by design; off here so that every table, the audit
      // trail included, must be unchanged by refused input.
      ACTIVITY_LOG_ENABLED: 'false',
      // No background booking sweeps during the run (rows of other suites must not move the counts).
      JOBS_SWEEP_INTERVAL_MS: '3600000',
    });
    const lotId = await createLot(server.db, { total: 50 });
    const userId = newUserId();
    const otherUserId = newUserId();
    const adminId = newUserId();
    const book = async (uid: string) => {
      const res = await request(server, 'POST', '/bookings', {
        token: server.token(uid),
        body: { parking_lot_id: lotId, starts_at: future(24 * 60), duration_minutes: 60 },
      });
      assert.equal(res.status, 201, JSON.stringify(res.body));
      return res.body.data.booking.id as string;
    };
    world = {
      lotId,
      userId,
      otherUserId,
      adminId,
      bookingId: await book(userId),
      otherBookingId: await book(otherUserId),
      userToken: server.token(userId),
      adminToken: server.token(adminId, 'admin'),
    };
    // Let the start-up sweep of due bookings (other suites' rows) settle before counting.
    for (let i = 0; i < 10 && (await server.app.bookingJobs.sweepDue()) > 0; i++);
    before_ = await tableCounts();
  });

  after(async () => {
    closeAll();
    await server?.stop();
    console.log(`    fuzz cases in this run: ${totalCases} (seed ${BASE_SEED})`);
  });

  /** A health check, a normal HTTP request and a normal socket request all work. */
  async function assertAlive(): Promise<void> {
    const health = await request(server, 'GET', '/health/ready');
    assert.equal(health.status, 200, JSON.stringify(health.body));
    const res = await request(server, 'GET', `/realtime/parking-availability?parking_lot_id=${world.lotId}`, { token: world.userToken });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal(res.body.data.lots[0].parking_lot_id, world.lotId);
    const { socket } = await connect(server.url, world.userToken);
    const ack = await call(socket, 'get_parking_availability', { parking_lot_id: world.lotId });
    assert.equal(ack.ok, true, JSON.stringify(ack));
    socket.close();
  }

  it(`answers ${SOCKET_CASES} hostile socket events on every client event, as a user and as an admin`, async () => {
    const r = rngFor('socket');
    const workers = [
      ...[0, 1, 2].map(() => ({ role: 'user' as const, token: world.userToken })),
      ...[0, 1, 2].map(() => ({ role: 'admin' as const, token: world.adminToken })),
    ];
    const plan = Array.from({ length: SOCKET_CASES }, (_, i) => {
      const worker = i % workers.length;
      return { worker, c: socketCase(r, world, workers[worker]!.role, i) };
    });
    const problems: Problem[] = [];
    const seenEvents = new Set<string>();
    const stats = new Map<string, number>();

    await Promise.all(
      workers.map(async (wk, n) => {
        let { socket } = await connect(server.url, wk.token);
        for (const { c } of plan.filter((p) => p.worker === n)) {
          seenEvents.add(c.known ?? 'unknown');
          const where = `${wk.role} ${c.event.slice(0, 40)}${c.withAck ? '' : ' (no ack)'}`;
          const note = (what: string, answer: unknown) => problems.push({ where, what, input: `#${c.idx} ${clip(c.args)}`, answer: clip(answer) });
          if (!socket.connected) {
            note('socket was disconnected by an earlier case', socket.id);
            ({ socket } = await connect(server.url, wk.token));
          }
          if (!c.known) {
            // An event the contract lacks is refused like any bad input: an ack, or an error event.
            if (c.withAck) {
              const res = await socket.timeout(ACK_TIMEOUT_MS).emitWithAck(c.event, ...c.args).catch((err: unknown) => ({ noAnswer: String(err) }));
              stats.set(`${String(res?.error?.code ?? 'no answer')} (unknown event)`, (stats.get(`${String(res?.error?.code ?? 'no answer')} (unknown event)`) ?? 0) + 1);
              if (!isPlainObject(res) || res.ok !== false) note('an unknown event was not refused on its ack', res);
              else for (const p of errorProblems(res.error, c.sent)) note(p, res);
            } else {
              const name = c.event.slice(0, 100);
              const p = await new Promise<any>((resolve) => {
                const timer = setTimeout(() => done(undefined), ACK_TIMEOUT_MS);
                const onError = (e: any) => e?.event === name && done(e);
                function done(v: unknown) {
                  clearTimeout(timer);
                  socket.off('error', onError);
                  resolve(v);
                }
                socket.on('error', onError);
                socket.emit(c.event, ...c.args);
              });
              stats.set(`${String(p?.code ?? 'no answer')} (unknown event, error event)`, (stats.get(`${String(p?.code ?? 'no answer')} (unknown event, error event)`) ?? 0) + 1);
              if (!p) note(`no error event for an unknown event within ${ACK_TIMEOUT_MS} ms`, undefined);
              else for (const x of errorProblems({ code: p.code, message: p.message }, c.sent)) note(x, p);
            }
            continue;
          }
          const spec = EVENTS[c.known];
          const judge = (res: any, viaReply: boolean) => {
            const tag = viaReply ? 'ok (reply event)' : res?.ok === true ? 'ok' : String(res?.error?.code);
            stats.set(tag, (stats.get(tag) ?? 0) + 1);
            if (viaReply) {
              if (!c.valid) note('an invalid payload was answered with the success reply', res);
              else if (spec.write) note('a write was accepted', res);
              else {
                const bad = spec.shape(res, world, wk.role, c.payload);
                if (bad) note(bad, res);
              }
              return;
            }
            if (!isPlainObject(res)) return note('answer is not an object', res);
            if (res.ok === true) {
              if (!c.valid) return note('ok:true for a payload the contract refuses', res);
              if (!isPlainObject(res.data)) return note('ok:true without data', res);
              const bad = spec.shape(res.data, world, wk.role, c.payload);
              if (bad) note(bad, res);
            } else if (res.ok === false) {
              for (const p of errorProblems(res.error, c.sent)) note(p, res);
              // Validation comes first at the edge: a payload the contract refuses is a VALIDATION_ERROR.
              const code = (res.error as { code?: unknown } | undefined)?.code;
              if (!c.valid && code !== 'VALIDATION_ERROR') note(`an invalid payload got ${String(code)}, not VALIDATION_ERROR`, res);
            } else note('answer has no boolean ok', res);
          };
          if (c.withAck) {
            try {
              judge(await socket.timeout(ACK_TIMEOUT_MS).emitWithAck(c.event, ...c.args), false);
            } catch (err) {
              note(`no ack within ${ACK_TIMEOUT_MS} ms`, String(err));
            }
          } else {
            const outcome = await new Promise<{ via: 'error' | 'reply'; payload: any } | undefined>((resolve) => {
              const timer = setTimeout(() => done(undefined), ACK_TIMEOUT_MS);
              const onError = (p: any) => p?.event === c.event && done({ via: 'error', payload: p });
              const onReply = (p: any) => done({ via: 'reply', payload: p });
              function done(v: { via: 'error' | 'reply'; payload: any } | undefined) {
                clearTimeout(timer);
                socket.off('error', onError);
                if (spec.reply) socket.off(spec.reply, onReply);
                resolve(v);
              }
              socket.on('error', onError);
              if (spec.reply) socket.on(spec.reply, onReply);
              socket.emit(c.event, ...c.args);
            });
            if (!outcome) note(`neither an error event nor ${spec.reply} within ${ACK_TIMEOUT_MS} ms`, undefined);
            else if (outcome.via === 'reply') judge(outcome.payload, true);
            else {
              const p = outcome.payload;
              stats.set(`${String(p?.code)} (error event)`, (stats.get(`${String(p?.code)} (error event)`) ?? 0) + 1);
              if (typeof p?.message !== 'string' || typeof p?.code !== 'string') note('error event is not { message, code, event }', p);
              for (const x of errorProblems({ code: p?.code, message: p?.message }, c.sent)) note(x, p);
              if (!c.valid && p?.code !== 'VALIDATION_ERROR') note(`an invalid payload got ${String(p?.code)}, not VALIDATION_ERROR`, p);
            }
          }
        }
        // The socket still answers after its share of hostile cases.
        const last = await call(socket, 'get_parking_availability', { parking_lot_id: world.lotId });
        if (last?.ok !== true) problems.push({ where: wk.role, what: 'socket no longer answers a valid request', input: '', answer: clip(last) });
      }),
    );
    totalCases += plan.length;
    console.log(`      socket outcomes: ${JSON.stringify(Object.fromEntries([...stats].sort((a, b) => b[1] - a[1])))}`);
    closeAll();
    await assertAlive();
    for (const e of [...Object.keys(EVENTS), 'unknown']) assert.ok(seenEvents.has(e), `the generator never produced ${e}`);
    report('socket fuzz', problems, plan.length);
  });

  it(`answers ${HTTP_CASES} hostile HTTP requests on every route with a JSON 4xx (or a valid read's 2xx), never 5xx`, async () => {
    const r = rngFor('http');
    const cases = Array.from({ length: HTTP_CASES }, (_, i) => httpCase(r, world, i));
    const labels = new Set(cases.map((c) => c.label));
    assert.ok(labels.size >= 16, `only ${labels.size} routes generated`);
    const problems: Problem[] = [];
    const stats = new Map<string, number>();
    let next = 0;
    await Promise.all(
      Array.from({ length: 8 }, async () => {
        while (next < cases.length) {
          const c = cases[next++]!;
          const res = await send(server.url, c);
          const where = c.label;
          const shown = { ...c.headers };
          if (shown.authorization) shown.authorization = shown.authorization.replace(world.userToken, '<user token>').replace(world.adminToken, '<admin token>').slice(0, 60);
          const input = `#${c.idx} ${c.method} ${clip(c.path, 150)} headers=${clip(shown, 250)} body=${clip(c.body, 150)}`;
          if ('failed' in res) {
            problems.push({ where, what: `no answer within ${HTTP_TIMEOUT_MS} ms (${res.failed})`, input, answer: '' });
            continue;
          }
          stats.set(String(res.status), (stats.get(String(res.status)) ?? 0) + 1);
          for (const what of httpProblems(c, res)) problems.push({ where, what: `${what}${res.status >= 500 ? httpHint(c) : ''}`, input, answer: `${res.status} ${clip(res.text)}` });
        }
      }),
    );
    totalCases += cases.length;
    console.log(`      HTTP statuses: ${JSON.stringify(Object.fromEntries([...stats].sort((a, b) => b[1] - a[1])))} over ${labels.size} routes`);
    await assertAlive();
    report('HTTP fuzz', problems, cases.length);
  });

  it('survives malformed Socket.IO and Engine.IO packets: the server drops the offender or ignores the packet, and keeps serving', async () => {
    // Socket.IO packets as the wire carries them inside an Engine.IO message (the leading "4" is added by the client).
    const packets = [
      '2["connect"]', '2["disconnect","x"]', '2["connect_error",{}]', '2[', '2"abc"', '2[1,2]', '2[null]', '2[{}]', '2["__proto__"]',
      '21["constructor"]', '21["hasOwnProperty",{}]', '2["error",{}]', '21["subscribe"]', '299999999999999999999["subscribe",{}]',
      '5-["subscribe",{"_placeholder":true,"num":0}]', '51-["subscribe",{"_placeholder":true,"num":99}]', '3["x"]', '31[{"ok":true}]',
      '1', '0/nope,', '0/admin,{"token":1}', '4', '6', '9["x"]', '', '2' + JSON.stringify(['subscribe', nest(3000, true)]),
      `2["subscribe",{"room":"${'\\u0000'.repeat(100)}"}]`, '2["subscribe",{"room":"\\ud800"}]', `21["create_booking",{"__proto__":{"parking_lot_id":"${world.lotId}","duration_minutes":5}}]`,
    ];
    const engineFrames = ['x', '9', '', '4', '2probe', '3', '5', '6', '1', 'b4AAAA', '\u0000'];
    const problems: Problem[] = [];
    const outcomes = new Map<string, number>();
    let n = 0;
    for (const [kind, frame] of [...packets.map((p) => ['socket.io', p] as const), ...engineFrames.map((f) => ['engine.io', f] as const)]) {
      n++;
      const { socket } = await connect(server.url, world.userToken);
      const gone = new Promise<string>((resolve) => socket.once('disconnect', (reason) => resolve(`disconnected: ${reason}`)));
      const engine = socket.io.engine as unknown as { write(msg: string): void; transport: { ws?: { send(d: string): void } } };
      if (kind === 'socket.io') engine.write(frame);
      else engine.transport.ws?.send(frame);
      // Either the server dropped this client, or the client still gets answers. (A namespace
      // DISCONNECT packet, "1", is the client leaving: the server forgets the socket without a word.)
      const id = socket.id!;
      const outcome = await Promise.race([
        gone,
        socket.timeout(2000).emitWithAck('get_parking_availability', { parking_lot_id: world.lotId }).then(
          (res: any) => (res?.ok === true ? 'answered' : `bad answer ${clip(res)}`),
          (err: unknown) => (server.app.io.of('/').sockets.has(id) ? `no answer: ${String(err)}` : 'dropped by the server'),
        ),
      ]);
      outcomes.set(outcome.split(':')[0]!, (outcomes.get(outcome.split(':')[0]!) ?? 0) + 1);
      if (!outcome.startsWith('disconnected') && outcome !== 'answered' && outcome !== 'dropped by the server') problems.push({ where: kind, what: outcome, input: clip(frame), answer: '' });
      socket.close();
    }
    totalCases += n;
    console.log(`      packet outcomes: ${JSON.stringify(Object.fromEntries(outcomes))}`);
    await assertAlive();
    report('packet fuzz', problems, n);
  });

  it('disconnects a client whose message exceeds maxHttpBufferSize (64 kB), keeps serving, and lets it reconnect', async () => {
    const oversized: [string, unknown[]][] = [
      ['subscribe', [{ room: 'A'.repeat(70_000) }]],
      ['create_booking', [{ parking_lot_id: world.lotId, vehicle_plate: 'B'.repeat(1_000_000), duration_minutes: 5 }]],
      ['get_parking_availability', [Buffer.alloc(100_000, 7)]],
      ['no_such_event', ['C'.repeat(80_000)]],
      ['send_announcement', [Array.from({ length: 7000 }, () => 'ten chars!')]],
      ['set_parking_availability', [{ parking_lot_id: world.lotId, reason: '😀'.repeat(20_000), available_spaces: 0 }]],
    ];
    for (const [event, args] of oversized) {
      const { socket } = await connect(server.url, world.adminToken);
      const gone = new Promise<string>((resolve) => socket.once('disconnect', (reason) => resolve(reason)));
      const answered = socket.timeout(10_000).emitWithAck(event, ...args).then(
        (res: unknown) => `answered ${clip(res)}`,
        () => 'no answer',
      );
      const reason = await Promise.race([gone, answered.then((a) => (a === 'no answer' ? gone : a))]);
      assert.ok(['transport close', 'transport error'].includes(reason), `${event} with ${approxBytes(args)} bytes: ${reason}`);
      const again = await connect(server.url, world.adminToken);
      const res = await call(again.socket, 'get_parking_availability', { parking_lot_id: world.lotId });
      assert.equal(res.ok, true, JSON.stringify(res));
      again.socket.close();
    }
    totalCases += oversized.length;
    await assertAlive();
  });

  it(`refuses ${HANDSHAKE_CASES} hostile handshakes (tokens, claims, headers, resume maps) with a clean connect_error or a sane connection`, async () => {
    const r = rngFor('handshake');
    const problems: Problem[] = [];
    const now = Math.floor(Date.now() / 1000);
    const TOKEN_CODES = ['TOKEN_MISSING', 'TOKEN_INVALID', 'TOKEN_EXPIRED', 'TOKEN_NOT_YET_VALID', 'TOKEN_CLAIMS_INVALID'];
    for (let i = 0; i < HANDSHAKE_CASES; i++) {
      const sub = r.chance(0.7) ? r.uuid() : hostileString(r, world).slice(0, 500);
      const claims: Record<string, unknown> = { sub, role: 'authenticated', exp: now + 3600, app_metadata: { role: 'user' } };
      const k = r.int(0, 11);
      if (k === 0) claims.app_metadata = r.pick([{ role: 'ADMIN' }, { role: ['admin'] }, { role: 'admin ' }, { role: { $eq: 'admin' } }, 'admin', null, polluted()]);
      if (k === 1) claims.user_metadata = { role: 'admin' };
      if (k === 2) claims.role = r.pick(['service_role', 'postgres', 'supabase_admin', "authenticated'; reset role; --"]);
      if (k === 3) claims.exp = r.pick([now - 3600, `${now + 3600}`, null, -1, now + 0.5, [now + 3600], { n: 1 }]);
      if (k === 4) claims.nbf = r.pick([now + 3600, 'soon', -1]);
      if (k === 5) claims.iat = hostileValue(r, world);
      if (k === 6) claims.email = hostileValue(r, world);
      if (k === 7) claims.pad = 'P'.repeat(r.int(100, 5000));
      if (k === 8) delete claims.sub;
      if (k === 9) delete claims.exp;
      const header = r.pick([{ alg: 'HS256', typ: 'JWT' }, { alg: 'HS256', typ: 'JWT' }, { alg: 'none' }, { alg: 'HS512' }, { alg: 'RS256' }, { alg: 'HS256', kid: "../../etc/passwd'" }]);
      const [token, validToken] = r.pick<() => [unknown, boolean]>([
        () => [craftJwt(header, claims), header.alg === 'HS256'],
        () => [craftJwt(header, claims), header.alg === 'HS256'],
        () => [craftJwt({ alg: 'HS256', typ: 'JWT' }, claims, 'some-other-secret-that-is-long-enough-xx'), false],
        () => [`${craftJwt({ alg: 'none' }, claims).split('.').slice(0, 2).join('.')}.`, false],
        () => [hostileValue(r, world), false],
      ])();
      const auth: Record<string, unknown> = r.chance(0.9) ? { token } : {};
      const useHeader = r.chance(0.1);
      // A valid token and a hostile resume map: the connection stands, the map is refused or resumed cleanly.
      const resume = r.chance(0.3);
      if (resume) {
        auth.token = world.userToken;
        auth.last_seq = r.pick([
          () => hostileValue(r, world),
          () => ({ [`parking_lot:${world.lotId}`]: r.pick([0, -1, 1.5, 2 ** 60, '3']) }),
          () => ({ admin: 0, [`user:${world.otherUserId}`]: 0, [`user:${world.userId}`]: 0, [r.pick(WEIRD)]: 0 }),
          () => Object.fromEntries(Array.from({ length: r.int(1, 150) }, (_, j) => [`parking_lot:${j % 3 === 0 ? world.lotId : r.uuid()}`, j])),
        ])();
      }
      const sent = `${safeJson(wire(auth))} ${safeJson(claims)}`.toLowerCase();
      const where = resume ? 'handshake with resume map' : useHeader ? 'handshake via Authorization header' : 'handshake';
      const note = (what: string, answer: unknown) => problems.push({ where, what, input: `#${i} ${clip(auth)}`, answer: clip(answer) });
      const socket = io(server.url, {
        auth: useHeader && !resume ? {} : (wire(auth) as Record<string, unknown>),
        // A header is text: a hostile object (whose own toString may be hostile too) travels as its JSON.
        ...(useHeader && !resume ? { extraHeaders: { authorization: headerSafe(`Bearer ${typeof token === 'string' ? token : safeJson(token)}`) } } : {}),
        transports: ['websocket'],
        reconnection: false,
        forceNew: true,
      });
      const resumeOutcome = new Promise<any>((resolve) => {
        socket.once('resumed', (p) => resolve({ resumed: p }));
        socket.on('error', (p) => p?.event === 'resume' && resolve({ error: p }));
      });
      const outcome = await new Promise<any>((resolve) => {
        const timer = setTimeout(() => resolve({ timeout: true }), 8000);
        socket.once('connected', (p) => (clearTimeout(timer), resolve({ connected: p })));
        socket.once('connect_error', (e: Error & { data?: any }) => (clearTimeout(timer), resolve({ refused: { message: e.message, data: e.data } })));
      });
      if (outcome.timeout) note('neither connected nor connect_error within 8 s', outcome);
      else if (outcome.refused) {
        const { message, data } = outcome.refused;
        if (resume) note('a valid token with a resume map was refused', outcome.refused);
        if (message !== 'Authentication error') note(`connect_error message "${message}"`, outcome.refused);
        if (!TOKEN_CODES.includes(data?.code)) note(`connect_error data.code ${data?.code}`, outcome.refused);
        for (const p of errorProblems({ code: data?.code, message: data?.message }, sent)) note(p, outcome.refused);
      } else {
        const user = outcome.connected.user;
        // The hostile-value generator may hand over one of the world's own valid tokens.
        const sentToken = useHeader && !resume ? token : auth.token;
        const own = sentToken === world.adminToken ? { id: world.adminId, role: 'admin' } : sentToken === world.userToken ? { id: world.userId, role: 'user' } : undefined;
        const expected = own ?? { id: String(claims.sub).toLowerCase(), role: 'user' };
        if (!own && !validToken) note('connected with a token that is not validly signed', outcome.connected);
        if (user?.id !== expected.id) note(`connected as ${user?.id}, not the token's sub`, outcome.connected);
        if (user?.role !== expected.role) note(`connected with role ${user?.role} (only app_metadata.role === "admin" makes an admin)`, outcome.connected);
        if (resume && wire(auth.last_seq) !== undefined) {
          const got = await Promise.race([resumeOutcome, new Promise((res) => setTimeout(() => res({ timeout: true }), 8000))]);
          const g = got as any;
          if (g.timeout) note('no resumed or error event for the resume map', auth.last_seq);
          else if (g.error) for (const p of errorProblems(g.error, sent)) note(p, g.error);
          else {
            for (const f of g.resumed.failed ?? []) for (const p of errorProblems(f, sent)) note(p, f);
            for (const room of (g.resumed.rooms ?? []).map((x: any) => x.room)) {
              if (room === 'admin' || (String(room).startsWith('user:') && room !== `user:${world.userId}`)) note(`resume joined ${room}`, g.resumed);
            }
          }
        }
        const res = await socket.timeout(ACK_TIMEOUT_MS).emitWithAck('get_booking_status', { booking_id: world.otherBookingId }).catch((e: unknown) => ({ noAnswer: String(e) }));
        // Isolation: never another user's booking. (A token whose claims Postgres cannot store, e.g. a
        // lone surrogate or NUL in a claim, gets VALIDATION_ERROR on every query: refused, not leaked.)
        // A token that ran out meanwhile (exp = now + 0.5 s) may take the socket, and the answer, with it.
        const expiredSince = typeof claims.exp === 'number' && claims.exp * 1000 <= Date.now();
        // Who owns the booking is known: the token's sub may be its owner (the hostile generator can
        // hand over the world's own ids), and then reading it is right, not a leak.
        const readOwn = res?.ok === true && res.data?.booking?.user_id === expected.id && expected.id === world.otherUserId;
        if (expected.role === 'user' && res?.ok === true && !readOwn) note("a user read another user's booking", res);
        else if (expected.role === 'user' && res?.ok === undefined && !expiredSince) note('no answer to get_booking_status from a live token', res);
        else if (expected.role === 'user' && res?.ok === false) for (const p of errorProblems(res.error, sent)) note(p, res);
      }
      socket.close();
    }
    totalCases += HANDSHAKE_CASES;
    await assertAlive();
    report('handshake fuzz', problems, HANDSHAKE_CASES);
  });

  it('changed no row in any table of schema public, and polluted no prototype', async () => {
    await assertAlive();
    const after_ = await tableCounts();
    const diff = Object.keys({ ...before_, ...after_ })
      .filter((t) => before_[t] !== after_[t])
      .map((t) => `${t}: ${before_[t]} → ${after_[t]}`);
    assert.deepEqual(diff, [], `row counts changed (FUZZ_SEED=${BASE_SEED}): ${diff.join(', ')}`);
    assert.ok(Object.keys(before_).length >= 10, `only ${Object.keys(before_).length} tables counted`);
    // The server runs in this process: a polluted Object.prototype would show here.
    const probe = {} as Record<string, unknown>;
    assert.equal(probe.polluted, undefined);
    assert.equal(probe.isAdmin, undefined);
    assert.equal(probe.role, undefined);
    // The fixtures are as they were: the real booking is still pending, the lot unchanged.
    const res = await request(server, 'GET', `/bookings/${world.bookingId}`, { token: world.userToken });
    assert.equal(res.body.data.booking.status, 'pending');
    const lot = await request(server, 'GET', `/realtime/parking-availability?parking_lot_id=${world.lotId}`, { token: world.userToken });
    assert.deepEqual(
      { total: lot.body.data.lots[0].total_spaces, oos: lot.body.data.lots[0].out_of_service, occupied: lot.body.data.lots[0].occupied_unbooked, open: lot.body.data.lots[0].is_open },
      { total: 50, oos: 0, occupied: 0, open: true },
    );
  });

  // ---- findings of this suite, each pinned down on its own ----

  it('answers an unknown event name with an error (ack or error event) instead of ignoring it', async () => {
    const { socket } = await connect(server.url, world.userToken);
    const ack = await socket
      .timeout(3000)
      .emitWithAck('create_bookings', { parking_lot_id: world.lotId })
      .catch(() => 'no answer within 3 s');
    assert.ok(isPlainObject(ack) && ack.ok === false && typeof (ack.error as any)?.code === 'string', `ack: ${clip(ack)}`);
    const event = new Promise((resolve) => {
      socket.on('error', (p) => p?.event === 'subscribe_all' && resolve(p));
      setTimeout(() => resolve('no error event within 3 s'), 3000);
    });
    socket.emit('subscribe_all', {});
    const p = await event;
    assert.ok(isPlainObject(p) && typeof p.code === 'string', `error event: ${clip(p)}`);
  });

  it('answers malformed percent-encoding in a route parameter with 400, not 500', async () => {
    const wrong: string[] = [];
    for (const path of ['/bookings/%E0%A4%A', '/bookings/%/cancel', '/notifications/%ZZ/read', '/realtime/parking-lots/%C0%AF/availability']) {
      const method = path.endsWith('/cancel') || path.endsWith('/read') ? 'POST' : path.endsWith('/availability') ? 'PUT' : 'GET';
      const res = await request(server, method, path, { token: world.adminToken, ...(method === 'GET' ? {} : { body: {} }) });
      if (res.status !== 400 || res.body?.error?.code !== 'VALIDATION_ERROR') wrong.push(`${method} ${path} → ${res.status} ${JSON.stringify(res.body)}`);
    }
    assert.deepEqual(wrong, [], 'expected 400 VALIDATION_ERROR');
  });

  it('answers a corrupt compressed body with 400, not 500', async () => {
    const wrong: string[] = [];
    for (const [path, headers, encoding] of [
      ['/bookings', { authorization: `Bearer ${world.userToken}` }, 'gzip'],
      ['/bookings', { authorization: `Bearer ${world.userToken}` }, 'deflate'],
      ['/bookings', { authorization: `Bearer ${world.userToken}` }, 'br'],
      ['/payments/webhook', {}, 'gzip'],
    ] as const) {
      const res = await fetch(`${server.url}${path}`, {
        method: 'POST',
        headers: { ...headers, 'content-type': 'application/json', 'content-encoding': encoding },
        body: 'this is not compressed',
      });
      const body = (await res.json()) as { ok?: unknown };
      if (res.status !== 400 || body.ok !== false) wrong.push(`${path} (${encoding}) → ${res.status} ${JSON.stringify(body)}`);
    }
    assert.deepEqual(wrong, [], 'expected 400');
  });

  it('refuses NUL characters in text fields (Postgres cannot store them) with VALIDATION_ERROR, not INTERNAL_ERROR, and stores nothing', async () => {
    const lot = await createLot(server.db, { total: 5 });
    const { socket: user } = await connect(server.url, world.userToken);
    const { socket: admin } = await connect(server.url, world.adminToken);
    const answers: [string, unknown][] = [
      ['socket create_booking vehicle_plate', await call(user, 'create_booking', { parking_lot_id: lot, duration_minutes: 30, vehicle_plate: 'AB\u00001' })],
      ['socket send_announcement message', await call(admin, 'send_announcement', { message: 'Gate B\u0000 closed' })],
      ['socket set_parking_availability reason', await call(admin, 'set_parking_availability', { parking_lot_id: lot, available_spaces: 3, reason: 'count\u0000' })],
    ];
    const wrong: string[] = [];
    for (const [what, res] of answers) if ((res as any)?.error?.code !== 'VALIDATION_ERROR') wrong.push(`${what}: ${JSON.stringify(res)}`);
    const body = JSON.stringify({ id: 'evt\u0000x', type: 'payment.succeeded', data: { booking_id: randomUUID(), payment_id: 'p1', amount_cents: 5 } });
    const rest = [
      ['POST /bookings idempotency_key', await request(server, 'POST', '/bookings', { token: world.userToken, body: { parking_lot_id: lot, duration_minutes: 30, idempotency_key: 'k\u0000' } })],
      ['PUT availability reason', await request(server, 'PUT', `/realtime/parking-lots/${lot}/availability`, { token: world.adminToken, body: { available_spaces: 3, reason: 'count\u0000' } })],
      ['signed webhook event id', await request(server, 'POST', '/payments/webhook', { rawBody: body, headers: { [SIGNATURE_HEADER]: signPayload(TEST_WEBHOOK_SECRET, body) } })],
    ] as const;
    for (const [what, res] of rest) if (res.status !== 400) wrong.push(`${what}: ${res.status} ${JSON.stringify(res.body)}`);
    assert.deepEqual(wrong, [], 'expected VALIDATION_ERROR / 400');
    const { rows } = await server.db.asSystem((tx) =>
      tx.query<{ b: number; a: number }>(
        'select (select count(*)::int from public.bookings where parking_lot_id = $1) as b, (select count(*)::int from public.admin_audit_log where target_id = $1::text) as a',
        [lot],
      ),
    );
    assert.deepEqual(rows[0], { b: 0, a: 0 });
  });

  it('answers a user whose token carries a NUL in user_metadata (which Supabase users edit themselves) with a 4xx, not 500', async () => {
    const wrong: string[] = [];
    for (const nickname of ['a\u0000b', 'x\ud800y']) {
      const token = craftJwt(
        { alg: 'HS256', typ: 'JWT' },
        { sub: newUserId(), role: 'authenticated', exp: Math.floor(Date.now() / 1000) + 3600, app_metadata: { role: 'user' }, user_metadata: { nickname } },
      );
      const res = await request(server, 'GET', '/bookings', { token });
      if (res.status >= 500 || res.body?.ok === undefined) wrong.push(`GET /bookings with nickname ${JSON.stringify(nickname)} → ${res.status} ${JSON.stringify(res.body)}`);
      const { socket } = await connect(server.url, token);
      const ack = await call(socket, 'get_booking_status', { booking_id: world.bookingId });
      if (ack?.ok !== false || ack.error?.code === 'INTERNAL_ERROR') wrong.push(`get_booking_status with nickname ${JSON.stringify(nickname)} → ${JSON.stringify(ack)}`);
      socket.close();
    }
    assert.deepEqual(wrong, []);
  });

  it('handles a validly signed token whose exp is beyond the Date range without an uncaught exception', async () => {
    // An uncaught exception would end a real server process; here it is caught and reported (and
    // mocha's own handler is put back), so it cannot surface in a later test.
    const uncaught: unknown[] = [];
    const saved = process.listeners('uncaughtException');
    process.removeAllListeners('uncaughtException');
    const catcher = (err: unknown) => uncaught.push(err);
    process.on('uncaughtException', catcher);
    const outcomes: string[] = [];
    try {
      for (const exp of [1e13, 1e300]) {
        const token = craftJwt({ alg: 'HS256', typ: 'JWT' }, { sub: newUserId(), role: 'authenticated', exp, app_metadata: { role: 'user' } });
        const outcome = await connect(server.url, token, { timeoutMs: 3000 }).then(
          ({ connected }) => `exp ${exp}: connected, token_expires_at ${connected.token_expires_at}`,
          (err: Error & { data?: any }) => `exp ${exp}: ${err.data?.code ?? err.message}`,
        );
        outcomes.push(outcome);
      }
    } finally {
      process.removeListener('uncaughtException', catcher);
      for (const l of saved) process.on('uncaughtException', l as (err: Error) => void);
    }
    const crashes = uncaught.map((e) => (e instanceof Error ? (e.stack ?? e.message).split('\n').slice(0, 3).join(' / ') : String(e)));
    assert.deepEqual(crashes, [], `uncaught exceptions in the server (outcomes: ${outcomes.join('; ')})`);
    for (const o of outcomes) assert.match(o, /TOKEN_CLAIMS_INVALID|token_expires_at \d{4}-/, o);
    await assertAlive();
  });
});

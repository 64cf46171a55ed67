import { Rng } from './rng.js';
import type { World } from './world.js';

export const SQLI = [
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

export const WEIRD = [
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

export const NUMBERS = [
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
export const EDGE_DATES = [
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
export function edgeDate(r: Rng): string {
  if (r.chance(0.7)) return r.pick(EDGE_DATES);
  const d = new Date(Date.now() + r.int(-2, 2) * 3_600_000 + r.int(-600, 600) * 1000);
  const offsetMinutes = r.pick([14 * 60, -12 * 60, 15 * 60 + 59, -(15 * 60 + 59), 16 * 60, 0]);
  const local = new Date(d.getTime() + offsetMinutes * 60_000).toISOString().slice(0, 19);
  const sign = offsetMinutes < 0 ? '-' : '+';
  const abs = Math.abs(offsetMinutes);
  return `${local}${sign}${String(Math.floor(abs / 60)).padStart(2, '0')}:${String(abs % 60).padStart(2, '0')}`;
}

export const FIELD_KEYS = [
  'room', 'type', 'last_seq', 'parking_lot_id', 'booking_id', 'reason', 'starts_at', 'ends_at', 'duration_minutes', 'idempotency_key',
  'vehicle_plate', 'message', 'title', 'available_spaces', 'out_of_service', 'is_open', 'token', 'id', 'data', 'amount_cents',
  'payment_id', 'currency', 'user_id', 'status', 'role', 'app_metadata',
];
export const HOSTILE_KEYS = ['__proto__', 'constructor', 'prototype', '', ' ', 'room ', 'ROOM', '$gt', '$where', 'a.b', '0', '😀', 'toString', 'valueOf', '\u0000'];

export function setOwn(obj: Record<string, unknown>, key: string, value: unknown): void {
  // `__proto__` as an own, enumerable key, exactly as JSON.parse would produce it from the wire.
  Object.defineProperty(obj, key, { value, enumerable: true, writable: true, configurable: true });
}

export function unicodeSoup(r: Rng, n: number): string {
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

export function hostileString(r: Rng, w: World): string {
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

export function nest(depth: number, asArray: boolean): unknown {
  let v: unknown = 1;
  for (let i = 0; i < depth; i++) v = asArray ? [v] : { a: v };
  return v;
}

export function polluted(): Record<string, unknown> {
  return JSON.parse('{"__proto__":{"polluted":"yes","role":"admin","isAdmin":true},"constructor":{"prototype":{"polluted":"yes"}},"prototype":{"polluted":"yes"}}');
}

export function hostileValue(r: Rng, w: World, depth = 0): unknown {
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

export function hostileObject(r: Rng, w: World, depth = 0): Record<string, unknown> {
  const obj: Record<string, unknown> = {};
  const n = r.int(0, 5);
  for (let i = 0; i < n; i++) setOwn(obj, r.chance(0.6) ? r.pick(FIELD_KEYS) : r.pick(HOSTILE_KEYS), hostileValue(r, w, depth + 1));
  return obj;
}

/** What the payload looks like after the JSON wire: undefined dropped (null in arrays), non-finite → null; Buffers stay binary. */
export function wire(v: unknown): unknown {
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

export const isPlainObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v) && !Buffer.isBuffer(v);

export function approxBytes(v: unknown): number {
  return Buffer.byteLength(JSON.stringify(v) ?? '');
}

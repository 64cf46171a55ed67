import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { deflateSync, gzipSync } from 'node:zlib';
import { webhookEventSchema } from '../../server/features/payments/routes.js';
import { SIGNATURE_HEADER } from '../../server/features/payments/signature.js';
import { announcementSchema, createBookingSchema } from '../../server/contract/index.js';
import { TEST_WEBHOOK_SECRET } from '../helpers/server.js';
import { HTTP_TIMEOUT_MS, Rng } from './rng.js';
import type { World } from './world.js';
import { HOSTILE_KEYS, hostileString, hostileValue, isPlainObject, polluted, wire } from './values.js';
import { asJson, decodeURIComponentSafe, errorProblems, safeJson, wellFormed } from './oracles.js';
import { EVENTS, mutate } from './socket-cases.js';

// ---- HTTP cases --------------------------------------------------------------------------------

export interface HttpCase {
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

export const BAD_PERCENT = ['%', '%E0%A4%A', '%ZZ', '%C0%AF', '%u0041', '%%', '%0', '%FF%FE'];

export function pathParam(r: Rng, w: World, kind: 'lot' | 'booking' | 'notification'): string {
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

export function queryString(r: Rng, w: World, keys: string[]): string {
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

export const GARBAGE_BODIES = [
  'not json', '{', '{"a":', '}', '\u0000', 'null', '""', '1', 'true', '[]', '[{}]', '{"a":1,}', "{'a':1}", '<xml><a>1</a></xml>',
  'a=1&b=2', '{"__proto__":{"polluted":"yes"}}', '{"constructor":{"prototype":{"polluted":"yes"}}}', 'NaN', '{"a":NaN}', '\ufeff{}', '{"a":"\\ud800"}',
  '{"a":1}{"b":2}', '1e999999', '{"a":' + '9'.repeat(400) + '}',
];

export type BodyPlan =
  | { kind: 'json'; payload: unknown }
  | { kind: 'raw'; text: string | Buffer; contentType?: string; encoding?: string };

export function bodyPlan(r: Rng, w: World, template: unknown): BodyPlan {
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

export function authHeader(r: Rng, w: World): { header?: string; as: 'user' | 'admin' | 'nobody' } {
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

export function headerSafe(s: string): string {
  // fetch refuses CR, LF, NUL and non-Latin-1 in header values; that is the client library, not the server.
  return s.replace(/[^\x20-\x7e]/g, '?').slice(0, 4000);
}

export function httpCase(r: Rng, w: World, idx: number): HttpCase {
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

export function webhookCase(r: Rng, w: World, headers: Record<string, string>): { label: string; method: string; path: string; body?: string | Buffer; mayPass: boolean } {
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
export async function send(url: string, c: HttpCase): Promise<{ status: number; contentType: string; text: string } | { failed: string }> {
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
export function httpHint(c: HttpCase): string {
  const hints: string[] = [];
  const segments = c.path.split('?')[0]!.split('/');
  if (segments.some((seg) => decodeURIComponentSafe(seg) === seg && seg.includes('%'))) hints.push('malformed %-encoding in the path');
  if (c.headers['content-encoding']) hints.push(`content-encoding ${c.headers['content-encoding']}`);
  const body = typeof c.body === 'string' ? c.body : '';
  if (body.includes('\\u0000') || body.includes('\u0000')) hints.push('NUL in a JSON string');
  return hints.length ? ` [${hints.join(', ')}]` : ' [no hint]';
}

export function httpProblems(c: HttpCase, res: { status: number; contentType: string; text: string }): string[] {
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

import { createHmac, timingSafeEqual } from 'node:crypto';
import { UnauthorizedError } from '../../platform/errors.js';

/**
 * Signature header: `t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<raw body>">` (Stripe's scheme).
 * The timestamp is inside the signed text, so an old request cannot be re-sent with a new time;
 * the tolerance refuses old ones, and the event id makes a replay inside it a no-op.
 */
export const SIGNATURE_HEADER = 'x-spotcast-signature';

export function signPayload(secret: string, body: string, timestamp = Math.floor(Date.now() / 1000)): string {
  const mac = createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex');
  return `t=${timestamp},v1=${mac}`;
}

export function verifySignature(opts: {
  secret: string;
  header: string | undefined;
  body: Buffer;
  toleranceSeconds: number;
  now?: number;
}): void {
  const parts = new Map<string, string[]>();
  for (const item of (opts.header ?? '').split(',')) {
    const [k, v] = item.split('=', 2).map((s) => s.trim());
    if (k && v) parts.set(k, [...(parts.get(k) ?? []), v]);
  }
  const t = Number(parts.get('t')?.[0]);
  const signatures = parts.get('v1') ?? [];
  if (!Number.isInteger(t) || signatures.length === 0) {
    throw new UnauthorizedError('INVALID_SIGNATURE', `Missing or malformed ${SIGNATURE_HEADER} header`);
  }
  const expected = createHmac('sha256', opts.secret).update(`${t}.`).update(opts.body).digest();
  const matches = signatures.some((hex) => {
    const given = Buffer.from(hex, 'hex');
    return given.length === expected.length && timingSafeEqual(given, expected);
  });
  if (!matches) throw new UnauthorizedError('INVALID_SIGNATURE', 'Webhook signature does not match');
  const now = opts.now ?? Math.floor(Date.now() / 1000);
  if (Math.abs(now - t) > opts.toleranceSeconds) {
    throw new UnauthorizedError('STALE_WEBHOOK', `Webhook timestamp is more than ${opts.toleranceSeconds} s from now`);
  }
}

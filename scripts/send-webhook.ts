/**
 * Sends a signed payment-provider webhook to a running server, as the provider would.
 *
 *   npx tsx scripts/send-webhook.ts <booking_id> [succeeded|failed] [amount_cents]
 *
 * SPOTCAST_URL             the server (default http://localhost:5000)
 * PAYMENT_WEBHOOK_SECRET   the shared secret; else the development secret that `npm start` keeps in
 *                          .data/dev-webhook-secret (of the working directory, else of this project)
 *
 * Without amount_cents it pays the booking's own amount, read with GET /bookings/:id using
 * SPOTCAST_TOKEN (the owner's or an admin's token), else an admin token minted from JWT_SECRET or
 * the development .data/dev-jwt-secret.
 *
 * Prints the HTTP status and the response body; exits 1 on a non-2xx answer, 2 on bad usage.
 */
import { randomUUID } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { mintToken } from '../server/platform/auth/tokens.js';
import { SIGNATURE_HEADER, signPayload } from '../server/features/payments/signature.js';

const USAGE = 'usage: npx tsx scripts/send-webhook.ts <booking_id> [succeeded|failed] [amount_cents]';
const PROJECT_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function fail(message: string, code: number): never {
  console.error(message);
  process.exit(code);
}

/** A development secret that `npm start` wrote: in the working directory's .data, else the project's. */
function devSecret(name: string): string | undefined {
  for (const dir of [path.resolve('.data'), path.join(PROJECT_ROOT, '.data')]) {
    const file = path.join(dir, name);
    if (!existsSync(file)) continue;
    const secret = readFileSync(file, 'utf8').trim();
    if (secret) return secret;
  }
  return undefined;
}

function webhookSecret(): string {
  const secret = process.env.PAYMENT_WEBHOOK_SECRET?.trim() || devSecret('dev-webhook-secret');
  return secret ?? fail('No webhook secret: set PAYMENT_WEBHOOK_SECRET, or start the server once with `npm start` (it writes .data/dev-webhook-secret)', 2);
}

function lookupToken(): string {
  const given = process.env.SPOTCAST_TOKEN?.trim();
  if (given) return given;
  const secret = process.env.JWT_SECRET?.trim() || devSecret('dev-jwt-secret');
  if (!secret) {
    return fail(`${USAGE}\nWithout amount_cents the booking's amount is read from the server: set SPOTCAST_TOKEN or JWT_SECRET, or give amount_cents.`, 2);
  }
  return mintToken({ secret, userId: randomUUID(), appRole: 'admin', expiresInSeconds: 60 });
}

/** Without an explicit amount: the booking's own. */
async function bookingAmount(baseUrl: string, bookingId: string): Promise<number> {
  const token = lookupToken();
  const res = await fetch(`${baseUrl}/bookings/${bookingId}`, { headers: { authorization: `Bearer ${token}` } });
  const body = (await res.json().catch(() => undefined)) as { data?: { booking?: { amount_cents?: number } } } | undefined;
  const amount = body?.data?.booking?.amount_cents;
  if (!res.ok || typeof amount !== 'number') {
    return fail(`Could not read booking ${bookingId} to find its amount: ${res.status} ${JSON.stringify(body)}`, 1);
  }
  return amount;
}

async function main(): Promise<void> {
  const [bookingId, outcome = 'succeeded', amountArg, ...extra] = process.argv.slice(2);
  if (!bookingId || extra.length > 0) fail(USAGE, 2);
  if (!UUID.test(bookingId)) fail(`booking_id must be a uuid, got "${bookingId}"\n${USAGE}`, 2);
  if (outcome !== 'succeeded' && outcome !== 'failed') fail(`outcome must be succeeded or failed, got "${outcome}"\n${USAGE}`, 2);
  if (amountArg !== undefined && !/^\d+$/.test(amountArg)) fail(`amount_cents must be a whole number of cents, got "${amountArg}"\n${USAGE}`, 2);

  const baseUrl = (process.env.SPOTCAST_URL ?? 'http://localhost:5000').replace(/\/+$/, '');
  const secret = webhookSecret();
  const amount = amountArg !== undefined ? Number(amountArg) : await bookingAmount(baseUrl, bookingId);

  const event = {
    id: `evt_${randomUUID()}`,
    type: `payment.${outcome}`,
    data: {
      booking_id: bookingId,
      payment_id: `pay_${randomUUID()}`,
      amount_cents: amount,
      currency: 'EUR',
      ...(outcome === 'failed' ? { failure_reason: 'card_declined (sent by scripts/send-webhook.ts)' } : {}),
    },
  };
  const body = JSON.stringify(event);
  const res = await fetch(`${baseUrl}/payments/webhook`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', [SIGNATURE_HEADER]: signPayload(secret, body) },
    body,
  });
  const text = await res.text();
  let shown = text;
  try {
    shown = JSON.stringify(JSON.parse(text), null, 2);
  } catch {
    // not JSON: print as is
  }
  console.log(`POST ${baseUrl}/payments/webhook (${event.type}, event ${event.id}, ${amount} cents) → ${res.status}`);
  console.log(shown);
  if (!res.ok) process.exitCode = 1;
}

main().catch((err: unknown) => {
  const cause = err instanceof Error && err.cause instanceof Error ? ` (${err.cause.message})` : '';
  const url = process.env.SPOTCAST_URL ?? 'http://localhost:5000';
  fail(`send-webhook failed against ${url}: ${err instanceof Error ? err.message : String(err)}${cause}`, 1);
});

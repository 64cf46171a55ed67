/**
 * What the conformance suites share: a real server, the app's RealtimeService built from the
 * document, real lots and bookings made through the REST API, a signed payment webhook, and
 * waiting for what a service or a snippet recorded.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import type { Server } from 'node:http';
import { signPayload, SIGNATURE_HEADER } from '../../server/features/payments/signature.js';
import { createLot } from '../helpers/fixtures.js';
import { startTestServer, TEST_WEBHOOK_SECRET, type TestServer } from '../helpers/server.js';
import { loadRealtimeService, type RecordingModule, type RecordingService } from './build.js';
import { waitUntil } from '../helpers/measure.js';
import { request } from '../helpers/http.js';

export interface World {
  server: TestServer;
  app: RecordingModule;
  admin: { id: string; token: string };
  close(): Promise<void>;
}

/** A server (with `env`) and the app's RealtimeService pointed at it by REACT_APP_BACKEND_URL. */
export async function startWorld(env: Record<string, string> = {}): Promise<World> {
  const server = await startTestServer(env);
  const app = await loadRealtimeService(server.url);
  const id = randomUUID();
  return {
    server,
    app,
    admin: { id, token: server.token(id, 'admin') },
    async close() {
      for (const s of app.services) s.socket.disconnect();
      await server.stop();
    },
  };
}

/** Disconnects the services a test made, and waits until the server has let go of them. */
export async function disconnectAll(world: World): Promise<void> {
  for (const s of world.app.services.splice(0)) s.socket.disconnect();
  await waitUntil(() => world.server.app.io.of('/').sockets.size === 0, 5000, 'the server to drop every socket');
}

export const user = (world: World): { id: string; token: string } => {
  const id = randomUUID();
  return { id, token: world.server.token(id) };
};

/** Resolves with the first item from `from` on that matches: waits for it to be recorded. */
export async function next<T>(list: T[], match: (item: T) => boolean, what: string, from = 0): Promise<T> {
  let found: T | undefined;
  await waitUntil(() => (found = list.slice(from).find(match)) !== undefined, 5000, what);
  return found!;
}

/** The next event of that name the service's socket received after `from`. */
export const received = (s: RecordingService, event: string, match: (data: any) => boolean = () => true, from = 0) =>
  next(s.received, (r) => r.event === event && match(r.data), `${event} on the service's socket`, from);

/** The next call of that UI method after `from`, with its data. */
export const shown = async (s: RecordingService, method: string, match: (data: any) => boolean = () => true, from = 0) =>
  (await next(s.ui, (c) => c.method === method && match(c.data), `a ${method} call`, from)).data;

export async function connected(s: RecordingService): Promise<any> {
  return shown(s, 'handleConnection');
}

/** A lot of the test's own at 4.00 an hour (so a booking has an amount to pay). */
export async function lot(world: World, opts: { total?: number } = {}): Promise<string> {
  const id = await createLot(world.server.db, opts);
  await world.server.db.asSystem((tx) => tx.query('update public.parking_lots set hourly_rate_cents = 400 where id = $1', [id]));
  return id;
}

/** A pending one-hour booking, starting in an hour, made through the REST API as the user would. */
export async function book(world: World, token: string, lotId: string): Promise<{ id: string; amount_cents: number }> {
  const starts_at = new Date(Date.now() + 3_600_000).toISOString();
  const res = await request(world.server, 'POST', '/bookings', { token, body: { parking_lot_id: lotId, starts_at, duration_minutes: 60 } });
  assert.equal(res.status, 201, JSON.stringify(res.body));
  return res.body.data.booking;
}

/** The payment provider's signed `payment.succeeded` webhook for the booking. */
export async function pay(world: World, booking: { id: string; amount_cents: number }): Promise<void> {
  const body = JSON.stringify({
    id: `evt_${randomUUID()}`,
    type: 'payment.succeeded',
    data: { booking_id: booking.id, payment_id: `pay_${randomUUID()}`, amount_cents: booking.amount_cents },
  });
  const res = await request(world.server, 'POST', '/payments/webhook', {
    rawBody: body,
    headers: { [SIGNATURE_HEADER]: signPayload(TEST_WEBHOOK_SECRET, body) },
  });
  assert.equal(res.status, 200, JSON.stringify(res.body));
}

/** An admin's availability edit: the `PUT /realtime/parking-lots/:id/availability` of the document. */
export async function setAvailability(world: World, lotId: string, available: number): Promise<void> {
  const res = await request(world.server, 'PUT', `/realtime/parking-lots/${lotId}/availability`, {
    token: world.admin.token,
    body: { available_spaces: available },
  });
  assert.equal(res.status, 200, JSON.stringify(res.body));
}

/** Asserts the payload has every field the document names for it (more are allowed). */
export function assertFields(payload: unknown, fields: string[], what: string): void {
  assert.ok(payload !== null && typeof payload === 'object', `${what}: not an object: ${JSON.stringify(payload)}`);
  const missing = fields.filter((f) => (payload as Record<string, unknown>)[f] === undefined);
  assert.deepEqual(missing, [], `${what} lacks ${missing.join(', ')}: ${JSON.stringify(payload).slice(0, 300)}`);
}

/**
 * Holds every WebSocket upgrade at the server's HTTP layer until released, as a slow network
 * would, so that a client's first exchanges certainly travel over long-polling.
 */
export function holdUpgrades(httpServer: Server): () => void {
  type Listener = (...args: unknown[]) => void;
  const listeners = httpServer.listeners('upgrade') as Listener[];
  const held: unknown[][] = [];
  const gate: Listener = (...args) => held.push(args);
  httpServer.removeAllListeners('upgrade');
  httpServer.on('upgrade', gate);
  return () => {
    httpServer.off('upgrade', gate);
    for (const l of listeners) httpServer.on('upgrade', l);
    for (const args of held) for (const l of listeners) l.apply(httpServer, args);
  };
}

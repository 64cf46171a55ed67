/**
 * `npm run bench -- --soak` (issue 12): a long run of a city-like mixed load on one node, to see
 * whether anything grows that should not. Clients subscribed to 1–3 lots (10 % to
 * `parking_updates`), hardware changing lots' availability at a steady rate, bookings made and
 * cancelled, and a steady trickle of clients dropping and resuming with `last_seq`. Every minute:
 * the node's heap after a forced GC, its RSS, event-loop delay, pool waits, what was delivered.
 * At the end, every client must hold each of its rooms' streams up to the head, with no gap and
 * no event twice.
 */
import { randomUUID } from 'node:crypto';
import { io, type Socket } from 'socket.io-client';
import { mintToken } from '../../server/platform/auth/tokens.js';
import { BENCH_SECRET, createLots, sleep, sql, startSpotcast, type BenchContext, type Server } from './lib/harness.js';
import type { Options } from './lib/options.js';
import { SoakTracker, type Delivered } from './soak-tracker.js';

export interface SoakSample {
  minute: number;
  heapMiB: number;
  rssMiB: number;
  loopP99Ms: number;
  poolWaitingMax: number;
  sockets: number;
  delivered: number;
  reconnects: number;
  bookings: number;
  availabilityChanges: number;
}

export interface SoakResults {
  minutes: number;
  clients: number;
  lots: number;
  samples: SoakSample[];
  /** Least-squares slope of the heap after GC from the end of warm-up on, MiB per 10 minutes. */
  heapSlopeMiBPer10Min: number;
  warmupMinutes: number;
  delivered: number;
  duplicates: number;
  outOfOrder: number;
  snapshots: number;
  /** Events up to their stream's head at the end that a client never got. */
  lost: number;
  /** Of those, the ones of clients left out of a room by a subscribe refused five times (or a drop during it). */
  lostUnsubscribed: number;
  errors: Record<string, number>;
}

const ADMIN_RATE = 20; // availability changes per second
const BOOKERS = 20; // each books every ~2 s and cancels 5 s later
const RECONNECT_SHARE_PER_S = 0.01;

interface Client {
  socket: Socket;
  /** The rooms it subscribes to: lot rooms, or `parking_updates` (every lot's stream). */
  rooms: string[];
  tracker: SoakTracker;
  token: string;
  dropped?: boolean;
}

function tokenFor(role: 'user' | 'admin'): string {
  return mintToken({ secret: BENCH_SECRET, userId: randomUUID(), appRole: role, expiresInSeconds: 12 * 3600 });
}

async function connected(url: string, token: string): Promise<Socket> {
  const socket = io(url, { transports: ['websocket'], reconnection: false, forceNew: true, auth: { token } });
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('no connection')), 30_000);
    socket.once('connected', () => (clearTimeout(timer), resolve()));
    socket.once('connect_error', (err) => (clearTimeout(timer), reject(err)));
  });
  return socket;
}

async function emitAck(socket: Socket, event: string, payload: unknown): Promise<{ ok: boolean; data?: any; error?: { code: string } }> {
  return (await socket.timeout(30_000).emitWithAck(event, payload).catch((e: unknown) => ({ ok: false, error: { code: String(e) } }))) as never;
}

/**
 * Subscribes a client to its rooms, resuming each from what it holds. A refused subscribe is
 * tried again a second later, as a client would (the resume asks for everything since upTo again).
 */
async function subscribeAll(c: Client, resume: boolean): Promise<void> {
  for (const room of c.rooms) {
    for (let attempt = 1; ; attempt++) {
      const last = c.tracker.lastSeq(room);
      const answer = await emitAck(c.socket, 'subscribe', resume && last !== undefined ? { room, last_seq: last } : { room });
      if (answer.ok) break;
      c.tracker.error(`subscribe ${answer.error?.code}`);
      if (attempt === 5 || !c.socket.connected) {
        c.tracker.unsubscribed = true;
        break;
      }
      await sleep(1000);
    }
  }
}

function listen(c: Client): void {
  const onEvent = (p: Delivered) => c.tracker.deliver(p);
  c.socket.on('parking_updated', onEvent);
  c.socket.on('room_snapshot', (p: { room: string; seq: number }) => c.tracker.snapshot(p.room, p.seq));
  // Dropped by the server or the network (not by us): the soak's loop resumes it, as
  // socket.io-client's own reconnection would.
  c.socket.on('disconnect', (reason) => {
    if (reason === 'io client disconnect') return;
    c.tracker.error(`dropped: ${reason}`);
    c.dropped = true;
  });
}

async function reconnect(url: string, c: Client): Promise<void> {
  c.dropped = false;
  c.socket.disconnect();
  await sleep(Math.random() * 2000);
  c.socket = await connected(url, c.token);
  listen(c);
  await subscribeAll(c, true);
}

export async function soakScenario(ctx: BenchContext, o: Options): Promise<SoakResults> {
  const lotIds = await createLots(ctx.databaseUrl, o.soakLots, { total: 200, label: 'soak' });
  const server: Server = await startSpotcast(ctx, 'soak', { redis: Boolean(ctx.redisUrl), flags: { gc: true } });
  ctx.onCleanup('stop the soak node', () => server.child.stop());
  const lotRooms = lotIds.map((id) => `parking_lot:${id}`);
  const heads = await streamHeads(ctx);
  const clients: Client[] = [];
  for (let i = 0; i < o.soakClients; i++) {
    const rooms = i % 10 === 0 ? ['parking_updates'] : pickSome(lotRooms, 1 + (i % 3));
    const token = tokenFor('user');
    const c = { socket: await connected(server.url, token), rooms, tracker: new SoakTracker(heads, rooms[0] === 'parking_updates' ? lotRooms : rooms), token };
    listen(c);
    await subscribeAll(c, false);
    clients.push(c);
  }
  // `parking_updates` has no seq of its own to resume from (its events belong to each lot's
  // stream): those clients stay connected, and are checked for every lot's stream.
  const resumable = clients.filter((c) => c.rooms[0] !== 'parking_updates');
  ctx.log(`  soak: ${clients.length} clients on ${lotIds.length} lots; running ${o.soakMinutes} min`);

  const admin = await connected(server.url, tokenFor('admin'));
  const bookers = await Promise.all(Array.from({ length: BOOKERS }, () => connected(server.url, tokenFor('user'))));
  const counters = { reconnects: 0, bookings: 0, availabilityChanges: 0 };
  const errors: Record<string, number> = {};
  const fail = (what: string) => (errors[what] = (errors[what] ?? 0) + 1);
  let running = true;
  const loops: Promise<void>[] = [];

  loops.push((async () => {
    while (running) {
      const lot = pickSome(lotIds, 1)[0]!;
      const a = await emitAck(admin, 'set_parking_availability', { parking_lot_id: lot, out_of_service: Math.floor(Math.random() * 5) });
      if (a.ok) counters.availabilityChanges++;
      else fail(`set_parking_availability ${a.error?.code}`);
      await sleep(1000 / ADMIN_RATE);
    }
  })());
  for (const booker of bookers) {
    loops.push((async () => {
      while (running) {
        const lot = pickSome(lotIds, 1)[0]!;
        const made = await emitAck(booker, 'create_booking', { parking_lot_id: lot, duration_minutes: 30 });
        if (!made.ok) fail(`create_booking ${made.error?.code}`);
        else {
          counters.bookings++;
          await sleep(5000);
          const cancelled = await emitAck(booker, 'cancel_booking', { booking_id: made.data.booking.id });
          if (!cancelled.ok) fail(`cancel_booking ${cancelled.error?.code}`);
        }
        await sleep(Math.random() * 2000);
      }
    })());
  }
  loops.push((async () => {
    while (running) {
      const n = Math.max(1, Math.round(resumable.length * RECONNECT_SHARE_PER_S));
      const again = resumable.filter((c) => c.dropped);
      await Promise.all(
        [...new Set([...again, ...pickSome(resumable, n)])].map((c) =>
          reconnect(server.url, c).then(
            () => void counters.reconnects++,
            (err: unknown) => fail(`reconnect ${(err as Error).message}`),
          ),
        ),
      );
      await sleep(1000);
    }
  })());

  const samples: SoakSample[] = [];
  let deliveredBefore = 0;
  const taken = { ...counters };
  for (let minute = 1; minute <= o.soakMinutes; minute++) {
    let poolWaitingMax = 0;
    for (let s = 0; s < 6; s++) {
      await sleep(10_000);
      poolWaitingMax = Math.max(poolWaitingMax, await poolWaiting(server));
    }
    const mem = await server.child.call<{ heapUsed: number; rss: number; sockets: number }>('mem');
    const stats = await server.child.call<{ loopDelayP99Ms: number }>('stats');
    const delivered = clients.reduce((n, c) => n + c.tracker.delivered, 0);
    samples.push({
      minute,
      heapMiB: mem.heapUsed / 2 ** 20,
      rssMiB: mem.rss / 2 ** 20,
      loopP99Ms: stats.loopDelayP99Ms,
      poolWaitingMax,
      sockets: mem.sockets,
      delivered: delivered - deliveredBefore,
      reconnects: counters.reconnects - taken.reconnects,
      bookings: counters.bookings - taken.bookings,
      availabilityChanges: counters.availabilityChanges - taken.availabilityChanges,
    });
    Object.assign(taken, counters);
    deliveredBefore = delivered;
    ctx.log(`  soak minute ${minute}: heap ${(mem.heapUsed / 2 ** 20).toFixed(1)} MiB, rss ${(mem.rss / 2 ** 20).toFixed(0)} MiB, loop p99 ${stats.loopDelayP99Ms.toFixed(1)} ms`);
  }
  running = false;
  await Promise.all(loops);
  // Let the last events arrive (and the sweep deliver anything stranded), then compare with the heads.
  await sleep(5000);
  const finalHeads = await streamHeads(ctx);
  const lost = clients.reduce((n, c) => n + c.tracker.lost(finalHeads), 0);
  for (const c of clients) if (c.dropped) c.tracker.unsubscribed = true;
  const lostUnsubscribed = clients.filter((c) => c.tracker.unsubscribed).reduce((n, c) => n + c.tracker.lost(finalHeads), 0);
  for (const c of clients) for (const [k, v] of Object.entries(c.tracker.errors)) errors[k] = (errors[k] ?? 0) + v;
  for (const c of [...clients.map((x) => x.socket), admin, ...bookers]) c.disconnect();

  const warmupMinutes = Math.min(5, Math.floor(o.soakMinutes / 3));
  return {
    minutes: o.soakMinutes,
    clients: clients.length,
    lots: lotIds.length,
    samples,
    heapSlopeMiBPer10Min: slope(samples.filter((s) => s.minute > warmupMinutes).map((s) => [s.minute, s.heapMiB])) * 10,
    warmupMinutes,
    delivered: clients.reduce((n, c) => n + c.tracker.delivered, 0),
    duplicates: clients.reduce((n, c) => n + c.tracker.duplicates, 0),
    outOfOrder: clients.reduce((n, c) => n + c.tracker.outOfOrder, 0),
    snapshots: clients.reduce((n, c) => n + c.tracker.snapshots, 0),
    lost,
    lostUnsubscribed,
    errors,
  };
}

async function streamHeads(ctx: BenchContext): Promise<Map<string, number>> {
  const { rows } = await sql(ctx.databaseUrl, `select stream, last_seq from public.stream_sequences where stream like 'parking_lot:%'`);
  return new Map(rows.map((r: { stream: string; last_seq: string }) => [r.stream, Number(r.last_seq)]));
}

function pickSome<T>(xs: readonly T[], n: number): T[] {
  const copy = [...xs];
  for (let i = copy.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [copy[i], copy[j]] = [copy[j]!, copy[i]!];
  }
  return copy.slice(0, n);
}

async function poolWaiting(server: Server): Promise<number> {
  const text = await (await fetch(`${server.url}/metrics`, { headers: { authorization: 'Bearer bench-metrics-token-0123456789' } })).text();
  const line = text.split('\n').find((l) => l.startsWith('spotcast_db_pool_connections') && l.includes('waiting'));
  return line ? Number(line.split(' ').at(-1)) : NaN;
}

/** Least-squares slope of y over x. */
export function slope(points: [number, number][]): number {
  const n = points.length;
  if (n < 2) return NaN;
  const mx = points.reduce((a, p) => a + p[0], 0) / n;
  const my = points.reduce((a, p) => a + p[1], 0) / n;
  const num = points.reduce((a, p) => a + (p[0] - mx) * (p[1] - my), 0);
  const den = points.reduce((a, p) => a + (p[0] - mx) ** 2, 0);
  return num / den;
}

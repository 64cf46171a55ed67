/**
 * The bystander scenario's client processes, driven over IPC: one runs a bystander (an ordinary
 * user asking get_parking_availability at a steady rate and timing each ack), another the
 * attacks of issue 12, each staying inside every per-socket and per-user rate limit:
 * - `requestFlood`: one user's sockets that read, asking for the last 1,000 events over and over
 *   (or, for reference, for the lot's availability: what any user may do at the same rate);
 * - `slowReaders`: the same from raw WebSockets whose TCP sockets are never read (reconnecting
 *   when the server closes them);
 * - `handshakeFlood`: raw long-polling handshakes that never authenticate, from one address or
 *   from many (X-Forwarded-For, which the server trusts from loopback);
 * - `legitConnect`: meanwhile, an ordinary client from an address of its own.
 */
import { randomUUID } from 'node:crypto';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { io, type Socket } from 'socket.io-client';
import WebSocket from 'ws';
import { mintToken } from '../../server/platform/auth/tokens.js';
import { serve, wallNow } from './lib/ipc.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const tokenFor = (secret: string, userId = randomUUID()) => mintToken({ secret, userId, expiresInSeconds: 6 * 3600 });
const open = new Set<{ close(): void }>();

function connectClient(url: string, token: string, headers?: Record<string, string>): Promise<Socket> {
  const socket = io(url, { auth: { token }, transports: ['websocket'], reconnection: false, forceNew: true, ...(headers ? { extraHeaders: headers } : {}) });
  open.add(socket);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('no connected within 15 s')), 15_000);
    socket.once('connected', () => (clearTimeout(timer), resolve(socket)));
    socket.once('connect_error', (err: Error & { data?: { code?: string } }) => (clearTimeout(timer), socket.close(), reject(new Error(err.data?.code ?? err.message))));
  });
}

// ---- the bystander ---------------------------------------------------------------------------

let bystander: { socket: Socket; samples: number[]; timeouts: number; errors: number; timer: NodeJS.Timeout } | undefined;
/** The bystander process's own event-loop delay: how much of its latency is its own wait for a CPU. */
const lag = monitorEventLoopDelay({ resolution: 10 });

async function bystanderStart(a: { url: string; secret: string; lotId: string; rate: number }) {
  const socket = await connectClient(a.url, tokenFor(a.secret));
  const b = { socket, samples: [] as number[], timeouts: 0, errors: 0, timer: setInterval(() => ask(), 1000 / a.rate) };
  const ask = () => {
    const t0 = wallNow();
    socket.timeout(10_000).emit('get_parking_availability', { parking_lot_id: a.lotId }, (err: Error | null, res?: { ok: boolean }) => {
      if (err) b.timeouts++;
      else if (!res?.ok) b.errors++;
      else b.samples.push(wallNow() - t0);
    });
  };
  bystander = b;
  lag.enable();
  return { ok: true };
}

/** The ack latencies (ms) since the last take, and the acks that timed out or failed. */
function bystanderTake() {
  if (!bystander) throw new Error('no bystander');
  const out = {
    samples: Float64Array.from(bystander.samples),
    timeouts: bystander.timeouts,
    errors: bystander.errors,
    connected: bystander.socket.connected,
    lagP99Ms: lag.percentile(99) / 1e6,
  };
  Object.assign(bystander, { samples: [], timeouts: 0, errors: 0 });
  lag.reset();
  return out;
}

// ---- attacks -------------------------------------------------------------------------------

interface FloodArgs {
  url: string;
  secret: string;
  lotId: string;
  /** last_seq sent: head − 1,000. */
  from: number;
  sockets: number;
  perSocketRate: number;
  durationMs: number;
}

/** Subscribes with `from` at `rate` per second until `until`; counts the answers. */
async function pace(rate: number, until: number, send: () => void): Promise<void> {
  const gap = 1000 / rate;
  for (let next = wallNow(); wallNow() < until; next += gap) {
    send();
    const wait = next + gap - wallNow();
    if (wait > 0) await sleep(wait);
  }
}

/** One user's reading sockets asking, within the rate limits, for a replay of the last 1,000 events (or, for reference, for availability). */
async function requestFlood(a: FloodArgs & { ask: 'replay' | 'availability' }) {
  const token = tokenFor(a.secret);
  const count = { requests: 0, ok: 0, replays: 0, snapshots: 0, refused: 0, events: 0, disconnects: 0 };
  const sockets = await Promise.all(Array.from({ length: a.sockets }, () => connectClient(a.url, token)));
  const [event, payload] =
    a.ask === 'replay' ? ['subscribe', { room: `parking_lot:${a.lotId}`, last_seq: a.from }] : ['get_parking_availability', { parking_lot_id: a.lotId }];
  const until = wallNow() + a.durationMs;
  await Promise.all(
    sockets.map((s) => {
      s.on('parking_updated', () => count.events++);
      s.on('disconnect', () => count.disconnects++);
      return pace(a.perSocketRate, until, () => {
        count.requests++;
        s.emit(event, payload, (res: { ok: boolean; data?: { replay?: { snapshot: boolean } } }) => {
          if (!res.ok) count.refused++;
          else if (!res.data?.replay) count.ok++;
          else if (res.data.replay.snapshot) count.snapshots++;
          else count.replays++;
        });
      });
    }),
  );
  for (const s of sockets) s.close();
  return count;
}

/** A raw Socket.IO WebSocket client that authenticates, then never reads again. */
function stalledSocket(url: string, token: string, onClose: () => void): Promise<WebSocket> {
  const ws = new WebSocket(`${url.replace(/^http/, 'ws')}/socket.io/?EIO=4&transport=websocket`);
  open.add({ close: () => ws.terminate() });
  ws.on('error', () => undefined);
  ws.once('close', onClose);
  return new Promise((resolve, reject) => {
    ws.on('message', (data) => {
      const text = data.toString();
      if (text.startsWith('0')) ws.send(`40${JSON.stringify({ token })}`);
      else if (text.startsWith('44')) reject(new Error(text));
      else if (text.startsWith('42["connected"')) {
        (ws as unknown as { _socket: { pause(): void } })._socket.pause();
        resolve(ws);
      }
    });
    ws.once('close', () => reject(new Error('closed before connected')));
  });
}

async function slowReaders(a: FloodArgs) {
  const token = tokenFor(a.secret);
  const count = { requests: 0, closedByServer: 0, reconnects: 0, refusedReconnects: 0 };
  const until = wallNow() + a.durationMs;
  const packet = `42${JSON.stringify(['subscribe', { room: `parking_lot:${a.lotId}`, last_seq: a.from }])}`;
  const one = async () => {
    while (wallNow() < until) {
      let closed = false;
      const ws = await stalledSocket(a.url, token, () => (closed = true)).catch(() => undefined);
      if (!ws) {
        count.refusedReconnects++;
        await sleep(1000);
        continue;
      }
      await pace(a.perSocketRate, until, () => {
        if (closed) throw new Error('closed');
        count.requests++;
        ws.send(packet);
      }).catch(() => undefined);
      if (closed) count.closedByServer++;
      else ws.terminate();
      if (wallNow() < until) count.reconnects++;
    }
  };
  await Promise.all(Array.from({ length: a.sockets }, one));
  return count;
}

async function handshakeFlood(a: { url: string; durationMs: number; concurrency: number; addresses: number }) {
  const statuses: Record<string, number> = {};
  let attempts = 0;
  const until = wallNow() + a.durationMs;
  const worker = async (w: number) => {
    for (let i = 0; wallNow() < until; i++) {
      const ip = `10.${(w + i) % a.addresses >> 8}.${(w + i) % a.addresses & 255}.7`;
      attempts++;
      const key = await fetch(`${a.url}/socket.io/?EIO=4&transport=polling`, { headers: { 'x-forwarded-for': ip } })
        .then(async (res) => (await res.text(), String(res.status)))
        .catch((err: Error) => err.message);
      statuses[key] = (statuses[key] ?? 0) + 1;
    }
  };
  await Promise.all(Array.from({ length: a.concurrency }, (_, w) => worker(w)));
  return { attempts, statuses, perSec: attempts / (a.durationMs / 1000) };
}

/** An ordinary client connecting from an address of its own: how long it took, or why it failed. */
async function legitConnect(a: { url: string; secret: string; ip: string }) {
  const t0 = wallNow();
  try {
    const s = await connectClient(a.url, tokenFor(a.secret), { 'x-forwarded-for': a.ip });
    s.close();
    return { ok: true, ms: wallNow() - t0 };
  } catch (err) {
    return { ok: false, ms: wallNow() - t0, error: (err as Error).message };
  }
}

serve(
  { bystanderStart, bystanderTake, requestFlood, slowReaders, handshakeFlood, legitConnect },
  { pid: process.pid },
  async () => {
    if (bystander) clearInterval(bystander.timer);
    for (const c of open) c.close();
  },
);

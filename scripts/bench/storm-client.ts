/**
 * A load process of the reconnect-storm scenario (scripts/bench/storm.ts): holds N clients, each
 * its own user behind the same balancer (X-Forwarded-For: an address of its own, as a trusted
 * proxy would send), subscribed to a lot room through the handshake (`auth.last_seq`). `storm`
 * reconnects every client at once, each resuming from the last seq it saw, and records when each
 * was connected and when it had caught up (its `resumed` answer, after the replayed events).
 */
import { randomUUID } from 'node:crypto';
import { io, type Socket } from 'socket.io-client';
import { mintToken } from '../../server/platform/auth/tokens.js';
import { serve, wallNow } from './lib/ipc.js';

interface Client {
  n: number;
  room: string | undefined;
  token: string | undefined;
  seq: number;
  events: number;
  socket: Socket | undefined;
}

let clients: Client[] = [];

/** The address a balancer would put in X-Forwarded-For for client n (10.0.0.0/8, distinct per client). */
const addressOf = (n: number) => `10.${(n >> 16) & 255}.${(n >> 8) & 255}.${n & 255}`;

interface Outcome {
  error: string | null;
  connectedAt: number;
  caughtUpAt: number;
}

/** Opens the client's socket; resolves when it is connected and (spotcast) has its `resumed` answer. */
function open(c: Client, url: string, timeoutMs: number): Promise<Outcome> {
  const auth: Record<string, unknown> = c.token ? { token: c.token, ...(c.room ? { last_seq: { [c.room]: c.seq } } : {}) } : {};
  const socket = io(url, {
    transports: ['websocket'],
    reconnection: false,
    forceNew: true,
    timeout: timeoutMs,
    auth,
    extraHeaders: { 'x-forwarded-for': addressOf(c.n) },
  });
  c.socket = socket;
  socket.on('parking_updated', (p: { room?: string; seq?: number }) => {
    if (p.room !== c.room || typeof p.seq !== 'number') return;
    c.events++;
    if (p.seq > c.seq) c.seq = p.seq;
  });
  return new Promise<Outcome>((resolve) => {
    let connectedAt = NaN;
    const timer = setTimeout(() => resolve({ error: 'timeout', connectedAt, caughtUpAt: NaN }), timeoutMs);
    const done = (o: Outcome) => {
      clearTimeout(timer);
      resolve(o);
    };
    socket.once(c.token ? 'connected' : 'connect', () => {
      connectedAt = wallNow();
      if (!c.token) done({ error: null, connectedAt, caughtUpAt: connectedAt });
    });
    socket.once('resumed', (r: { rooms: { seq: number }[]; failed: { code: string }[] }) => {
      if (r.failed.length > 0) return done({ error: `resume ${r.failed[0]!.code}`, connectedAt, caughtUpAt: NaN });
      for (const room of r.rooms) if (room.seq > c.seq) c.seq = room.seq;
      done({ error: null, connectedAt, caughtUpAt: wallNow() });
    });
    socket.once('connect_error', (err: Error & { data?: { code?: string } }) =>
      done({ error: `${err.message}${err.data?.code ? ` (${err.data.code})` : ''}`, connectedAt, caughtUpAt: NaN }),
    );
  });
}

/** Runs `work` over items with at most `limit` in flight. */
async function pool<T>(items: T[], limit: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) await work(items[next++]!);
    }),
  );
}

interface ConnectArgs {
  url: string;
  count: number;
  /** First client number of this process (distinct addresses across processes). */
  first: number;
  secret?: string;
  rooms: string[];
  concurrency: number;
  timeoutMs: number;
}

async function run(list: Client[], url: string, concurrency: number, timeoutMs: number) {
  const started = wallNow();
  const connected: number[] = [];
  const caughtUp: number[] = [];
  const errors: Record<string, number> = {};
  await pool(list, concurrency, async (c) => {
    const o = await open(c, url, timeoutMs);
    if (o.error) {
      errors[o.error] = (errors[o.error] ?? 0) + 1;
      c.socket?.close();
      c.socket = undefined;
      return;
    }
    connected.push(o.connectedAt - started);
    caughtUp.push(o.caughtUpAt - started);
  });
  return { started, connected, caughtUp, errors, events: list.reduce((s, c) => s + c.events, 0) };
}

serve(
  {
    /** `count` clients, each its own user subscribed (through the handshake) to one of `rooms` from seq 0. */
    async connect(a: ConnectArgs) {
      clients = Array.from({ length: a.count }, (_, i) => ({
        n: a.first + i,
        room: a.secret ? a.rooms[(a.first + i) % a.rooms.length] : undefined,
        token: a.secret ? mintToken({ secret: a.secret, userId: randomUUID(), appRole: 'user', expiresInSeconds: 6 * 3600 }) : undefined,
        seq: 0,
        events: 0,
        socket: undefined,
      }));
      return run(clients, a.url, a.concurrency, a.timeoutMs);
    },
    /** Every client's connection is gone (its node stopped): forget the sockets, keep what each saw. */
    drop() {
      let open = 0;
      for (const c of clients) {
        if (c.socket?.connected) open++;
        c.socket?.close();
        c.socket = undefined;
        c.events = 0;
      }
      return { stillOpen: open };
    },
    /** All clients at once (up to `concurrency` handshakes in flight), each resuming from its last seq. */
    storm(a: { url: string; concurrency: number; timeoutMs: number }) {
      return run(clients, a.url, a.concurrency, a.timeoutMs);
    },
    seqs() {
      const bySeq: Record<number, number> = {};
      for (const c of clients) bySeq[c.seq] = (bySeq[c.seq] ?? 0) + 1;
      return bySeq;
    },
    close() {
      for (const c of clients) c.socket?.close();
      clients = [];
      return null;
    },
  },
  { pid: process.pid },
  async () => {
    for (const c of clients) c.socket?.close();
  },
);

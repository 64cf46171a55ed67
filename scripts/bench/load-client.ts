/**
 * A load-generating process: holds groups of Socket.IO client sockets (to spotcast or the bare
 * server), subscribes them, records when each broadcast arrives (on the shared wall clock,
 * performance.timeOrigin + performance.now()), and runs booking loops over sockets or straight
 * over pg. Driven by the orchestrator over IPC; several of these run side by side so the load
 * generator does not share the server's event loop (nor one event loop of its own).
 */
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { io, type Socket } from 'socket.io-client';
import { mintToken } from '../../server/platform/auth/tokens.js';
import { serve, wallNow } from './lib/ipc.js';
import { cityHandlers, listenBySeq } from './city-client.js';
import { parseStamp } from './lib/stats.js';

interface Group {
  sockets: Socket[];
  userIds: string[];
}

const groups = new Map<string, Group>();
/** key → arrival times, and for payloads with a DB `timestamp`, arrival minus that timestamp. */
const arrivals = new Map<string, number[]>();
const sinceStamp = new Map<string, number[]>();
/**
 * key → the sockets (by number) that already have it: a second copy of an event on one socket
 * (the outbox sweeper re-emitting what was not yet marked dispatched) is counted, not timed, as a
 * client dropping duplicates by seq would.
 */
const seenBy = new Map<string, Set<number>>();
const duplicates = new Map<string, number>();
let socketNumber = 0;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function note(key: string, stamp: unknown, socket: number): void {
  const now = wallNow();
  let seen = seenBy.get(key);
  if (!seen) seenBy.set(key, (seen = new Set()));
  if (seen.has(socket)) {
    duplicates.set(key, (duplicates.get(key) ?? 0) + 1);
    return;
  }
  seen.add(socket);
  let list = arrivals.get(key);
  if (!list) arrivals.set(key, (list = []));
  list.push(now);
  if (typeof stamp === 'string') {
    let lat = sinceStamp.get(key);
    if (!lat) sinceStamp.set(key, (lat = []));
    lat.push(now - parseStamp(stamp));
  }
}

function listen(socket: Socket, keyBy: 'value' | 'seq' = 'value'): void {
  const n = socketNumber++;
  if (keyBy === 'seq') return listenBySeq(socket, n, note);
  socket.on('parking_updated', (p: { parking_lot_id: string; action: string; available_spaces: number; timestamp?: string }) =>
    note(`${p.parking_lot_id}|${p.action}|${p.available_spaces}`, p.timestamp, n),
  );
  socket.on('system_announcement', (p: { message: string }) => note(p.message, undefined, n));
}

/** Runs `work` over items with at most `limit` in flight. */
async function pool<T>(items: T[], limit: number, work: (item: T, i: number) => Promise<void>): Promise<void> {
  let next = 0;
  const runners = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const i = next++;
      await work(items[i]!, i);
    }
  });
  await Promise.all(runners);
}

interface ConnectArgs {
  group: string;
  url: string;
  count: number;
  /** With a secret: a spotcast socket with a token of its own user (waits for `connected`); without: bare. */
  secret?: string;
  admin?: boolean;
  concurrency?: number;
  timeoutMs?: number;
  /** `seq`: parking_updated recorded by stream and seq (the city workload) instead of lot|action|value. */
  keyBy?: 'value' | 'seq';
}

async function connect(args: ConnectArgs) {
  const group = groups.get(args.group) ?? { sockets: [], userIds: [] };
  groups.set(args.group, group);
  const started = wallNow();
  let ok = 0;
  const errors = new Map<string, number>();
  await pool(Array.from({ length: args.count }), args.concurrency ?? 50, async () => {
    const userId = randomUUID();
    const token = args.secret
      ? mintToken({ secret: args.secret, userId, appRole: args.admin ? 'admin' : 'user', expiresInSeconds: 6 * 3600 })
      : undefined;
    const socket = io(args.url, {
      transports: ['websocket'],
      reconnection: false,
      forceNew: true,
      timeout: args.timeoutMs ?? 30_000,
      auth: token ? { token } : {},
    });
    listen(socket, args.keyBy);
    const ready = token ? 'connected' : 'connect';
    const outcome = await new Promise<string | null>((resolve) => {
      const timer = setTimeout(() => resolve('timeout'), args.timeoutMs ?? 30_000);
      socket.once(ready, () => (clearTimeout(timer), resolve(null)));
      socket.once('connect_error', (err: Error & { data?: { code?: string } }) => (clearTimeout(timer), resolve(`${err.message}${err.data?.code ? ` (${err.data.code})` : ''}`)));
    });
    if (outcome === null) {
      ok++;
      group.sockets.push(socket);
      group.userIds.push(userId);
    } else {
      socket.close();
      errors.set(outcome, (errors.get(outcome) ?? 0) + 1);
    }
  });
  return { ok, failed: args.count - ok, errors: Object.fromEntries(errors), ms: wallNow() - started, total: group.sockets.length };
}

async function subscribe(args: { group: string; from: number; count: number; room: string; concurrency?: number }) {
  const group = mustGroup(args.group);
  const targets = group.sockets.slice(args.from, args.from + args.count);
  let ok = 0;
  const errors = new Map<string, number>();
  await pool(targets, args.concurrency ?? 50, async (s) => {
    const answer = (await s.timeout(30_000).emitWithAck('subscribe', { room: args.room }).catch((e: unknown) => ({ ok: false, error: { code: String(e) } }))) as {
      ok: boolean;
      error?: { code: string };
    };
    if (answer.ok) ok++;
    else errors.set(answer.error?.code ?? 'unknown', (errors.get(answer.error?.code ?? 'unknown') ?? 0) + 1);
  });
  return { ok, failed: targets.length - ok, errors: Object.fromEntries(errors) };
}

function mustGroup(name: string): Group {
  const g = groups.get(name);
  if (!g) throw new Error(`no socket group ${name}`);
  return g;
}

/** Resolves when every key arrived `expected` times (or at the timeout), with the counts. */
async function wait(args: { keys: string[]; expected: number; timeoutMs: number }) {
  const deadline = Date.now() + args.timeoutMs;
  const done = () => args.keys.every((k) => (arrivals.get(k)?.length ?? 0) >= args.expected);
  while (!done() && Date.now() < deadline) await sleep(5);
  return { complete: done(), counts: args.keys.map((k) => arrivals.get(k)?.length ?? 0) };
}

/**
 * Takes (and forgets) the arrivals of the keys given (or of every key starting with `prefix`):
 * latencies from `t0[key]` when given, else from the payload's DB timestamp; first/last arrival.
 */
function collect(args: { keys?: string[]; prefix?: string; t0?: Record<string, number>; latencies?: boolean }) {
  const keys = args.keys ?? [...arrivals.keys()].filter((k) => args.prefix !== undefined && k.startsWith(args.prefix));
  let count = 0;
  let dups = 0;
  let first = Infinity;
  let last = -Infinity;
  const lat: number[] = [];
  const perKey: Record<string, number> = {};
  for (const k of keys) {
    const list = arrivals.get(k) ?? [];
    perKey[k] = list.length;
    count += list.length;
    for (const t of list) {
      if (t < first) first = t;
      if (t > last) last = t;
    }
    if (args.latencies !== false) {
      const t0 = args.t0?.[k];
      if (t0 !== undefined) for (const t of list) lat.push(t - t0);
      else for (const l of sinceStamp.get(k) ?? []) lat.push(l);
    }
    dups += duplicates.get(k) ?? 0;
    arrivals.delete(k);
    sinceStamp.delete(k);
    seenBy.delete(k);
    duplicates.delete(k);
  }
  return { count, dups, first, last, perKey, lat: Float64Array.from(lat) };
}

interface BookResult {
  ok: number;
  failed: number;
  codes: Record<string, number>;
  start: number;
  end: number;
  ackMs: Float64Array;
}

/** `total` bookings on one lot, one loop per socket of the group (so concurrency = group size). */
async function bookSockets(args: { group: string; lotId: string; total: number; durationMinutes?: number }): Promise<BookResult> {
  const group = mustGroup(args.group);
  let remaining = args.total;
  let ok = 0;
  const codes: Record<string, number> = {};
  const ackMs: number[] = [];
  const start = wallNow();
  await Promise.all(
    group.sockets.map(async (s) => {
      while (remaining > 0) {
        remaining--;
        const t = wallNow();
        try {
          const answer = (await s.timeout(60_000).emitWithAck('create_booking', { parking_lot_id: args.lotId, duration_minutes: args.durationMinutes ?? 60 })) as {
            ok: boolean;
            error?: { code: string };
          };
          if (answer.ok) ok++;
          else codes[answer.error?.code ?? 'unknown'] = (codes[answer.error?.code ?? 'unknown'] ?? 0) + 1;
        } catch {
          codes.TIMEOUT = (codes.TIMEOUT ?? 0) + 1;
        }
        ackMs.push(wallNow() - t);
      }
    }),
  );
  return { ok, failed: args.total - ok, codes, start, end: wallNow(), ackMs: Float64Array.from(ackMs) };
}

/**
 * The same bookings straight over pg, as server/platform/db/db.ts runs them: role, claims and the
 * create_booking call in one simple query, which Postgres runs as one transaction (one round
 * trip). `workers` callers share a pool of `poolMax` connections (opened before the clock starts).
 */
async function bookRaw(args: { databaseUrl: string; lotId: string; total: number; workers: number; poolMax: number; durationMinutes?: number }): Promise<BookResult> {
  const pgPool = new pg.Pool({ connectionString: args.databaseUrl, max: args.poolMax, application_name: 'spotcast-bench-raw' });
  try {
    const warm = await Promise.all(Array.from({ length: args.poolMax }, () => pgPool.connect()));
    for (const c of warm) c.release();
    let remaining = args.total;
    let ok = 0;
    const codes: Record<string, number> = {};
    const ackMs: number[] = [];
    const lit = pg.escapeLiteral;
    const start = wallNow();
    await Promise.all(
      Array.from({ length: args.workers }, async () => {
        const userId = randomUUID();
        const claims = JSON.stringify({ sub: userId, role: 'authenticated', app_metadata: { role: 'user' } });
        const text =
          `select set_config('role', 'authenticated', true), set_config('request.jwt.claims', ${lit(claims)}, true), ` +
          `set_config('spotcast.role_claim_path', 'app_metadata.role', true); ` +
          `select public.create_booking(${lit(args.lotId)}, null, null, ${lit(String(args.durationMinutes ?? 60))}, null, null) as r`;
        while (remaining > 0) {
          remaining--;
          const t = wallNow();
          try {
            await pgPool.query(text);
            ok++;
          } catch (err) {
            const code = (err as { hint?: string; code?: string }).hint ?? (err as { code?: string }).code ?? 'error';
            codes[code] = (codes[code] ?? 0) + 1;
          }
          ackMs.push(wallNow() - t);
        }
      }),
    );
    return { ok, failed: args.total - ok, codes, start, end: wallNow(), ackMs: Float64Array.from(ackMs) };
  } finally {
    await pgPool.end();
  }
}

/** Bookings at a steady rate (round-robin over the group's sockets, not waiting for acks). */
async function bookPaced(args: { group: string; lotId: string; rate: number; count: number }) {
  const group = mustGroup(args.group);
  const interval = 1000 / args.rate;
  const start = wallNow();
  const answers: Promise<boolean>[] = [];
  for (let i = 0; i < args.count; i++) {
    const due = start + i * interval;
    const wait = due - wallNow();
    if (wait > 1) await sleep(wait);
    const s = group.sockets[i % group.sockets.length]!;
    answers.push(
      s
        .timeout(60_000)
        .emitWithAck('create_booking', { parking_lot_id: args.lotId, duration_minutes: 60 })
        .then((a: { ok: boolean }) => a.ok, () => false),
    );
  }
  const oks = await Promise.all(answers);
  return { ok: oks.filter(Boolean).length, failed: oks.filter((x) => !x).length, ms: wallNow() - start };
}

/** One booking per lot, `spacingMs` apart; returns each hold's deadline (hold_expires_at). */
async function bookEach(args: { group: string; lots: string[]; spacingMs: number }) {
  const group = mustGroup(args.group);
  const out: { lotId: string; holdExpiresAt: string | null; error?: string }[] = [];
  for (let i = 0; i < args.lots.length; i++) {
    const lotId = args.lots[i]!;
    const s = group.sockets[i % group.sockets.length]!;
    const answer = (await s.timeout(30_000).emitWithAck('create_booking', { parking_lot_id: lotId, duration_minutes: 60 })) as {
      ok: boolean;
      data?: { booking: { hold_expires_at: string | null } };
      error?: { code: string; message: string };
    };
    out.push(answer.ok ? { lotId, holdExpiresAt: answer.data!.booking.hold_expires_at } : { lotId, holdExpiresAt: null, error: answer.error?.code ?? 'unknown' });
    if (args.spacingMs > 0) await sleep(args.spacingMs);
  }
  return out;
}

async function disconnect(args: { group: string }) {
  const group = groups.get(args.group);
  if (!group) return { closed: 0 };
  for (const s of group.sockets) s.close();
  groups.delete(args.group);
  return { closed: group.sockets.length };
}

serve(
  {
    connect,
    subscribe,
    wait,
    collect,
    clear: () => {
      arrivals.clear();
      sinceStamp.clear();
      seenBy.clear();
      duplicates.clear();
      return null;
    },
    ...cityHandlers(mustGroup),
    /** Distinct deliveries so far of these keys (nothing is taken). */
    received: (args: { keys: string[] }) => {
      let n = 0;
      for (const k of args.keys) n += arrivals.get(k)?.length ?? 0;
      return n;
    },
    bookSockets,
    bookRaw,
    bookPaced,
    bookEach,
    disconnect,
    count: (args: { group: string }) => groups.get(args.group)?.sockets.length ?? 0,
    cpu: () => {
      const u = process.cpuUsage();
      return u.user + u.system;
    },
  },
  { pid: process.pid },
  async () => {
    for (const g of groups.values()) for (const s of g.sockets) s.close();
    groups.clear();
  },
);

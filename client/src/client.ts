/**
 * createSpotcastClient: one socket, its token's life (connection.ts), the rooms it holds and
 * their resume, once-only delivery of each room's events, and the state kept from them.
 */
import { io } from 'socket.io-client';
import type { AckResponse, ErrorPayload } from '../../server/contract/errors.js';
import { LOGGED_EVENTS, type BookingReply, type ClientEventName, type ReplyOf, type ServerEventName } from '../../server/contract/events.js';
import type { ConnectedPayload, ResumedPayload, RoomSnapshotPayload, Sequenced } from '../../server/contract/payloads.js';
import { parseRoom, ROOM_PREFIX, rooms } from '../../server/contract/rooms.js';
import { Connection } from './connection.js';
import { notify } from './store.js';
import { BookingsStore, LotsStore, PaymentsStore, WaitlistStore } from './stores.js';
import { Streams } from './streams.js';
import type { EventPayload, PayloadOf, RequestOptions, SpotcastClient, SpotcastClientOptions, SpotcastSocket } from './types.js';

/**
 * A last_seq beyond any stream's head. The server answers a client that is ahead of its log with a
 * `room_snapshot` and the head (README, "Recovery after a disconnect"): how a room this client has
 * no seq for starts, with its state and a seq to continue from, and no old events replayed.
 */
const SNAPSHOT = Number.MAX_SAFE_INTEGER;
/** The server resumes at most this many rooms from a handshake; the others are subscribed after it. */
const HANDSHAKE_ROOMS_MAX = 100;
const LOGGED = new Set<string>(LOGGED_EVENTS);

/** Rooms whose events carry their own seq (the others, parking_updates and admin, span many streams). */
const isStream = (room: string) => room.startsWith(ROOM_PREFIX.lot) || room.startsWith(ROOM_PREFIX.user);

export function createSpotcastClient(options: SpotcastClientOptions): SpotcastClient {
  // forceNew: a client of its own, never a socket shared with another client of the same URL.
  const socket: SpotcastSocket = io(options.url, { ...options.socketOptions, autoConnect: false, forceNew: true });
  const streams = new Streams();
  const lots = new LotsStore();
  const bookings = new BookingsStore();
  const payments = new PaymentsStore();
  const waitlist = new WaitlistStore();
  const listeners = new Map<string, Set<(payload: never) => void>>();
  /** room → how many hold it; rooms released to 0 wait in `leaving` until the end of the turn. */
  const held = new Map<string, number>();
  const leaving = new Set<string>();
  /** Rooms with a replay asked for and not yet answered. */
  const replaying = new Set<string>();
  /** The rooms this connection has asked for: in its handshake, or subscribed since. */
  let covered = new Set<string>();
  let userId: string | undefined;
  let holds = 0;

  const ownRoom = () => (userId === undefined ? undefined : rooms.user(userId));

  /** What a (re)subscription sends as last_seq: a stream's watermark, or a snapshot to start from. */
  function resumeFrom(room: string): number | undefined {
    if (isStream(room)) return streams.watermark(room) ?? SNAPSHOT;
    return room === rooms.parkingUpdates ? 0 : undefined;
  }

  function resume(): Record<string, number> {
    const map: Record<string, number> = {};
    for (const room of new Set([ownRoom(), ...held.keys()])) {
      const from = room === undefined ? undefined : resumeFrom(room);
      if (room !== undefined && from !== undefined && Object.keys(map).length < HANDSHAKE_ROOMS_MAX) map[room] = from;
    }
    covered = new Set(Object.keys(map));
    return map;
  }

  async function request<E extends ClientEventName>(event: E, payload: PayloadOf<E>, opts: RequestOptions = {}): Promise<AckResponse<ReplyOf<E>>> {
    if (!socket.connected) return { ok: false, error: { code: 'OFFLINE', message: 'Not connected to the server' } };
    const ms = opts.timeoutMs ?? options.requestTimeoutMs ?? 10_000;
    const askedAt = lots.now();
    let res: AckResponse<ReplyOf<E>>;
    try {
      // socket.io-client's types cannot follow a generic event name through emitWithAck.
      const timed = socket.timeout(ms) as unknown as { emitWithAck(ev: string, p: unknown): Promise<AckResponse<ReplyOf<E>>> };
      res = await timed.emitWithAck(event, payload);
    } catch {
      return { ok: false, error: { code: 'TIMEOUT', message: `No answer to ${event} within ${ms} ms` } };
    }
    if (res.ok && event === 'get_parking_availability') lots.applyQuery((res.data as ReplyOf<'get_parking_availability'>).lots, askedAt);
    if (res.ok && (event === 'create_booking' || event === 'cancel_booking' || event === 'get_booking_status')) {
      bookings.upsert((res.data as BookingReply).booking);
    }
    return res;
  }

  const connection = new Connection({ socket, options, resume, refreshToken: (token) => request('refresh_token', { token }) });

  function emitLocal(event: string, payload: unknown): void {
    const set = listeners.get(event);
    if (set) notify(set as Set<(p: unknown) => void>, payload);
  }

  async function sendSubscribe(room: string, from = resumeFrom(room)): Promise<void> {
    const res = await request('subscribe', { room, ...(from !== undefined ? { last_seq: from } : {}) });
    if (!res.ok) {
      if (res.error.code !== 'OFFLINE' && held.has(room)) emitLocal('error', { ...res.error, event: 'subscribe', room });
      return;
    }
    // The replayed events (or the snapshot) came before this answer: a hole left now is not
    // going to be filled by a replay, so start again from a snapshot.
    if (res.data.replay && !res.data.replay.snapshot && streams.hasGap(room) && from !== SNAPSHOT) await sendSubscribe(room, SNAPSHOT);
  }

  function askReplay(room: string): void {
    if (replaying.has(room) || !(held.has(room) || room === ownRoom())) return;
    replaying.add(room);
    void sendSubscribe(room, streams.watermark(room)).finally(() => replaying.delete(room));
  }

  function onConnected(hello: ConnectedPayload): void {
    if (hello.user.id !== userId) {
      // The first greeting, or the token source now names someone else: nothing of the previous user stays.
      const previous = ownRoom();
      if (previous !== undefined) streams.forget(previous);
      userId = hello.user.id;
      bookings.setUser(userId);
      payments.clear();
      waitlist.clear();
    }
    connection.onConnected(hello);
    for (const room of new Set([rooms.user(userId), ...held.keys()])) {
      if (covered.has(room)) continue;
      covered.add(room);
      void sendSubscribe(room);
    }
  }

  function onSnapshot(s: RoomSnapshotPayload): void {
    if (isStream(s.room)) streams.reset(s.room, s.seq);
    if (s.lots) lots.applySnapshot(s.lots, s.seq, s.room.startsWith(ROOM_PREFIX.lot));
    if (s.bookings && s.room === ownRoom()) bookings.replace(s.bookings);
  }

  function onResumed(r: ResumedPayload): void {
    for (const info of r.rooms) if (streams.hasGap(info.room)) askReplay(info.room);
    for (const f of r.failed) if (held.has(f.room)) emitLocal('error', { code: f.code, message: f.message, event: 'subscribe', room: f.room });
  }

  /** A logged event: false for a duplicate; a hole in a held room's stream asks for a replay. */
  function admit(p: Partial<Sequenced>): boolean {
    if (typeof p.room !== 'string' || typeof p.seq !== 'number') return true;
    const verdict = streams.accept(p.room, p.seq);
    if (verdict.gap) askReplay(p.room);
    return verdict.fresh;
  }

  socket.onAny((event: string, payload: unknown) => {
    if (event === 'connected') onConnected(payload as ConnectedPayload);
    else if (event === 'error') connection.onServerError(payload as ErrorPayload);
    else if (event === 'room_snapshot') onSnapshot(payload as RoomSnapshotPayload);
    else if (event === 'resumed') onResumed(payload as ResumedPayload);
    else if (LOGGED.has(event)) {
      if (!admit(payload as Partial<Sequenced>)) return;
      if (event === 'parking_updated') lots.applyEvent(payload as EventPayload<'parking_updated'>);
      else if (event === 'booking_updated') bookings.upsert((payload as EventPayload<'booking_updated'>).booking);
      else if (event === 'payment_updated') payments.apply(payload as EventPayload<'payment_updated'>, userId);
      else if (event === 'waitlist_updated') waitlist.apply(payload as EventPayload<'waitlist_updated'>, userId);
    }
    emitLocal(event, payload);
  });

  return {
    socket,
    state: connection.state,
    lots,
    bookings,
    bookingsLoaded: bookings.loaded,
    payments,
    waitlist,
    connect: () => connection.connect(),
    close: () => connection.close(),
    retain() {
      holds++;
      connection.connect();
      let released = false;
      return () => {
        if (released) return;
        released = true;
        // At the end of the turn: React's StrictMode releases and retains again in one go.
        if (--holds === 0) queueMicrotask(() => holds === 0 && connection.close());
      };
    },
    subscribe(room) {
      const parsed = parseRoom({ room });
      if (!parsed.ok) throw new TypeError(`spotcast: ${parsed.message}`);
      const name = parsed.room.name;
      const count = held.get(name) ?? 0;
      held.set(name, count + 1);
      if (count === 0 && !leaving.delete(name) && socket.connected) {
        covered.add(name);
        void sendSubscribe(name);
      }
      let released = false;
      return () => {
        if (released) return;
        released = true;
        const left = (held.get(name) ?? 1) - 1;
        held.set(name, left);
        if (left > 0) return;
        leaving.add(name);
        queueMicrotask(() => {
          if (!leaving.delete(name)) return;
          held.delete(name);
          if (name === ownRoom()) return;
          streams.forget(name);
          if (socket.connected) void request('unsubscribe', { room: name });
        });
      };
    },
    on<E extends ServerEventName>(event: E, listener: (payload: EventPayload<E>) => void) {
      let set = listeners.get(event);
      if (!set) listeners.set(event, (set = new Set()));
      set.add(listener);
      return () => {
        set.delete(listener);
      };
    },
    request,
    refreshToken: () => connection.refresh(),
    lastSeq(room) {
      const parsed = parseRoom({ room });
      return parsed.ok ? streams.watermark(parsed.room.name) : undefined;
    },
  };
}

import type { BookingView, LotAvailability, ReplayInfo, Room } from '../contract/index.js';
import type { Principal } from '../platform/auth/principal.js';
import type { UserCalls } from '../platform/data/calls.js';
import { ServiceUnavailableError } from '../platform/errors.js';
import type { RateLimits } from '../platform/limits/rate-limits.js';
import { inOneWrite } from '../platform/socket/one-write.js';
import type { IoSocket } from '../platform/socket/types.js';
import { emitLogged } from './emit.js';
import { toLoggedEvents } from './logged-event.js';

export interface ReplayDeps {
  calls: UserCalls;
  /** Longer gaps get a snapshot instead of a replay. */
  maxEvents: number;
  /** The `replay` budget: events read from the log per user, across the user's sockets (and nodes, with Redis). */
  limits: Pick<RateLimits, 'reserve' | 'refund'>;
  /** The current state of a room, for a snapshot: lots (one or all), or a user's bookings. */
  snapshot: {
    lots(principal: Principal, lotId: string | undefined): Promise<LotAvailability[]>;
    bookings(principal: Principal, userId: string): Promise<BookingView[]>;
  };
  onReplayed?: (events: number) => void;
}

export interface Replayer {
  /**
   * Joins the socket to `room` (through `join`, which the caller has authorized) and sends what it
   * missed since `lastSeq`. Joining before reading means nothing committed after the read is missed
   * (it arrives live, possibly as a duplicate the client drops by seq). When the user's replay
   * budget is spent it throws RATE_LIMITED before joining: a refused resume changes nothing.
   */
  resume(socket: IoSocket, room: Room, lastSeq: number, join: () => Promise<void>): Promise<ReplayInfo>;
  /** The socket (re)joins or leaves `room`: what was known of its place in that room's stream no longer holds. */
  forget(socket: IoSocket, room: string): void;
  /** At shutdown: replays not yet sent are not sent, new ones are refused (SERVICE_UNAVAILABLE). */
  stop(): void;
}

/** The stream whose sequence a room carries; parking_updates and admin aggregate several. */
function streamOf(room: Room): string | undefined {
  return room.kind === 'parking_lot' || room.kind === 'user' ? room.name : undefined;
}

/**
 * Replays from the event log, each bounded in cost:
 * - a socket that has stayed in the room since its last replay, asking again from the seq that
 *   replay reached or later, costs only a look at the stream's head, and nothing when that head is
 *   no further (no budget, no events read);
 * - a replay reads at most what is left of the user's `replay` budget (RATE_LIMIT_REPLAY_EVENTS)
 *   and is charged what it read. A gap larger than what is left (or than `maxEvents`, or older
 *   than the log) gets a snapshot of the room instead, as the contract allows; with nothing left
 *   the resume is refused (RATE_LIMITED) before any read;
 * - the events go out as the same events, in order, but in one write (inOneWrite).
 */
export function createReplayer(deps: ReplayDeps): Replayer {
  /** Per socket and room: the seq up to which the socket has been sent everything (while it stays in the room). */
  const caughtUp = new WeakMap<IoSocket, Map<string, number>>();
  let stopped = false;

  const remember = (socket: IoSocket, room: string, seq: number) => {
    if (!socket.rooms.has(room)) return;
    let rooms = caughtUp.get(socket);
    if (!rooms) caughtUp.set(socket, (rooms = new Map()));
    rooms.set(room, seq);
  };
  const refuseWhenStopped = () => {
    if (stopped) throw new ServiceUnavailableError('This node is shutting down; resume on another (reconnect)');
  };

  /** The stream's head: a read of the stream's sequence row (read_stream with no event to return past the first). */
  async function headOf(socket: IoSocket, stream: string): Promise<number> {
    const read = (await deps.calls.call(socket.data.principal, 'read_stream', { p_stream: stream, p_after: Number.MAX_SAFE_INTEGER, p_limit: 1 })) as { head: number | string };
    return Number(read.head);
  }

  async function fromLog(socket: IoSocket, room: Room, stream: string, lastSeq: number, join: () => Promise<void>): Promise<ReplayInfo> {
    const principal = socket.data.principal;
    const allowed = await deps.limits.reserve('replay', principal.userId, deps.maxEvents);
    let used = 0;
    try {
      await join();
      // As the caller: the event log's RLS (lot streams, one's own user stream, admins) is a
      // second guard behind the room check. One row more than allowed tells a longer gap.
      const read = (await deps.calls.call(principal, 'read_stream', { p_stream: stream, p_after: lastSeq, p_limit: allowed + 1 })) as {
        events: unknown[];
        head: number | string;
      };
      const rows = toLoggedEvents(read.events);
      const head = Number(read.head);
      used = Math.min(rows.length, allowed);
      refuseWhenStopped();
      const complete =
        lastSeq <= head && rows.length <= allowed && (rows.length === 0 ? head === lastSeq || head === 0 : rows[0]!.seq === lastSeq + 1);
      if (!complete) {
        await sendSnapshot(deps, socket, room, principal, head);
        remember(socket, room.name, head);
        return { room: room.name, replayed: 0, snapshot: true, seq: head };
      }
      inOneWrite(socket, () => {
        for (const e of rows) emitLogged(socket, e);
      });
      deps.onReplayed?.(rows.length);
      const seq = rows.at(-1)?.seq ?? lastSeq;
      remember(socket, room.name, seq);
      return { room: room.name, replayed: rows.length, snapshot: false, seq };
    } finally {
      await deps.limits.refund('replay', principal.userId, allowed - used);
    }
  }

  return {
    async resume(socket, room, lastSeq, join) {
      refuseWhenStopped();
      const stream = streamOf(room);
      if (!stream) {
        await join();
        await sendSnapshot(deps, socket, room, socket.data.principal, 0);
        return { room: room.name, replayed: 0, snapshot: true, seq: 0 };
      }
      const caught = caughtUp.get(socket)?.get(room.name);
      if (caught !== undefined && lastSeq >= caught && socket.rooms.has(room.name) && (await headOf(socket, stream)) <= lastSeq) {
        // Sent everything already and nothing since: no budget, no events read. Only the head is
        // asked: a live event can be lost on its way (the client that asks saw a gap), and then
        // the log, not this node's memory, says what is missing.
        return { room: room.name, replayed: 0, snapshot: false, seq: lastSeq };
      }
      return fromLog(socket, room, stream, lastSeq, join);
    },
    forget(socket, room) {
      caughtUp.get(socket)?.delete(room);
    },
    stop() {
      stopped = true;
    },
  };
}

async function sendSnapshot(deps: ReplayDeps, socket: IoSocket, room: Room, principal: Principal, seq: number): Promise<void> {
  const timestamp = new Date().toISOString();
  if (room.kind === 'parking_lot' || room.kind === 'parking_updates') {
    const lots = await deps.snapshot.lots(principal, room.kind === 'parking_lot' ? room.id : undefined);
    socket.emit('room_snapshot', { room: room.name, seq, snapshot: true, lots, timestamp });
  } else if (room.kind === 'user') {
    const bookings = await deps.snapshot.bookings(principal, room.id);
    socket.emit('room_snapshot', { room: room.name, seq, snapshot: true, bookings, timestamp });
  }
}

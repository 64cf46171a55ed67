import type { BookingView, LotAvailability, ReplayInfo, Room } from '../contract/index.js';
import type { Principal } from '../platform/auth/principal.js';
import type { UserCalls } from '../platform/data/calls.js';
import type { IoSocket } from '../platform/socket/types.js';
import { emitLogged } from './emit.js';
import { toLoggedEvents } from './logged-event.js';

export interface ReplayDeps {
  calls: UserCalls;
  /** Longer gaps get a snapshot instead of a replay. */
  maxEvents: number;
  /** The current state of a room, for a snapshot: lots (one or all), or a user's bookings. */
  snapshot: {
    lots(principal: Principal, lotId: string | undefined): Promise<LotAvailability[]>;
    bookings(principal: Principal, userId: string): Promise<BookingView[]>;
  };
}

/** The stream whose sequence a room carries; parking_updates and admin aggregate several. */
function streamOf(room: Room): string | undefined {
  return room.kind === 'parking_lot' || room.kind === 'user' ? room.name : undefined;
}

/**
 * Sends a reconnecting client what it missed in one room since `lastSeq`, from the event log, in
 * order; or a snapshot flagged as such when the log no longer holds the whole gap. The caller has
 * already authorized the room and joined it, so nothing committed after the read is missed
 * (it arrives live, possibly as a duplicate the client drops by seq).
 */
export async function replayRoom(deps: ReplayDeps, socket: IoSocket, room: Room, lastSeq: number): Promise<ReplayInfo> {
  const stream = streamOf(room);
  const principal = socket.data.principal;
  if (!stream) {
    await sendSnapshot(deps, socket, room, principal, 0);
    return { room: room.name, replayed: 0, snapshot: true, seq: 0 };
  }
  // As the caller: the event log's RLS (lot streams, one's own user stream, admins) is a second
  // guard behind the room check.
  const read = (await deps.calls.call(principal, 'read_stream', { p_stream: stream, p_after: lastSeq, p_limit: deps.maxEvents + 1 })) as {
    events: unknown[];
    head: number | string;
  };
  const rows = toLoggedEvents(read.events);
  const head = Number(read.head);
  const complete =
    lastSeq <= head &&
    rows.length <= deps.maxEvents &&
    (rows.length === 0 ? head === lastSeq || head === 0 : rows[0]!.seq === lastSeq + 1);
  if (!complete) {
    await sendSnapshot(deps, socket, room, principal, head);
    return { room: room.name, replayed: 0, snapshot: true, seq: head };
  }
  for (const e of rows) emitLogged(socket, e);
  return { room: room.name, replayed: rows.length, snapshot: false, seq: rows.at(-1)?.seq ?? lastSeq };
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

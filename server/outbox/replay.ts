import type { Principal } from '../platform/auth/principal.js';
import type { Db } from '../platform/db/db.js';
import type { BookingService } from '../features/bookings/service.js';
import type { ParkingService } from '../features/parking/service.js';
import type { Room } from '../contract/rooms.js';
import type { IoSocket } from '../platform/socket/types.js';
import { wirePayload, type LoggedEvent } from './logged-event.js';

export interface ReplayResult {
  room: string;
  /** How many missed events were sent, in order. */
  replayed: number;
  /** True when the gap could not be replayed (older than retention, too long, or the log was reset) and a fresh snapshot was sent instead. */
  snapshot: boolean;
  /** The room's latest sequence number: what the client has now seen. */
  seq: number;
}

export interface ReplayDeps {
  db: Db;
  parking: ParkingService;
  bookings: BookingService;
  /** Longer gaps get a snapshot instead of a replay. */
  maxEvents: number;
}

/** The stream whose sequence a room carries; parking_updates and admin aggregate several. */
function streamOf(room: Room): string | undefined {
  return room.kind === 'parking_lot' || room.kind === 'user' ? room.name : undefined;
}

/**
 * Sends a reconnecting client what it missed in one room since `lastSeq`, from the event log, in
 * order; or a snapshot flagged as such when the log no longer holds the whole gap. The caller has
 * already authorized the room and joined it, so nothing committed after the query is missed
 * (it arrives live, possibly as a duplicate the client drops by seq).
 */
export async function replayRoom(deps: ReplayDeps, socket: IoSocket, room: Room, lastSeq: number): Promise<ReplayResult> {
  const stream = streamOf(room);
  const principal = socket.data.principal;
  if (!stream) {
    await sendSnapshot(deps, socket, room, principal, 0);
    return { room: room.name, replayed: 0, snapshot: true, seq: 0 };
  }
  // As the caller: the event log's RLS (lot streams, one's own user stream, admins) is a second
  // guard behind authorizeRoom.
  const { rows, head } = await deps.db.asUser(principal, async (tx) => {
    const events = await tx.query<LoggedEvent>(
      `select id, stream, seq, event, rooms, payload from public.event_log
        where stream = $1 and seq > $2 order by seq limit $3`,
      [stream, lastSeq, deps.maxEvents + 1],
    );
    const seq = await tx.query<{ last_seq: string }>('select last_seq from public.stream_sequences where stream = $1', [stream]);
    return { rows: events.rows.map((r) => ({ ...r, id: Number(r.id), seq: Number(r.seq) })), head: Number(seq.rows[0]?.last_seq ?? 0) };
  });

  const complete =
    lastSeq <= head &&
    rows.length <= deps.maxEvents &&
    (rows.length === 0 ? head === lastSeq || head === 0 : rows[0]!.seq === lastSeq + 1);
  if (!complete) {
    await sendSnapshot(deps, socket, room, principal, head);
    return { room: room.name, replayed: 0, snapshot: true, seq: head };
  }
  for (const e of rows) (socket.emit as (ev: string, p: unknown) => boolean)(e.event, wirePayload(e));
  return { room: room.name, replayed: rows.length, snapshot: false, seq: rows.at(-1)?.seq ?? lastSeq };
}

async function sendSnapshot(deps: ReplayDeps, socket: IoSocket, room: Room, principal: Principal, seq: number): Promise<void> {
  const timestamp = new Date().toISOString();
  if (room.kind === 'parking_lot' || room.kind === 'parking_updates') {
    const lots = await deps.parking.availability(principal, room.kind === 'parking_lot' ? room.id : undefined);
    socket.emit('room_snapshot', { room: room.name, seq, snapshot: true, lots, timestamp });
  } else if (room.kind === 'user') {
    const bookings = await deps.bookings.listOwn(principal, { limit: 100, userId: room.id });
    socket.emit('room_snapshot', { room: room.name, seq, snapshot: true, bookings, timestamp });
  }
}

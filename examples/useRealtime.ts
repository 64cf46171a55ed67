/**
 * A typed React hook for spotcast, checked by `npm test` (tsc) against the server's own event
 * contract. Copy it into a frontend; it needs `react` and `socket.io-client`.
 *
 *   const { status, lots, bookings, notifications, error, socket } = useRealtime(url, token, { lots: [lotId] });
 */
import { useEffect, useRef, useState } from 'react';
import { io, type Socket } from 'socket.io-client';
import type {
  BookingView,
  ClientToServerEvents,
  LotAvailability,
  NotificationPayload,
  RoomSnapshotPayload,
  ServerToClientEvents,
} from '../server/contract/index.js';

export type RealtimeSocket = Socket<ServerToClientEvents, ClientToServerEvents>;
export type Status = 'connecting' | 'connected' | 'reconnecting' | 'unauthorized';

const SEQ_KEY = 'spotcast.last_seq';
/** The browser's localStorage (absent during server-side rendering). */
const storage = (globalThis as { localStorage?: { getItem(k: string): string | null; setItem(k: string, v: string): void } }).localStorage;

function loadSeqs(): Record<string, number> {
  try {
    return JSON.parse(storage?.getItem(SEQ_KEY) ?? '{}') as Record<string, number>;
  } catch {
    return {};
  }
}

export function useRealtime(url: string, token: string, opts: { lots?: string[]; allLots?: boolean } = {}) {
  const [status, setStatus] = useState<Status>('connecting');
  const [error, setError] = useState<string | null>(null);
  const [lots, setLots] = useState<Record<string, LotAvailability>>({});
  const [bookings, setBookings] = useState<Record<string, BookingView>>({});
  const [notifications, setNotifications] = useState<NotificationPayload[]>([]);
  const socketRef = useRef<RealtimeSocket | null>(null);
  const lotKey = (opts.lots ?? []).join(',');

  useEffect(() => {
    const lastSeq = loadSeqs();
    const rooms = [...(opts.lots ?? []).map((id) => `parking_lot:${id}`), ...(opts.allLots ? ['parking_updates'] : [])];

    // `auth` as a function: called on every (re)connect, so it always sends the latest seqs.
    const socket: RealtimeSocket = io(url, {
      auth: (cb) => cb({ token, last_seq: Object.fromEntries(rooms.map((r) => [r, lastSeq[r] ?? 0])) }),
      transports: ['websocket'],
    });
    socketRef.current = socket;

    /**
     * Per room: `lastSeq` is the highest seq up to which nothing is missing (what is sent back on
     * reconnect); `ahead` holds seqs seen beyond a gap. Live events can overtake a replay, so an
     * event is new unless its seq was already seen, and the watermark only moves over a
     * contiguous run. A gap asks the server to replay from the watermark.
     */
    const ahead: Record<string, Set<number>> = {};
    const fresh = (p: { room?: string; seq?: number }): boolean => {
      if (p.room === undefined || p.seq === undefined) return true;
      const room = p.room;
      const seen = (ahead[room] ??= new Set());
      const last = lastSeq[room] ?? 0;
      if (p.seq <= last || seen.has(p.seq)) return false;
      seen.add(p.seq);
      let upTo = last;
      while (seen.delete(upTo + 1)) upTo++;
      lastSeq[room] = upTo;
      storage?.setItem(SEQ_KEY, JSON.stringify(lastSeq));
      if (seen.size > 0 && p.seq > upTo + 1) socket.emit('subscribe', { room, last_seq: upTo });
      return true;
    };
    /** State events (availability) apply only if newer than what is shown: a replay may arrive late. */
    const shown: Record<string, number> = {};
    const newest = (p: { room?: string; seq?: number }): boolean => {
      if (p.room === undefined || p.seq === undefined) return true;
      if (p.seq <= (shown[p.room] ?? 0)) return false;
      shown[p.room] = p.seq;
      return true;
    };
    const putLots = (list: LotAvailability[]) =>
      setLots((prev) => ({ ...prev, ...Object.fromEntries(list.map((l) => [l.parking_lot_id, l])) }));

    socket.on('connected', async ({ user }) => {
      setStatus('connected');
      setError(null);
      const now = await socket.emitWithAck('get_parking_availability', {});
      if (now.ok) putLots(now.data.lots);
      const mine = `user:${user.id}`;
      await socket.emitWithAck('subscribe', { room: mine, last_seq: lastSeq[mine] ?? 0 });
    });
    socket.on('connect_error', (err) => {
      const code = (err as Error & { data?: { code?: string } }).data?.code;
      if (err.message === 'Authentication error') setStatus('unauthorized');
      setError(code ? `${err.message}: ${code}` : err.message);
    });
    socket.on('disconnect', () => setStatus('reconnecting'));
    socket.on('parking_updated', (p) => fresh(p) && newest(p) && putLots([p]));
    socket.on('booking_updated', (p) => fresh(p) && setBookings((prev) => ({ ...prev, [p.booking_id]: p.booking })));
    socket.on('notification', (n) => fresh(n) && setNotifications((prev) => [n, ...prev].slice(0, 50)));
    socket.on('room_snapshot', (s: RoomSnapshotPayload) => {
      lastSeq[s.room] = s.seq;
      shown[s.room] = s.seq;
      ahead[s.room]?.clear();
      if (s.lots) putLots(s.lots);
      if (s.bookings) setBookings(Object.fromEntries(s.bookings.map((b) => [b.id, b])));
    });
    socket.on('error', (e) => setError(`${e.code}: ${e.message}`));

    return () => {
      socket.close();
      socketRef.current = null;
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps -- lots are compared by value through lotKey
  }, [url, token, lotKey, opts.allLots]);

  return { status, error, lots, bookings, notifications, socket: socketRef.current };
}

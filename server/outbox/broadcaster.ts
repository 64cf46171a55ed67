import type { AnnouncementPayload } from '../contract/index.js';
import { EndOfTurnQueue } from './end-of-turn.js';
import type { IoServer } from '../platform/socket/types.js';

/**
 * Server-initiated emits that are not database changes. Changes (availability, bookings,
 * payments, notifications) go through the event log and the EventDispatcher instead, so that
 * none is lost between commit and emit.
 */
export interface Broadcaster {
  /**
   * Sent at the end of this event-loop turn, with whatever else is sent in it (EndOfTurnQueue): to
   * `audience` (room names, an operator's) when given, else to `payload.room`, else to everyone.
   */
  announcement(payload: AnnouncementPayload, audience?: string[]): void;
  /** Sends what is queued now (at shutdown). */
  flush(): void;
}

export function createBroadcaster(io: IoServer): Broadcaster {
  const queue = new EndOfTurnQueue<{ payload: AnnouncementPayload; audience: string[] | undefined }>((items) => {
    for (const { payload: p, audience } of items) {
      // One emit to several rooms: a socket in more than one of them hears it once.
      if (audience) io.to(audience).emit('system_announcement', p);
      else if (p.room) io.to(p.room).emit('system_announcement', p);
      else io.emit('system_announcement', p);
    }
  });
  return {
    announcement: (payload, audience) => queue.push({ payload, audience }),
    flush: () => queue.drain(),
  };
}

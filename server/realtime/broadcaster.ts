import type { AnnouncementPayload } from './contract.js';
import type { IoServer } from './types.js';

/**
 * Server-initiated emits that are not database changes. Changes (availability, bookings,
 * payments, notifications) go through the event log and the EventDispatcher instead, so that
 * none is lost between commit and emit.
 */
export interface Broadcaster {
  announcement(payload: AnnouncementPayload): void;
}

export function createBroadcaster(io: IoServer): Broadcaster {
  return {
    announcement(payload) {
      if (payload.room) io.to(payload.room).emit('system_announcement', payload);
      else io.emit('system_announcement', payload);
    },
  };
}

import type { AnnouncementPayload, LotAvailability, NotificationPayload, ParkingUpdatedPayload } from './contract.js';
import { rooms } from './rooms.js';
import type { IoServer } from './types.js';

/** Every server-initiated emit goes through here, so who hears what is decided in one place. */
export interface Broadcaster {
  parkingUpdated(lot: LotAvailability, action: string): ParkingUpdatedPayload;
  announcement(payload: AnnouncementPayload): void;
  notifyUser(userId: string, payload: NotificationPayload): void;
}

export function createBroadcaster(io: IoServer): Broadcaster {
  return {
    parkingUpdated(lot, action) {
      const payload: ParkingUpdatedPayload = { ...lot, action, timestamp: new Date().toISOString() };
      io.to([rooms.lot(lot.parking_lot_id), rooms.parkingUpdates, rooms.admin]).emit('parking_updated', payload);
      return payload;
    },
    announcement(payload) {
      if (payload.room) io.to(payload.room).emit('system_announcement', payload);
      else io.emit('system_announcement', payload);
    },
    notifyUser(userId, payload) {
      io.to(rooms.user(userId)).emit('notification', payload);
    },
  };
}

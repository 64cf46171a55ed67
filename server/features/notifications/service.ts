import type { Principal } from '../../platform/auth/principal.js';
import type { UserCalls } from '../../platform/data/calls.js';
import { NotFoundError } from '../../platform/errors.js';

export interface StoredNotification {
  id: string;
  title: string;
  message: string;
  type: string;
  data: unknown;
  read_at: string | null;
  created_at: string;
}

export interface NotificationService {
  list(principal: Principal, opts: { limit: number; unreadOnly: boolean }): Promise<{ notifications: StoredNotification[]; unread: number }>;
  markRead(principal: Principal, id: string): Promise<StoredNotification>;
  markAllRead(principal: Principal): Promise<number>;
}

/** A user's stored notifications, read and marked under RLS: only their own are reachable. */
export function createNotificationService(deps: { calls: UserCalls }): NotificationService {
  const { calls } = deps;
  return {
    async list(principal, opts) {
      return (await calls.call(principal, 'list_notifications', { p_unread_only: opts.unreadOnly, p_limit: opts.limit })) as {
        notifications: StoredNotification[];
        unread: number;
      };
    },

    async markRead(principal, id) {
      const row = (await calls.call(principal, 'mark_notification_read', { p_id: id })) as StoredNotification | null;
      if (!row) throw new NotFoundError(`Notification ${id} does not exist`);
      return row;
    },

    async markAllRead(principal) {
      return (await calls.call(principal, 'mark_all_notifications_read', {})) as number;
    },
  };
}

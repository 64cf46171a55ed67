import type { Principal } from '../../platform/auth/principal.js';
import type { Db } from '../../platform/db/db.js';
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

const COLUMNS = 'id, title, message, type, data, read_at, created_at';

/** A user's stored notifications, read and marked under RLS: only their own are reachable. */
export function createNotificationService(deps: { db: Db }): NotificationService {
  const { db } = deps;
  return {
    list(principal, opts) {
      return db.asUser(principal, async (tx) => {
        const { rows } = await tx.query<StoredNotification>(
          `select ${COLUMNS} from public.notifications
            where user_id = auth.uid() and (not $1 or read_at is null)
            order by created_at desc, id limit $2`,
          [opts.unreadOnly, opts.limit],
        );
        const unread = await tx.query<{ n: number }>(
          'select count(*)::int as n from public.notifications where user_id = auth.uid() and read_at is null',
        );
        return { notifications: rows, unread: unread.rows[0]?.n ?? 0 };
      });
    },

    async markRead(principal, id) {
      const row = await db.asUser(principal, async (tx) => {
        const { rows } = await tx.query<StoredNotification>(
          `update public.notifications set read_at = coalesce(read_at, now())
            where id = $1 and user_id = auth.uid() returning ${COLUMNS}`,
          [id],
        );
        return rows[0];
      });
      if (!row) throw new NotFoundError(`Notification ${id} does not exist`);
      return row;
    },

    markAllRead(principal) {
      return db.asUser(principal, async (tx) => {
        const { rowCount } = await tx.query(
          'update public.notifications set read_at = now() where user_id = auth.uid() and read_at is null',
        );
        return rowCount ?? 0;
      });
    },
  };
}

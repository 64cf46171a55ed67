import type { Principal } from '../../platform/auth/principal.js';
import type { Db } from '../../platform/db/db.js';
import { ForbiddenError } from '../../platform/errors.js';
import type { Logger } from '../../platform/logger.js';
import type { AnnouncementInput, AnnouncementPayload, LiveStats, LiveStatsPayload } from '../../contract/contract.js';
import type { Broadcaster } from '../../outbox/broadcaster.js';
import { clusterSockets, countBy, type ClusterSockets } from '../../platform/socket/presence.js';
import { isLotRoom, parseRoom } from '../../contract/rooms.js';
import type { IoServer } from '../../platform/socket/types.js';
import { queryAvailability } from '../../platform/data/pg-commands.js';

export interface AdminService {
  announce(principal: Principal, input: AnnouncementInput): Promise<AnnouncementPayload>;
  liveStats(principal: Principal): Promise<LiveStatsPayload>;
  connections(principal: Principal, limit: number): Promise<ClusterSockets & { total: number }>;
  bookingActivity(principal: Principal, limit: number): Promise<{ activity: BookingActivityRow[] }>;
}

export interface BookingActivityRow {
  event_id: number;
  occurred_at: string;
  booking_id: string;
  user_id: string;
  parking_lot_id: string;
  status: string;
  action: string;
  actor_id: string | null;
}

function requireAdmin(principal: Principal): void {
  if (principal.role !== 'admin') throw new ForbiddenError('Admin role required');
}

export function createAdminService(deps: { db: Db; io: IoServer; broadcaster: Broadcaster; logger: Logger }): AdminService {
  const { db, io, broadcaster, logger } = deps;

  return {
    async announce(principal, input) {
      requireAdmin(principal);
      const room = input.room ? parseRoom({ room: input.room }).name : undefined;
      const payload: AnnouncementPayload = {
        message: input.message,
        type: input.type,
        from: principal.userId,
        timestamp: new Date().toISOString(),
        ...(input.title ? { title: input.title } : {}),
        ...(room ? { room } : {}),
      };
      // Audited before it is sent: an announcement nobody can account for is worse than a late one.
      await db.statementAsUser(
        principal,
        `insert into public.admin_audit_log (actor_id, action, target_type, target_id, details)
         values (auth.uid(), 'announcement', 'room', $1, $2)`,
        [room ?? 'all', JSON.stringify({ message: input.message, title: input.title, type: input.type })],
      );
      broadcaster.announcement(payload);
      return payload;
    },

    async liveStats(principal) {
      requireAdmin(principal);
      const [cluster, db_] = await Promise.all([
        clusterSockets(io, logger),
        db.asUser(principal, async (tx) => {
          const today = await tx.query(
            `select * from public.realtime_daily_stats where day = (now() at time zone 'utc')::date`,
          );
          const audit = await tx.query<{ n: string }>(
            `select count(*) as n from public.admin_audit_log where occurred_at >= date_trunc('day', now() at time zone 'utc') at time zone 'utc'`,
          );
          const lots = await queryAvailability(tx);
          return { today: today.rows[0] ?? null, adminActions: Number(audit.rows[0]?.n ?? 0), lots };
        }),
      ]);
      const stats: LiveStats = {
        cluster: {
          connections: cluster.sockets.length,
          by_role: countBy(cluster.sockets, (s) => s.role),
          by_node: countBy(cluster.sockets, (s) => s.node_id),
          rooms: countBy(cluster.sockets, (s) => s.rooms.filter(isLotRoom)),
          partial: cluster.partial,
        },
        today: { ...(db_.today ?? {}), admin_actions: db_.adminActions },
        lots: {
          count: db_.lots.length,
          total_spaces: db_.lots.reduce((n, l) => n + l.total_spaces, 0),
          available_spaces: db_.lots.reduce((n, l) => n + l.available_spaces, 0),
        },
      };
      return { stats, timestamp: new Date().toISOString() };
    },

    async connections(principal, limit) {
      requireAdmin(principal);
      const cluster = await clusterSockets(io, logger);
      return { ...cluster, total: cluster.sockets.length, sockets: cluster.sockets.slice(0, limit) };
    },

    async bookingActivity(principal, limit) {
      requireAdmin(principal);
      // Every booking transition is a booking_updated event in the log, with who caused it.
      const activity = await db.asUser(principal, async (tx) => {
        const { rows } = await tx.query<BookingActivityRow>(
          `select e.id::float8 as event_id, e.created_at as occurred_at, e.payload->>'booking_id' as booking_id,
                  e.payload->'booking'->>'user_id' as user_id, e.payload->'booking'->>'parking_lot_id' as parking_lot_id,
                  e.payload->>'status' as status, e.payload->>'action' as action, e.actor_id
             from public.event_log e where e.event = 'booking_updated'
            order by e.id desc limit $1`,
          [limit],
        );
        return rows.map((r) => ({ ...r, occurred_at: new Date(r.occurred_at).toISOString() }));
      });
      return { activity };
    },
  };
}

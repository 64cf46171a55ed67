import { isLotRoom, type AnnouncementInput, type AnnouncementPayload, type LiveStats, type LiveStatsPayload, type LotAvailability } from '../../contract/index.js';
import type { Broadcaster } from '../../outbox/broadcaster.js';
import type { Principal } from '../../platform/auth/principal.js';
import type { UserCalls } from '../../platform/data/calls.js';
import { ForbiddenError } from '../../platform/errors.js';
import type { Logger } from '../../platform/logger.js';
import { clusterSockets, countBy, type ClusterSockets } from '../../platform/socket/presence.js';
import type { IoServer } from '../../platform/socket/types.js';
import { roomOrThrow } from '../subscriptions/authorize.js';

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

/** The server checks the role first; RLS and the SQL functions check it again. */
function requireAdmin(principal: Principal): void {
  if (principal.role !== 'admin') throw new ForbiddenError('Admin role required');
}

export function createAdminService(deps: { calls: UserCalls; io: IoServer; broadcaster: Broadcaster; logger: Logger }): AdminService {
  const { calls, io, broadcaster, logger } = deps;

  return {
    async announce(principal, input) {
      requireAdmin(principal);
      const room = input.room ? roomOrThrow({ room: input.room }).name : undefined;
      const payload: AnnouncementPayload = {
        message: input.message,
        type: input.type,
        from: principal.userId,
        timestamp: new Date().toISOString(),
        ...(input.title ? { title: input.title } : {}),
        ...(room ? { room } : {}),
      };
      // Audited before it is sent: an announcement nobody can account for is worse than a late one.
      await calls.call(principal, 'log_announcement', {
        p_room: room ?? 'all',
        p_details: { message: input.message, title: input.title, type: input.type },
      });
      broadcaster.announcement(payload);
      return payload;
    },

    async liveStats(principal) {
      requireAdmin(principal);
      const [cluster, today, lots] = await Promise.all([
        clusterSockets(io, logger),
        calls.call(principal, 'admin_today', {}) as Promise<Record<string, unknown>>,
        calls.call(principal, 'lot_availability', { p_lot_id: null }) as Promise<LotAvailability[]>,
      ]);
      const stats: LiveStats = {
        cluster: {
          connections: cluster.sockets.length,
          by_role: countBy(cluster.sockets, (s) => s.role),
          by_node: countBy(cluster.sockets, (s) => s.node_id),
          rooms: countBy(cluster.sockets, (s) => s.rooms.filter(isLotRoom)),
          partial: cluster.partial,
        },
        today,
        lots: {
          count: lots.length,
          total_spaces: lots.reduce((n, l) => n + l.total_spaces, 0),
          available_spaces: lots.reduce((n, l) => n + l.available_spaces, 0),
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
      const activity = (await calls.call(principal, 'booking_activity', { p_limit: limit })) as BookingActivityRow[];
      return { activity };
    },
  };
}

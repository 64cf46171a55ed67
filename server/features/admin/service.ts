import { rooms, type AnnouncementInput, type AnnouncementPayload, type LiveStats, type LiveStatsPayload, type LotAvailability } from '../../contract/index.js';
import type { Broadcaster } from '../../outbox/broadcaster.js';
import type { Principal } from '../../platform/auth/principal.js';
import type { UserCalls } from '../../platform/data/calls.js';
import { ForbiddenError } from '../../platform/errors.js';
import type { Logger } from '../../platform/logger.js';
import { clusterSockets, countBy, type ClusterSockets } from '../../platform/socket/presence.js';
import type { IoServer } from '../../platform/socket/types.js';
import { roomOrThrow } from '../subscriptions/authorize.js';
import { isOwnLotRoom, operatorAudience, PLATFORM_SCOPE, scopedSockets, type AdminScope } from './scope.js';

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
  /** The platform admin's scope is everything; an operator's admin's comes from the database. */
  const scopeOf = async (principal: Principal): Promise<AdminScope> =>
    principal.orgId === null ? PLATFORM_SCOPE : ((await calls.call(principal, 'admin_scope', {})) as AdminScope);

  return {
    async announce(principal, input) {
      requireAdmin(principal);
      const scope = await scopeOf(principal);
      const room = input.room ? roomOrThrow({ room: input.room }).name : undefined;
      const audience = scope.platform ? undefined : operatorAudience(scope, room);
      const payload: AnnouncementPayload = {
        message: input.message,
        type: input.type,
        from: principal.userId,
        timestamp: new Date().toISOString(),
        ...(input.title ? { title: input.title } : {}),
        ...(room ? { room } : {}),
        ...(scope.operator_id ? { operator_id: scope.operator_id } : {}),
      };
      // Audited before it is sent: an announcement nobody can account for is worse than a late one.
      await calls.call(principal, 'log_announcement', {
        p_room: room ?? (scope.operator_id ? rooms.operatorAdmin(scope.operator_id) : 'all'),
        p_details: { message: input.message, title: input.title, type: input.type, ...(audience ? { audience_rooms: audience.length } : {}) },
      });
      broadcaster.announcement(payload, audience);
      return payload;
    },

    async liveStats(principal) {
      requireAdmin(principal);
      const [scope, all, today, lotsAll] = await Promise.all([
        scopeOf(principal),
        clusterSockets(io, logger),
        calls.call(principal, 'admin_today', {}) as Promise<Record<string, unknown>>,
        calls.call(principal, 'lot_availability', { p_lot_id: null }) as Promise<LotAvailability[]>,
      ]);
      const sockets = scopedSockets(scope, all.sockets);
      const lots = scope.platform ? lotsAll : lotsAll.filter((l) => scope.lot_ids.includes(l.id));
      const stats: LiveStats = {
        cluster: {
          connections: sockets.length,
          by_role: countBy(sockets, (s) => s.role),
          by_node: countBy(sockets, (s) => s.node_id),
          rooms: countBy(sockets, (s) => s.rooms.filter((r) => isOwnLotRoom(scope, r))),
          partial: all.partial,
        },
        today,
        lots: {
          count: lots.length,
          total_spaces: lots.reduce((n, l) => n + l.total_spaces, 0),
          available_spaces: lots.reduce((n, l) => n + l.available_spaces, 0),
        },
        scope: { operator_id: scope.operator_id },
      };
      return { stats, timestamp: new Date().toISOString() };
    },

    async connections(principal, limit) {
      requireAdmin(principal);
      const [scope, cluster] = await Promise.all([scopeOf(principal), clusterSockets(io, logger)]);
      const sockets = scopedSockets(scope, cluster.sockets);
      return { ...cluster, total: sockets.length, sockets: sockets.slice(0, limit) };
    },

    async bookingActivity(principal, limit) {
      requireAdmin(principal);
      // Every booking transition is a booking_updated event in the log, with who caused it (the
      // SQL keeps an operator's admin to its lots' bookings).
      const activity = (await calls.call(principal, 'booking_activity', { p_limit: limit })) as BookingActivityRow[];
      return { activity };
    },
  };
}

import { isLotRoom, ROOM_PREFIX, rooms } from '../../contract/index.js';
import { ForbiddenError } from '../../platform/errors.js';
import type { SocketSummary } from '../../platform/socket/presence.js';

/**
 * What an admin's console covers (public.admin_scope()): everything for the platform admin; for an
 * operator's admin, its lots and the users holding a booking in them.
 */
export interface AdminScope {
  platform: boolean;
  operator_id: string | null;
  lot_ids: string[];
  user_ids: string[];
}

export const PLATFORM_SCOPE: AdminScope = { platform: true, operator_id: null, lot_ids: [], user_ids: [] };

/**
 * The live connections an operator's admin sees: sockets whose token carries its org (its staff,
 * its admins), and sockets subscribed to one of its lots' rooms (drivers watching its lots). A
 * driver elsewhere is not its business, even one who once booked there.
 */
export function scopedSockets(scope: AdminScope, sockets: SocketSummary[]): SocketSummary[] {
  if (scope.platform) return sockets;
  const lots = new Set(scope.lot_ids.map((id) => rooms.lot(id)));
  return sockets
    .filter((s) => (scope.operator_id !== null && s.org_id === scope.operator_id) || s.rooms.some((r) => lots.has(r)))
    .map((s) => ({ ...s, rooms: s.rooms.filter((r) => lots.has(r) || r === rooms.operatorAdmin(scope.operator_id ?? '') || r === rooms.user(s.user_id)) }));
}

/**
 * Where an operator's admin's announcement goes: the room it names, which must be its own (its
 * admin room or one of its lots'), or else its whole audience: its admin room, its lots' rooms and
 * the users booked in them.
 */
export function operatorAudience(scope: AdminScope, room: string | undefined): string[] {
  const own = scope.operator_id === null ? [] : [rooms.operatorAdmin(scope.operator_id)];
  const lotRooms = scope.lot_ids.map((id) => rooms.lot(id));
  if (room !== undefined) {
    if (own.includes(room) || lotRooms.includes(room)) return [room];
    throw new ForbiddenError("An operator's admin may announce only to its own admin room or its lots' rooms");
  }
  return [...own, ...lotRooms, ...scope.user_ids.map((id) => rooms.user(id))];
}

export const isOwnLotRoom = (scope: AdminScope, room: string): boolean =>
  isLotRoom(room) && (scope.platform || scope.lot_ids.includes(room.slice(ROOM_PREFIX.lot.length)));

/**
 * Rooms: who hears what. Names come from these functions only, so a typo cannot create a room
 * nobody emits to. The SQL that logs events writes the same prefixes (see statuses.ts).
 */
export const ROOM_PREFIX = { user: 'user:', lot: 'parking_lot:', operatorAdmin: 'admin:' } as const;

export const rooms = {
  user: (userId: string) => `${ROOM_PREFIX.user}${userId}`,
  lot: (lotId: string) => `${ROOM_PREFIX.lot}${lotId}`,
  /** Every lot's `parking_updated`. */
  parkingUpdates: 'parking_updates',
  /** The platform admin's room: every admin event of every operator. */
  admin: 'admin',
  /** One operator's admin room (`admin:<operator id>`): the admin events of its lots. */
  operatorAdmin: (operatorId: string) => `${ROOM_PREFIX.operatorAdmin}${operatorId}`,
} as const;

export type Room =
  | { kind: 'user'; id: string; name: string }
  | { kind: 'parking_lot'; id: string; name: string }
  | { kind: 'parking_updates'; name: string }
  | { kind: 'admin'; name: string }
  | { kind: 'operator_admin'; id: string; name: string };

export type RoomParse = { ok: true; room: Room } | { ok: false; message: string };

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
/** Lot ids are uuids, but a frontend written for other ids gets "no such lot", not a format error. */
const LOT_ID = /^[A-Za-z0-9_-]{1,100}$/;

export const isUuid = (s: string): boolean => UUID.test(s);

/**
 * The room a `subscribe` / `unsubscribe` payload names. The room name decides; `type` is only a
 * hint (the original documentation sends `{ room: 'parking_lot:123', type: 'parking' }` and
 * `{ room: 'parking_updates', type: 'general' }`). spotcast's own short forms stay:
 * `{ type: 'parking_lot', room: '<id>' }` and `{ type: 'parking_updates' }`.
 */
export function parseRoom(input: { room?: string | undefined; type?: string | undefined }): RoomParse {
  const raw = (input.room ?? '').trim();
  const sep = raw.indexOf(':');
  if (sep > 0) return roomOf(raw.slice(0, sep), raw.slice(sep + 1), raw);
  if (raw === rooms.parkingUpdates || raw === rooms.admin) return roomOf(raw, '', raw);
  if (raw !== '' && (input.type === 'parking_lot' || input.type === 'user')) return roomOf(input.type, raw, raw);
  if (raw === '' && (input.type === 'parking_updates' || input.type === 'admin')) return roomOf(input.type, '', input.type);
  return { ok: false, message: raw ? `Unknown room "${raw.slice(0, 60)}"` : 'room is required' };
}

function roomOf(kind: string, rawId: string, raw: string): RoomParse {
  // uuids are case-insensitive but room names are not: use the canonical (lower-case) form that
  // the database returns and emits to, or the socket joins a room nobody emits to.
  const id = isUuid(rawId) ? rawId.toLowerCase() : rawId;
  switch (kind) {
    case 'parking_updates':
      return { ok: true, room: { kind: 'parking_updates', name: rooms.parkingUpdates } };
    case 'admin':
      if (raw === rooms.admin) return { ok: true, room: { kind: 'admin', name: rooms.admin } };
      if (!isUuid(id)) return { ok: false, message: `an operator's admin room needs an operator id (uuid), got "${rawId.slice(0, 60)}"` };
      return { ok: true, room: { kind: 'operator_admin', id, name: rooms.operatorAdmin(id) } };
    case 'parking_lot':
      if (!LOT_ID.test(id)) return { ok: false, message: `"${rawId.slice(0, 60)}" is not a parking lot id` };
      return { ok: true, room: { kind: 'parking_lot', id, name: rooms.lot(id) } };
    case 'user':
      if (!isUuid(id)) return { ok: false, message: `user room needs a user id (uuid), got "${rawId.slice(0, 60)}"` };
      return { ok: true, room: { kind: 'user', id, name: rooms.user(id) } };
    default:
      return { ok: false, message: `Unknown room "${raw.slice(0, 60)}"` };
  }
}

/** The admin room a principal joins on connecting: the platform's, or its operator's. */
export function adminRoomOf(principal: { role: string; orgId: string | null }): string | undefined {
  if (principal.role !== 'admin') return undefined;
  return principal.orgId === null ? rooms.admin : rooms.operatorAdmin(principal.orgId);
}

/** Lot rooms are counted in live stats; user rooms are private and never listed. */
export function isLotRoom(name: string): boolean {
  return name.startsWith(ROOM_PREFIX.lot);
}

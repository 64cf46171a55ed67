import { z } from 'zod';
import { NotFoundError, ValidationError } from '../errors.js';
import type { SubscribeInput } from './contract.js';

/** Room names come from these functions only, so a typo cannot create a room nobody hears. */
export const rooms = {
  user: (userId: string) => `user:${userId}`,
  lot: (lotId: string) => `parking_lot:${lotId}`,
  parkingUpdates: 'parking_updates',
  admin: 'admin',
} as const;

export type Room =
  | { kind: 'user'; id: string; name: string }
  | { kind: 'parking_lot'; id: string; name: string }
  | { kind: 'parking_updates'; name: string }
  | { kind: 'admin'; name: string };

const uuid = z.uuid();

/**
 * A lot id in canonical (lower-case) form. An id that cannot name a lot ('123') answers the same
 * NOT_FOUND as an unknown uuid: the client asked for a lot that is not there, not for bad syntax.
 */
export function canonicalLotId(raw: string): string {
  const id = raw.toLowerCase();
  if (!uuid.safeParse(id).success) throw new NotFoundError(`Parking lot ${raw.slice(0, 60)} does not exist (lot ids are uuids)`);
  return id;
}

function idRoom(kind: 'parking_lot' | 'user', rawId: string): Room {
  if (!rawId) throw new ValidationError(`${kind} room needs an id`);
  if (kind === 'parking_lot') {
    const id = canonicalLotId(rawId);
    return { kind, id, name: rooms.lot(id) };
  }
  // uuids are case-insensitive but room names are not: use the canonical (lower-case) form that
  // the database returns and the broadcaster emits to, or the socket joins a room nobody emits to.
  const id = rawId.toLowerCase();
  if (!uuid.safeParse(id).success) throw new ValidationError(`user room needs a uuid id, got "${id.slice(0, 60)}"`);
  return { kind, id, name: rooms.user(id) };
}

function fixedRoom(name: string | undefined): Room | undefined {
  if (name === 'parking_updates') return { kind: 'parking_updates', name: rooms.parkingUpdates };
  if (name === 'admin') return { kind: 'admin', name: rooms.admin };
  return undefined;
}

const unknownRoom = (name: string) => new ValidationError(`Unknown room "${name.slice(0, 60)}"`);

/**
 * The room name decides: `parking_lot:<id>`, `user:<id>`, `parking_updates`, `admin`, whatever
 * `type` says (the reference frontend sends hints such as `parking` or `general`). `type` names
 * the room only when `room` is a bare id (`{ type: 'parking_lot', room: '<id>' }`) or absent
 * (`{ type: 'parking_updates' }`).
 */
export function parseRoom({ room, type }: SubscribeInput): Room {
  if (room === undefined) {
    const fixed = fixedRoom(type);
    if (fixed) return fixed;
    throw type === 'parking_lot' || type === 'user' ? new ValidationError(`${type} room needs an id`) : unknownRoom(String(type));
  }
  const sep = room.indexOf(':');
  if (sep > 0) {
    const kind = room.slice(0, sep);
    if (kind === 'parking_lot' || kind === 'user') return idRoom(kind, room.slice(sep + 1));
    throw unknownRoom(room);
  }
  const fixed = fixedRoom(room);
  if (fixed) return fixed;
  if (type === 'parking_lot' || type === 'user') return idRoom(type, room);
  throw unknownRoom(room);
}

/** Rooms a socket may be in without being the recipient of private data, for counting. */
export function isLotRoom(name: string): boolean {
  return name.startsWith('parking_lot:');
}

import { z } from 'zod';
import { ValidationError } from '../platform/errors.js';
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

/** Accepts `parking_lot:<id>`, or `{ type: 'parking_lot', room: '<id>' }`, and the two fixed rooms. */
export function parseRoom(input: SubscribeInput): Room {
  const raw = input.room ?? '';
  const sep = raw.indexOf(':');
  const type = sep > 0 ? raw.slice(0, sep) : (input.type ?? raw);
  // uuids are case-insensitive but room names are not: use the canonical (lower-case) form that
  // the database returns and the broadcaster emits to, or the socket joins a room nobody emits to.
  const id = (sep > 0 ? raw.slice(sep + 1) : raw).toLowerCase();

  if (type === 'parking_updates') return { kind: 'parking_updates', name: rooms.parkingUpdates };
  if (type === 'admin') return { kind: 'admin', name: rooms.admin };
  if (type === 'parking_lot' || type === 'user') {
    if (!uuid.safeParse(id).success) throw new ValidationError(`${type} room needs a uuid id, got "${id.slice(0, 60)}"`);
    return type === 'user' ? { kind: 'user', id, name: rooms.user(id) } : { kind: 'parking_lot', id, name: rooms.lot(id) };
  }
  throw new ValidationError(`Unknown room "${raw.slice(0, 60) || String(input.type)}"`);
}

/** Rooms a socket may be in without being the recipient of private data, for counting. */
export function isLotRoom(name: string): boolean {
  return name.startsWith('parking_lot:');
}

import { parseRoom, type Room } from '../../contract/index.js';
import type { Principal } from '../../platform/auth/principal.js';
import { ForbiddenError, ValidationError } from '../../platform/errors.js';

/** The room a payload names, or a VALIDATION_ERROR that says what is wrong with it. */
export function roomOrThrow(input: { room?: string | undefined; type?: string | undefined }): Room {
  const parsed = parseRoom(input);
  if (!parsed.ok) throw new ValidationError(parsed.message);
  return parsed.room;
}

/** Who may join which room: a refusal is an error the client hears, never a silent no-op. */
export function authorizeRoom(principal: Principal, room: Room): void {
  // The platform admin (no operator) joins any room, as admins always could.
  if (principal.role === 'admin' && principal.orgId === null) return;
  if (room.kind === 'admin') throw new ForbiddenError("The admin room is for the platform's admins only");
  if (room.kind === 'operator_admin' && (principal.role !== 'admin' || room.id !== principal.orgId)) {
    throw new ForbiddenError("An operator's admin room is for that operator's admins only");
  }
  if (room.kind === 'user' && room.id !== principal.userId) {
    throw new ForbiddenError("You may not join another user's room");
  }
}

import type { Principal } from '../../auth/principal.js';
import { ForbiddenError, NotFoundError } from '../../errors.js';
import type { ParkingService } from '../../parking/parking-service.js';
import { subscribeSchema, unsubscribeSchema } from '../contract.js';
import { parseRoom, type Room } from '../rooms.js';
import type { IoSocket } from '../types.js';
import { on, type HandlerContext } from '../validate.js';

/** Who may join which room: a refusal is an error the client hears, never a silent no-op. */
export function authorizeRoom(principal: Principal, room: Room): void {
  if (principal.role === 'admin') return;
  if (room.kind === 'admin') throw new ForbiddenError('The admin room is for admins only');
  if (room.kind === 'user' && room.id !== principal.userId) {
    throw new ForbiddenError("You may not join another user's room");
  }
}

export function createSubscriptionHandlers(deps: { parking: ParkingService }) {
  return (socket: IoSocket, ctx: HandlerContext): void => {
    on(socket, ctx, 'subscribe', subscribeSchema, 'subscribed', async (input) => {
      const room = parseRoom(input);
      const principal = socket.data.principal;
      authorizeRoom(principal, room);
      if (room.kind === 'parking_lot' && !(await deps.parking.lotExists(principal, room.id))) {
        throw new NotFoundError(`Parking lot ${room.id} does not exist`);
      }
      await socket.join(room.name);
      return { room: room.name };
    });

    on(socket, ctx, 'unsubscribe', unsubscribeSchema, 'unsubscribed', async (input) => {
      const room = parseRoom(input);
      const was_subscribed = socket.rooms.has(room.name);
      await socket.leave(room.name);
      return { room: room.name, was_subscribed };
    });
  };
}

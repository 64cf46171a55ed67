import type { Principal } from '../../platform/auth/principal.js';
import { ForbiddenError, NotFoundError, toClientError } from '../../platform/errors.js';
import { replayRoom, type ReplayDeps } from '../../outbox/replay.js';
import type { ParkingService } from '../parking/service.js';
import { handshakeResumeSchema, subscribeSchema, unsubscribeSchema, type ReplayInfo, type SubscribeInput } from '../../contract/contract.js';
import { parseRoom, type Room } from '../../contract/rooms.js';
import type { IoSocket } from '../../platform/socket/types.js';
import { on, type HandlerContext } from '../../platform/socket/handle.js';

/** Who may join which room: a refusal is an error the client hears, never a silent no-op. */
export function authorizeRoom(principal: Principal, room: Room): void {
  if (principal.role === 'admin') return;
  if (room.kind === 'admin') throw new ForbiddenError('The admin room is for admins only');
  if (room.kind === 'user' && room.id !== principal.userId) {
    throw new ForbiddenError("You may not join another user's room");
  }
}

export interface SubscriptionDeps extends ReplayDeps {
  parking: ParkingService;
}

export function createSubscriptionHandlers(deps: SubscriptionDeps) {
  /** Authorize, join, then replay what the client missed: joining first means nothing falls in between. */
  async function subscribe(socket: IoSocket, input: SubscribeInput): Promise<{ room: string; replay?: ReplayInfo }> {
    const room = parseRoom(input);
    const principal = socket.data.principal;
    authorizeRoom(principal, room);
    if (room.kind === 'parking_lot' && !(await deps.parking.lotExists(principal, room.id))) {
      throw new NotFoundError(`Parking lot ${room.id} does not exist`);
    }
    await socket.join(room.name);
    if (input.last_seq === undefined) return { room: room.name };
    return { room: room.name, replay: await replayRoom(deps, socket, room, input.last_seq) };
  }

  /** `auth: { token, last_seq: { '<room>': <seq> } }` resumes those rooms right after connecting. */
  async function resumeFromHandshake(socket: IoSocket, ctx: HandlerContext): Promise<void> {
    const raw = (socket.handshake.auth as Record<string, unknown> | undefined)?.last_seq;
    if (raw === undefined) return;
    const parsed = handshakeResumeSchema.safeParse(raw);
    if (!parsed.success) {
      socket.emit('error', { code: 'VALIDATION_ERROR', message: 'auth.last_seq must map room names to sequence numbers', event: 'resume' });
      return;
    }
    const rooms: ReplayInfo[] = [];
    const failed: { room: string; code: string; message: string }[] = [];
    const done = new Set<string>();
    for (const [room, lastSeq] of Object.entries(parsed.data)) {
      try {
        // Each room costs what a subscribe costs, and spellings of one room count once.
        const name = parseRoom({ room }).name;
        if (done.has(name)) continue;
        done.add(name);
        await ctx.limits.consume('socket_event', socket.id);
        await ctx.limits.consume('user_event', socket.data.principal.userId);
        const result = await subscribe(socket, { room, last_seq: lastSeq });
        if (result.replay) rooms.push(result.replay);
      } catch (err) {
        const { error } = toClientError(err);
        if (error.code === 'INTERNAL_ERROR') ctx.logger.error({ err, room }, 'resume failed');
        failed.push({ room: room.slice(0, 200), code: error.code, message: error.message });
      }
    }
    socket.emit('resumed', { rooms, failed });
  }

  return (socket: IoSocket, ctx: HandlerContext): void => {
    on(socket, ctx, 'subscribe', subscribeSchema, 'subscribed', (input) => subscribe(socket, input));

    on(socket, ctx, 'unsubscribe', unsubscribeSchema, 'unsubscribed', async (input) => {
      const room = parseRoom(input);
      const was_subscribed = socket.rooms.has(room.name);
      await socket.leave(room.name);
      return { room: room.name, was_subscribed };
    });

    void resumeFromHandshake(socket, ctx);
  };
}

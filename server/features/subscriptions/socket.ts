import { handshakeResumeSchema, subscribeSchema, unsubscribeSchema, type ReplayInfo, type SubscribeInput, type SubscribeReply } from '../../contract/index.js';
import type { Replayer } from '../../outbox/replay.js';
import { toClientError } from '../../platform/errors.js';
import { handler, socketFields, takeTokens, type HandlerContext, type SocketFeature } from '../../platform/socket/handle.js';
import type { IoSocket } from '../../platform/socket/types.js';
import { lotNotFound, type ParkingService } from '../parking/service.js';
import { authorizeRoom, roomOrThrow } from './authorize.js';

export interface SubscriptionDeps {
  parking: ParkingService;
  replayer: Replayer;
}

/** subscribe / unsubscribe, and resuming the rooms a reconnecting client names in its handshake. */
export function subscriptionSocket(deps: SubscriptionDeps): SocketFeature {
  /**
   * Authorize, join, then replay what the client missed: joining first means nothing falls in
   * between (the replayer joins once the user's replay budget allows the replay). A socket already
   * in the room is not looked up again (the lot existed when it joined), and keeps what the
   * replayer knows of it: a repeated resume it was already sent costs no read.
   */
  async function subscribe(socket: IoSocket, ctx: HandlerContext, input: SubscribeInput): Promise<SubscribeReply> {
    const room = roomOrThrow(input);
    const principal = socket.data.principal;
    authorizeRoom(principal, room);
    const join = async () => {
      if (socket.rooms.has(room.name)) return;
      if (room.kind === 'parking_lot' && !(await deps.parking.lotExists(principal, room.id))) throw lotNotFound(room.id);
      deps.replayer.forget(socket, room.name);
      await socket.join(room.name);
    };
    if (input.last_seq === undefined) {
      await join();
      return { room: room.name };
    }
    const replay = await deps.replayer.resume(socket, room, input.last_seq, join);
    ctx.metrics.observeReplay(replay);
    return { room: room.name, replay };
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
    const replayed: ReplayInfo[] = [];
    const failed: { room: string; code: string; message: string }[] = [];
    const done = new Set<string>();
    for (const [room, lastSeq] of Object.entries(parsed.data)) {
      try {
        // Each room costs what a subscribe costs, and spellings of one room count once.
        const name = roomOrThrow({ room }).name;
        if (done.has(name)) continue;
        done.add(name);
        await takeTokens(socket, ctx);
        const result = await subscribe(socket, ctx, { room, last_seq: lastSeq });
        if (result.replay) replayed.push(result.replay);
      } catch (err) {
        const { error } = toClientError(err);
        if (error.code === 'INTERNAL_ERROR') ctx.logger.error({ err, room, ...socketFields(socket) }, 'resume failed');
        failed.push({ room: room.slice(0, 200), code: error.code, message: error.message });
      }
    }
    socket.emit('resumed', { rooms: replayed, failed });
  }

  return {
    events: [
      handler('subscribe', subscribeSchema, (socket, input, ctx) => subscribe(socket, ctx, input)),
      handler('unsubscribe', unsubscribeSchema, async (socket, input) => {
        const room = roomOrThrow(input);
        const was_subscribed = socket.rooms.has(room.name);
        deps.replayer.forget(socket, room.name);
        await socket.leave(room.name);
        return { room: room.name, was_subscribed };
      }),
    ],
    connected(socket, ctx) {
      void resumeFromHandshake(socket, ctx);
    },
  };
}

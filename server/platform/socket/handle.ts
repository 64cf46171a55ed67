import type { z } from 'zod';
import { CLIENT_EVENTS, type ClientEventName, type ReplyOf } from '../../contract/index.js';
import { toClientError, UnknownEventError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { ActivityLog } from '../observability/activity-log.js';
import type { Metrics } from '../observability/metrics.js';
import { RateLimitedError, type RateLimits } from '../limits/rate-limits.js';
import { parseOrThrow } from '../validate.js';
import type { IoSocket } from './types.js';

export interface HandlerContext {
  logger: Logger;
  activity: ActivityLog;
  limits: RateLimits;
  metrics: Metrics;
}

/** What a feature adds to every authenticated socket: its event handlers. */
export type SocketFeature = (socket: IoSocket, ctx: HandlerContext) => void;

type Listener = (...args: unknown[]) => void;
type Answer = (response: unknown) => void;

/** Refusals per socket in the current window; past the limit the socket is disconnected. */
const refusals = new WeakMap<object, { count: number; since: number }>();
const REFUSAL_WINDOW_MS = 10_000;

function noteRefusal(socket: IoSocket, ctx: HandlerContext): void {
  const now = Date.now();
  const entry = refusals.get(socket);
  const current = entry && now - entry.since < REFUSAL_WINDOW_MS ? entry : { count: 0, since: now };
  current.count++;
  refusals.set(socket, current);
  if (current.count >= ctx.limits.disconnectAfter) {
    ctx.logger.warn({ refusals: current.count }, 'socket keeps exceeding its rate limit; disconnecting it');
    socket.emit('error', { code: 'RATE_LIMITED', message: 'Too many requests: disconnected' });
    socket.disconnect(true);
  }
}

/** Every client event costs a point of the socket's and of the user's budget, before any work. */
export async function takeTokens(socket: IoSocket, ctx: HandlerContext): Promise<void> {
  await ctx.limits.consume('socket_event', socket.id);
  await ctx.limits.consume('user_event', socket.data.principal.userId);
}

/** The acknowledgement callback, when the client gave one (always the last argument). */
function ackOf(args: unknown[]): Answer | undefined {
  const last = args[args.length - 1];
  return typeof last === 'function' ? (last as Answer) : undefined;
}

/** A refusal: `{ ok: false, error }` on the ack, else an `error` event naming the event. */
function refuse(socket: IoSocket, ctx: HandlerContext, event: string, err: unknown, ack: Answer | undefined): string {
  const { status, error } = toClientError(err);
  if (err instanceof RateLimitedError) noteRefusal(socket, ctx);
  const log = status >= 500 ? ctx.logger.error.bind(ctx.logger) : ctx.logger.debug.bind(ctx.logger);
  log({ err, event, socketId: socket.id, userId: socket.data.principal.userId, code: error.code }, 'client event failed');
  if (ack) ack({ ok: false, error });
  else socket.emit('error', { message: error.message, code: error.code, event });
  return error.code;
}

/**
 * An event name the contract does not have is answered (UNKNOWN_EVENT on the ack, or an `error`
 * event) and costs rate-limit points like any other, instead of being silently ignored.
 */
export function answerUnknownEvents(socket: IoSocket, ctx: HandlerContext): void {
  socket.onAny((event: unknown, ...args: unknown[]) => {
    if (typeof event === 'string' && Object.hasOwn(CLIENT_EVENTS, event)) return;
    const name = String(event).slice(0, 100);
    const ack = ackOf(args);
    takeTokens(socket, ctx).then(
      () => {
        refuse(socket, ctx, name, new UnknownEventError(name), ack);
        ctx.metrics.eventsIn.inc({ event: 'unknown', outcome: 'UNKNOWN_EVENT' });
      },
      (err: unknown) => refuse(socket, ctx, name, err, ack),
    );
  });
}

/**
 * validate → act → answer for one client event; the handler's input type comes from its schema
 * and its result type from the contract. Every outcome is answered: `{ ok: true, data }` on the
 * acknowledgement when the client gave one, else the event's reply event (CLIENT_EVENTS);
 * errors as `{ ok: false, error }` or an `error` event.
 */
export function on<E extends ClientEventName, S extends z.ZodType>(
  socket: IoSocket,
  ctx: HandlerContext,
  event: E,
  schema: S,
  handler: (input: z.output<S>) => Promise<ReplyOf<E>>,
): void {
  const reply = CLIENT_EVENTS[event];
  const listener: Listener = (...args) => {
    const ack = ackOf(args);
    const payload = args.length > 0 && typeof args[0] !== 'function' ? args[0] : undefined;
    const started = performance.now();
    const done = (outcome: string) => {
      const ms = performance.now() - started;
      ctx.activity.event(socket, event, ms, outcome === 'ok' ? undefined : outcome);
      ctx.metrics.eventsIn.inc({ event, outcome });
      ctx.metrics.ackLatency.observe({ event }, ms / 1000);
    };
    takeTokens(socket, ctx)
      .then(() => handler(parseOrThrow(schema, payload)))
      .then(
        (data) => {
          if (ack) ack({ ok: true, data });
          // The reply event's payload is this event's reply type (CLIENT_EVENTS pairs them).
          else if (reply) (socket.emit as (ev: string, d: unknown) => boolean)(reply, data);
          done('ok');
        },
        (err: unknown) => done(refuse(socket, ctx, event, err, ack)),
      );
  };
  socket.on(event, listener as never);
}

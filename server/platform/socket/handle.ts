import type { z } from 'zod';
import { CLIENT_EVENTS, type ClientEventName, type ReplyOf } from '../../contract/index.js';
import { toClientError, UnknownEventError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { ActivityLog } from '../observability/activity-log.js';
import type { Metrics } from '../observability/metrics.js';
import { RateLimitedError, type RateLimits } from '../limits/rate-limits.js';
import { parseOrThrow } from '../validate.js';
import type { IoSocket } from './types.js';

/**
 * What every handler may use: the node's, shared by all sockets. Nothing in it is per socket (a
 * socket's own state lives on the socket): an idle socket costs no context, closure or logger.
 */
export interface HandlerContext {
  logger: Logger;
  activity: ActivityLog;
  limits: RateLimits;
  metrics: Metrics;
}

/** One client event's answer, created once per node and run for whichever socket sent the event. */
export interface EventHandler {
  event: ClientEventName;
  schema: z.ZodType;
  run(socket: IoSocket, input: unknown, ctx: HandlerContext): Promise<unknown>;
}

/**
 * What a feature adds to the socket layer: its event handlers (shared by every socket), and what
 * it does once per authenticated connection (join rooms, greet, resume) and at its disconnect.
 */
export interface SocketFeature {
  events?: EventHandler[];
  connected?(socket: IoSocket, ctx: HandlerContext): void;
  disconnected?(socket: IoSocket): void;
}

/** validate → act for one event; the input type comes from its schema and the result type from the contract. */
export function handler<E extends ClientEventName, S extends z.ZodType>(
  event: E,
  schema: S,
  run: (socket: IoSocket, input: z.output<S>, ctx: HandlerContext) => Promise<ReplyOf<E>>,
): EventHandler {
  return { event, schema, run: run as EventHandler['run'] };
}

/** Bindings for a log line about one socket (a pino child per socket would cost each idle socket ~3 KiB). */
export function socketFields(socket: IoSocket): { socketId: string; userId: string } {
  return { socketId: socket.id, userId: socket.data.principal.userId };
}

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
    ctx.logger.warn({ ...socketFields(socket), refusals: current.count }, 'socket keeps exceeding its rate limit; disconnecting it');
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
  log({ err, event, ...socketFields(socket), code: error.code }, 'client event failed');
  if (ack) ack({ ok: false, error });
  else socket.emit('error', { message: error.message, code: error.code, event });
  return error.code;
}

/**
 * An event name the contract does not have is answered (UNKNOWN_EVENT on the ack, or an `error`
 * event) and costs rate-limit points like any other, instead of being silently ignored.
 */
function answerUnknown(socket: IoSocket, ctx: HandlerContext, event: unknown, args: unknown[]): void {
  const name = String(event).slice(0, 100);
  const ack = ackOf(args);
  takeTokens(socket, ctx).then(
    () => {
      refuse(socket, ctx, name, new UnknownEventError(name), ack);
      ctx.metrics.eventsIn.inc({ event: 'unknown', outcome: 'UNKNOWN_EVENT' });
    },
    (err: unknown) => refuse(socket, ctx, name, err, ack),
  );
}

/**
 * validate → act → answer. Every outcome is answered: `{ ok: true, data }` on the acknowledgement
 * when the client gave one, else the event's reply event (CLIENT_EVENTS); errors as
 * `{ ok: false, error }` or an `error` event.
 */
function answer(socket: IoSocket, ctx: HandlerContext, h: EventHandler, args: unknown[]): void {
  const { event } = h;
  const reply = CLIENT_EVENTS[event];
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
    .then(() => h.run(socket, parseOrThrow(h.schema, payload), ctx))
    .then(
      (data) => {
        if (ack) ack({ ok: true, data });
        // The reply event's payload is this event's reply type (CLIENT_EVENTS pairs them).
        else if (reply) (socket.emit as (ev: string, d: unknown) => boolean)(reply, data);
        done('ok');
      },
      (err: unknown) => done(refuse(socket, ctx, event, err, ack)),
    );
}

/**
 * One listener for every client event of every socket (Socket.IO calls `onAny` listeners with the
 * socket as `this`): each socket holds a reference to it instead of a closure per event. A
 * contract event no feature handles is left unanswered, as before.
 */
export function createDispatcher(handlers: EventHandler[], ctx: HandlerContext): (this: IoSocket, event: unknown, ...args: unknown[]) => void {
  const byEvent = new Map<string, EventHandler>();
  for (const h of handlers) {
    if (byEvent.has(h.event)) throw new Error(`two handlers for ${h.event}`);
    byEvent.set(h.event, h);
  }
  return function dispatch(this: IoSocket, event: unknown, ...args: unknown[]): void {
    if (typeof event === 'string' && Object.hasOwn(CLIENT_EVENTS, event)) {
      const h = byEvent.get(event);
      if (h) answer(this, ctx, h, args);
      return;
    }
    answerUnknown(this, ctx, event, args);
  };
}

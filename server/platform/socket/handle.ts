import type { z } from 'zod';
import { toClientError, ValidationError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { ActivityLog } from '../observability/activity-log.js';
import { RateLimitedError, type RateLimits } from '../limits/rate-limits.js';
import type { Metrics } from '../observability/metrics.js';
import type { ClientEventName, ServerToClientEvents } from '../../contract/contract.js';
import type { IoSocket } from './types.js';

export interface HandlerContext {
  logger: Logger;
  activity: ActivityLog;
  limits: RateLimits;
  metrics: Metrics;
}

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

async function takeTokens(socket: IoSocket, ctx: HandlerContext): Promise<void> {
  await ctx.limits.consume('socket_event', socket.id);
  await ctx.limits.consume('user_event', socket.data.principal.userId);
}

type Listener = (...args: unknown[]) => void;

/** Turns zod issues into one readable line: `available_spaces: Too small: expected number to be >=0`. */
export function describeIssues(error: z.ZodError): string {
  return error.issues
    .slice(0, 5)
    .map((i) => (i.path.length ? `${i.path.join('.')}: ${i.message}` : i.message))
    .join('; ');
}

export function parseOrThrow<S extends z.ZodType>(schema: S, input: unknown): z.output<S> {
  const parsed = schema.safeParse(input);
  if (!parsed.success) throw new ValidationError(describeIssues(parsed.error), parsed.error.issues.slice(0, 5).map((i) => ({ path: i.path.map(String), message: i.message })));
  return parsed.data;
}

/**
 * An event name the contract does not have is answered (UNKNOWN_EVENT on the ack, or an `error`
 * event) and costs rate-limit points like any other, instead of being silently ignored.
 */
export function answerUnknownEvents(socket: IoSocket, ctx: HandlerContext, known: ReadonlySet<string>): void {
  socket.onAny((event: unknown, ...args: unknown[]) => {
    if (typeof event === 'string' && known.has(event)) return;
    const name = String(event).slice(0, 100);
    const last = args[args.length - 1];
    takeTokens(socket, ctx).then(
      () => {
        const error = { code: 'UNKNOWN_EVENT', message: `Unknown event "${name}"` };
        if (typeof last === 'function') (last as (r: unknown) => void)({ ok: false, error });
        else socket.emit('error', { ...error, event: name });
        ctx.metrics.eventsIn.inc({ event: 'unknown', outcome: 'UNKNOWN_EVENT' });
      },
      (err: unknown) => {
        if (err instanceof RateLimitedError) noteRefusal(socket, ctx);
        const { error } = toClientError(err);
        if (typeof last === 'function') (last as (r: unknown) => void)({ ok: false, error });
        else socket.emit('error', { message: error.message, code: error.code, event: name });
      },
    );
  });
}

/**
 * validate → act → ack (or reply event) for one client event. The handler's input type comes
 * from its schema. Every outcome is answered: `{ ok: true, data }` on the ack callback when the
 * client gave one, else the reply event; errors as `{ ok: false, error }` or an `error` event.
 */
export function on<S extends z.ZodType, R>(
  socket: IoSocket,
  ctx: HandlerContext,
  event: ClientEventName,
  schema: S,
  reply: keyof ServerToClientEvents | null,
  handler: (input: z.output<S>) => Promise<R>,
): void {
  const listener: Listener = (...args) => {
    const last = args[args.length - 1];
    const ack = typeof last === 'function' ? (last as (r: unknown) => void) : undefined;
    const payload = args.length > 0 && typeof args[0] !== 'function' ? args[0] : undefined;
    const started = performance.now();

    takeTokens(socket, ctx)
      .then(() => handler(parseOrThrow(schema, payload)))
      .then(
        (data) => {
          if (ack) ack({ ok: true, data });
          else if (reply) (socket.emit as (ev: string, d: unknown) => void)(reply, data);
          const ms = performance.now() - started;
          ctx.activity.event(socket, event, ms);
          ctx.metrics.eventsIn.inc({ event, outcome: 'ok' });
          ctx.metrics.ackLatency.observe({ event }, ms / 1000);
        },
        (err: unknown) => {
          const { status, error } = toClientError(err);
          if (err instanceof RateLimitedError) noteRefusal(socket, ctx);
          const log = status >= 500 ? ctx.logger.error.bind(ctx.logger) : ctx.logger.debug.bind(ctx.logger);
          log({ err, event, socketId: socket.id, userId: socket.data.principal.userId, code: error.code }, 'client event failed');
          if (ack) ack({ ok: false, error });
          else socket.emit('error', { message: error.message, code: error.code, event });
          const ms = performance.now() - started;
          ctx.activity.event(socket, event, ms, error.code);
          ctx.metrics.eventsIn.inc({ event, outcome: error.code });
          ctx.metrics.ackLatency.observe({ event }, ms / 1000);
        },
      );
  };
  (socket.on as (ev: string, l: Listener) => void)(event, listener);
}

import type { z } from 'zod';
import { toClientError, ValidationError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { ActivityLog } from '../activity/activity-log.js';
import type { ClientEventName, ServerToClientEvents } from './contract.js';
import type { IoSocket } from './types.js';

export interface HandlerContext {
  logger: Logger;
  activity: ActivityLog;
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

    Promise.resolve()
      .then(() => handler(parseOrThrow(schema, payload)))
      .then(
        (data) => {
          if (ack) ack({ ok: true, data });
          else if (reply) (socket.emit as (ev: string, d: unknown) => void)(reply, data);
          ctx.activity.event(socket, event, performance.now() - started);
        },
        (err: unknown) => {
          const { status, error } = toClientError(err);
          const log = status >= 500 ? ctx.logger.error.bind(ctx.logger) : ctx.logger.debug.bind(ctx.logger);
          log({ err, event, socketId: socket.id, userId: socket.data.principal.userId, code: error.code }, 'client event failed');
          if (ack) ack({ ok: false, error });
          else socket.emit('error', { message: error.message, code: error.code, event });
          ctx.activity.event(socket, event, performance.now() - started, error.code);
        },
      );
  };
  (socket.on as (ev: string, l: Listener) => void)(event, listener);
}

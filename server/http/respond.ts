import type { ErrorRequestHandler, RequestHandler, Response } from 'express';
import type { z } from 'zod';
import { PayloadTooLargeError, toClientError, ValidationError } from '../errors.js';
import type { Logger } from '../logger.js';
import { parseOrThrow } from '../realtime/validate.js';

/** The same envelope as socket acks, so one client helper reads both. */
export function ok<T>(res: Response, data: T, status = 200): void {
  res.status(status).json({ ok: true, data });
}

export function parse<S extends z.ZodType>(schema: S, input: unknown): z.output<S> {
  return parseOrThrow(schema, input);
}

export const notFoundRoute: RequestHandler = (req, res) => {
  res.status(404).json({ ok: false, error: { code: 'NOT_FOUND', message: `No route ${req.method} ${req.path}` } });
};

export function errorHandler(logger: Logger): ErrorRequestHandler {
  return (err: unknown, req, res, _next) => {
    const mapped = bodyParserError(err) ?? err;
    const { status, error } = toClientError(mapped);
    const log: Logger = (res.locals.log as Logger | undefined) ?? logger;
    if (status >= 500) log.error({ err, method: req.method, path: req.path }, 'request failed');
    else log.debug({ code: error.code, method: req.method, path: req.path, userId: res.locals.principal?.userId }, 'request refused');
    res.status(status).json({ ok: false, error });
  };
}

/** express.json() failures carry a `type`; they are the client's fault, so say so plainly. */
function bodyParserError(err: unknown): Error | undefined {
  if (typeof err !== 'object' || err === null || !('type' in err)) return undefined;
  const type = (err as { type: string }).type;
  if (type === 'entity.parse.failed') return new ValidationError('Request body is not valid JSON');
  if (type === 'entity.too.large') return new PayloadTooLargeError('Request body is too large');
  if (type === 'encoding.unsupported' || type === 'charset.unsupported') return new ValidationError('Unsupported body encoding');
  return undefined;
}

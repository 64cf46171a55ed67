import type { ErrorRequestHandler, RequestHandler, Response } from 'express';
import type { z } from 'zod';
import { AppError, PayloadTooLargeError, toClientError, ValidationError } from '../errors.js';
import { RateLimitedError } from '../limits/rate-limits.js';
import type { Logger } from '../logger.js';
import { parseOrThrow } from '../validate.js';

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
    if (mapped instanceof RateLimitedError) res.set('retry-after', String(Math.ceil(mapped.retryAfterMs / 1000)));
    const log: Logger = (res.locals.log as Logger | undefined) ?? logger;
    if (status >= 500) log.error({ err, method: req.method, path: req.path }, 'request failed');
    else log.debug({ code: error.code, method: req.method, path: req.path, userId: res.locals.principal?.userId }, 'request refused');
    res.status(status).json({ ok: false, error });
  };
}

/**
 * Express and body-parser raise http-errors (with a 4xx `status`) for what the client sent:
 * bad JSON, a corrupt compressed body, a bad percent-encoding in the path. They are the
 * client's fault: answer them as such, in our error shape, not as a 500.
 */
function bodyParserError(err: unknown): Error | undefined {
  if (typeof err !== 'object' || err === null || err instanceof AppError) return undefined;
  const { type, status } = err as { type?: string; status?: number };
  if (type === 'entity.too.large' || status === 413) return new PayloadTooLargeError('Request body is too large');
  if (type === 'entity.parse.failed') return new ValidationError('Request body is not valid JSON');
  if (type === 'encoding.unsupported' || type === 'charset.unsupported' || status === 415) return new ValidationError('Unsupported body encoding');
  if (err instanceof URIError) return new ValidationError('Malformed percent-encoding in the URL');
  if (typeof status === 'number' && status >= 400 && status < 500) return new ValidationError('Malformed request');
  return undefined;
}

import type { NextFunction, Request, Response } from 'express';
import { ForbiddenError, UnauthorizedError } from '../errors.js';
import { bearerToken, KeysUnavailableError, type TokenVerifier } from '../auth/jwt.js';
import type { Principal } from '../auth/principal.js';

declare module 'express-serve-static-core' {
  interface Locals {
    principal?: Principal;
    log?: import('pino').Logger;
  }
}

/** The same verifier as the socket middleware, for `Authorization: Bearer` on HTTP routes. */
export function requireAuth(verifier: TokenVerifier) {
  return (req: Request, res: Response, next: NextFunction): void => {
    verifier.verify(bearerToken(req.headers.authorization)).then(
      (principal) => {
        res.locals.principal = principal;
        next();
      },
      (err: unknown) => {
        // 503 with Retry-After: the token may be fine, the server cannot check it yet.
        if (err instanceof KeysUnavailableError) res.set('retry-after', String(Math.ceil(err.retryAfterMs / 1000)));
        next(err);
      },
    );
  };
}

export function requireAdmin(_req: Request, res: Response, next: NextFunction): void {
  if (res.locals.principal?.role !== 'admin') throw new ForbiddenError('Admin role required');
  next();
}

/** The authenticated caller of a route behind `requireAuth`. */
export function principalOf(res: Response): Principal {
  const principal = res.locals.principal;
  if (!principal) throw new UnauthorizedError();
  return principal;
}

import type { NextFunction, Request, Response } from 'express';
import { ForbiddenError, UnauthorizedError } from '../errors.js';
import { bearerToken, type TokenVerifier } from './jwt.js';
import type { Principal } from './principal.js';

declare module 'express-serve-static-core' {
  interface Locals {
    principal?: Principal;
    log?: import('pino').Logger;
  }
}

/** The same verifier as the socket middleware, for `Authorization: Bearer` on HTTP routes. */
export function requireAuth(verifier: TokenVerifier) {
  return (req: Request, res: Response, next: NextFunction): void => {
    res.locals.principal = verifier.verify(bearerToken(req.headers.authorization));
    next();
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

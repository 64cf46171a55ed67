import jwt, { type Algorithm, type JwtPayload } from 'jsonwebtoken';
import { z } from 'zod';
import type { JwtConfig } from '../../config.js';
import { UnauthorizedError } from '../errors.js';
import type { AppRole, Principal } from './principal.js';

/** Reason codes sent to clients in `connect_error.data.code` and HTTP 401 bodies. */
export type AuthFailure =
  | 'TOKEN_MISSING'
  | 'TOKEN_EXPIRED'
  | 'TOKEN_NOT_YET_VALID'
  | 'TOKEN_INVALID'
  | 'TOKEN_CLAIMS_INVALID';

export class AuthError extends UnauthorizedError {
  constructor(
    readonly reason: AuthFailure,
    message: string,
  ) {
    super(reason, message);
  }
}

const claimsSchema = z.object({
  sub: z.uuid({ message: 'sub must be a user id (uuid)' }),
  // Up to the year 9999: a signed but absurd exp must not break date arithmetic later.
  exp: z.number({ message: 'exp is required' }).max(253_402_300_799, 'exp is out of range'),
});

export interface TokenVerifier {
  verify(token: string | undefined | null): Principal;
}

export function createTokenVerifier(config: JwtConfig): TokenVerifier {
  const key = config.secret ?? config.publicKey;
  if (!key) throw new Error('No JWT key configured');
  // The algorithm list is fixed by the kind of key, never taken from the token: that closes
  // both `alg: none` and the HS256-with-a-public-key confusion.
  const algorithms: Algorithm[] = config.secret ? ['HS256'] : ['RS256', 'ES256'];

  return {
    verify(token) {
      if (!token) throw new AuthError('TOKEN_MISSING', 'No token was provided');
      let payload: JwtPayload | string;
      try {
        payload = jwt.verify(token, key, {
          algorithms,
          clockTolerance: config.clockToleranceSeconds,
          ...(config.issuer ? { issuer: config.issuer } : {}),
          ...(config.audience ? { audience: config.audience } : {}),
        });
      } catch (err) {
        throw mapJwtError(err);
      }
      if (typeof payload === 'string') throw new AuthError('TOKEN_INVALID', 'Token payload is not a JSON object');
      const checked = claimsSchema.safeParse(payload);
      if (!checked.success) {
        throw new AuthError('TOKEN_CLAIMS_INVALID', checked.error.issues.map((i) => i.message).join('; '));
      }
      return {
        // Canonical lower-case uuid: it names the user's room, and the database returns ids in lower case.
        userId: checked.data.sub.toLowerCase(),
        role: appRole(payload, config.roleClaimPath),
        claims: payload as Record<string, unknown>,
        expiresAt: checked.data.exp,
        token,
      };
    },
  };
}

/** The application role lives at a configurable claim path (Supabase: `app_metadata.role`). */
function appRole(claims: JwtPayload, path: string[]): AppRole {
  let value: unknown = claims;
  for (const key of path) {
    value = value && typeof value === 'object' ? (value as Record<string, unknown>)[key] : undefined;
  }
  return value === 'admin' ? 'admin' : 'user';
}

function mapJwtError(err: unknown): AuthError {
  if (err instanceof jwt.TokenExpiredError) return new AuthError('TOKEN_EXPIRED', 'Token has expired');
  if (err instanceof jwt.NotBeforeError) return new AuthError('TOKEN_NOT_YET_VALID', 'Token is not valid yet');
  const message = err instanceof Error ? err.message : 'Token could not be verified';
  return new AuthError('TOKEN_INVALID', `Token could not be verified: ${message}`);
}

export function bearerToken(header: string | undefined): string | undefined {
  const match = header?.match(/^Bearer\s+(\S+)\s*$/i);
  return match?.[1];
}

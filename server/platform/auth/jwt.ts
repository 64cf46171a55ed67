import { errors as joseErrors, jwtVerify, type JWTPayload } from 'jose';
import { pino } from 'pino';
import { z } from 'zod';
import type { Logger } from '../logger.js';
import { AuthError, KeysUnavailableError, type AuthFailure } from './auth-errors.js';
import { RemoteJwks } from './jwks-cache.js';
import { selectKey, type Keyring } from './key-selection.js';
import { importSecret, importSpec, KeyError, type PublicKeySpec, type VerificationKey } from './keys.js';
import type { AppRole, Principal } from './principal.js';

export { AuthError, KeysUnavailableError, type AuthFailure };

/** The verifier's settings (server/config.ts reads them from the environment). */
export interface JwtConfig {
  /** The legacy shared secret: verifies HS256 only. */
  secret?: string | undefined;
  /** From JWT_PUBLIC_KEY (a PEM, a JWK or a JWKS), each checked when the config is loaded. */
  publicKeys?: PublicKeySpec[] | undefined;
  /** A JWKS fetched at start and kept fresh; `from` names the setting it came from. */
  jwks?: { url: string; refreshMs: number; cooldownMs: number; from: 'JWT_JWKS_URL' | 'SUPABASE_URL' } | undefined;
  issuer?: string | undefined;
  audience?: string | undefined;
  roleClaimPath: string[];
  /** Where the operator id sits (JWT_ORG_CLAIM); default `app_metadata.org_id`. */
  orgClaimPath?: string[] | undefined;
  clockToleranceSeconds: number;
}

const claimsSchema = z.object({
  sub: z.uuid({ message: 'sub must be a user id (uuid)' }),
  // Up to the year 9999: a signed but absurd exp must not break date arithmetic later.
  exp: z.number({ message: 'exp is required' }).max(253_402_300_799, 'exp is out of range'),
});

export interface TokenVerifier {
  /** Resolves with the caller, or rejects with an AuthError (the token) or KeysUnavailableError (the server). */
  verify(token: string | undefined | null): Promise<Principal>;
  /** Stops the JWKS refresh timer. */
  close(): void;
}

/**
 * Imports every configured key and fetches the JWKS once. Rejects, with a message naming the
 * setting, when no key at all could verify a token: better not to start than to start, report
 * ready and refuse everyone.
 */
export async function createTokenVerifier(config: JwtConfig, deps: { logger?: Logger } = {}): Promise<TokenVerifier> {
  const logger = deps.logger ?? pino({ level: 'silent' });
  const ring: Keyring = {
    ...(config.secret ? { secret: await importSecret(config.secret) } : {}),
    staticKeys: await Promise.all((config.publicKeys ?? []).map(importStatic)),
    ...(config.jwks ? { jwks: new RemoteJwks({ ...config.jwks, logger: logger.child({ component: 'jwks' }) }) } : {}),
  };
  if (!ring.secret && ring.staticKeys.length === 0 && !ring.jwks) throw new KeyError('No JWT key configured (JWT_SECRET, JWT_PUBLIC_KEY or JWT_JWKS_URL)');
  if (ring.jwks && config.jwks) await startJwks(ring, ring.jwks, config.jwks.from, logger);

  return {
    async verify(token) {
      if (!token) throw new AuthError('TOKEN_MISSING', 'No token was provided');
      const key = await selectKey(token, ring);
      let payload: JWTPayload;
      try {
        ({ payload } = await jwtVerify(token, key.key, {
          algorithms: [key.alg],
          clockTolerance: config.clockToleranceSeconds,
          ...(config.issuer ? { issuer: config.issuer } : {}),
          ...(config.audience ? { audience: config.audience } : {}),
        }));
      } catch (err) {
        throw mapJoseError(err);
      }
      const checked = claimsSchema.safeParse(payload);
      if (!checked.success) {
        throw new AuthError('TOKEN_CLAIMS_INVALID', checked.error.issues.map((i) => i.message).join('; '));
      }
      const role = appRole(payload, config.roleClaimPath);
      const orgId = orgOf(payload, config.orgClaimPath ?? DEFAULT_ORG_CLAIM, role);
      // Canonical lower-case uuid: it names the user's room, and the database returns ids in lower case.
      return new VerifiedPrincipal(checked.data.sub.toLowerCase(), role, orgId, checked.data.exp, token);
    },
    close() {
      ring.jwks?.close();
    },
  };
}

/**
 * A verified caller. Its claims are not kept as an object: they are the token's payload, decoded
 * again when asked (each database call, once): a socket holds its principal for hours, and the
 * token it must keep anyway already carries them.
 */
class VerifiedPrincipal implements Principal {
  constructor(
    readonly userId: string,
    readonly role: AppRole,
    readonly orgId: string | null,
    readonly expiresAt: number,
    readonly token: string,
  ) {}

  /** The verified payload, exactly as jose decoded it (base64url JSON of the token's second part). */
  get claims(): Record<string, unknown> {
    const payload = this.token.split('.')[1] ?? '';
    return JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as Record<string, unknown>;
  }
}

/** loadConfig has checked the key with node:crypto; should jose still refuse it, say which. */
async function importStatic(spec: PublicKeySpec): Promise<VerificationKey> {
  try {
    return await importSpec(spec, 'JWT_PUBLIC_KEY');
  } catch (err) {
    throw new KeyError(`JWT_PUBLIC_KEY: key ${JSON.stringify(spec.kid ?? spec.alg)} does not import (${err instanceof Error ? err.message : String(err)})`);
  }
}

/** A JWKS with no keys at start is fatal when nothing else can verify a token, a warning otherwise. */
async function startJwks(ring: Keyring, jwks: RemoteJwks, from: string, logger: Logger): Promise<void> {
  await jwks.start();
  if (jwks.keys().length > 0) return;
  const why = jwks.current ? 'has no key that can verify tokens' : `could not be fetched (${jwks.lastError ?? 'unknown error'})`;
  const others = [ring.secret ? 'JWT_SECRET' : '', ring.staticKeys.length > 0 ? 'JWT_PUBLIC_KEY' : ''].filter(Boolean);
  if (others.length === 0) {
    jwks.close();
    throw new KeyError(`${from}: the JWKS at ${jwks.url} ${why}, and no other key is configured (JWT_SECRET, JWT_PUBLIC_KEY): no token could be verified`);
  }
  logger.warn({ url: jwks.url, from }, `the JWKS ${why}; verifying with ${others.join(' and ')} until it has keys (it is fetched again in the background)`);
}

function claimAt(claims: JWTPayload, path: string[]): unknown {
  let value: unknown = claims;
  for (const key of path) {
    value = value && typeof value === 'object' ? (value as Record<string, unknown>)[key] : undefined;
  }
  return value;
}

/** The application role lives at a configurable claim path (Supabase: `app_metadata.role`). */
function appRole(claims: JWTPayload, path: string[]): AppRole {
  return claimAt(claims, path) === 'admin' ? 'admin' : 'user';
}

const DEFAULT_ORG_CLAIM = ['app_metadata', 'org_id'];
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * The operator of the org claim. Absent (or JSON null): none. An admin token whose org claim is
 * not an operator id is refused: read as "no org" it would be the platform admin's. (The SQL
 * fails closed for it too: is_admin() is false for any org claim.) A user's is only informative.
 */
function orgOf(claims: JWTPayload, path: string[], role: AppRole): string | null {
  const value = claimAt(claims, path);
  if (value === undefined || value === null) return null;
  if (typeof value === 'string' && UUID.test(value)) return value.toLowerCase();
  if (role === 'admin') throw new AuthError('TOKEN_CLAIMS_INVALID', `${path.join('.')} must be an operator id (uuid)`);
  return null;
}

function mapJoseError(err: unknown): AuthError {
  if (err instanceof joseErrors.JWTExpired) return new AuthError('TOKEN_EXPIRED', 'Token has expired');
  if (err instanceof joseErrors.JWTClaimValidationFailed && err.claim === 'nbf' && err.reason === 'check_failed') {
    return new AuthError('TOKEN_NOT_YET_VALID', 'Token is not valid yet');
  }
  const message = err instanceof Error ? err.message : 'unknown error';
  return new AuthError('TOKEN_INVALID', `Token could not be verified: ${message}`);
}

export function bearerToken(header: string | undefined): string | undefined {
  const match = header?.match(/^Bearer\s+(\S+)\s*$/i);
  return match?.[1];
}

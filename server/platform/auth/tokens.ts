import type { KeyObject } from 'node:crypto';
import jwt from 'jsonwebtoken';
import type { AppRole } from './principal.js';

/** A private key to sign with, as Supabase's signing keys do: the algorithm and kid go in the header. */
export interface AsymmetricSigner {
  privateKey: KeyObject | string;
  alg: 'RS256' | 'RS384' | 'RS512' | 'PS256' | 'PS384' | 'PS512' | 'ES256' | 'ES384' | 'ES512';
  kid?: string;
}

interface MintClaims {
  userId: string;
  appRole?: AppRole;
  /** The operator id, in app_metadata.org_id: with appRole admin, that operator's admin. */
  orgId?: string;
  email?: string;
  expiresInSeconds?: number;
  issuer?: string;
  audience?: string;
  extra?: Record<string, unknown>;
}

/** HS256 with the legacy `secret`, or a private key with `signWith`. */
export type MintOptions = MintClaims & ({ secret: string; signWith?: undefined } | { signWith: AsymmetricSigner; secret?: undefined });

/** Mints a Supabase-shaped access token: `role` is the database role, the app role is in app_metadata. */
export function mintToken(opts: MintOptions): string {
  const payload = {
    sub: opts.userId,
    role: 'authenticated',
    email: opts.email,
    app_metadata: { role: opts.appRole ?? 'user', ...(opts.orgId !== undefined ? { org_id: opts.orgId } : {}) },
    ...opts.extra,
  };
  const claimOptions = {
    expiresIn: opts.expiresInSeconds ?? 3600,
    ...(opts.issuer ? { issuer: opts.issuer } : {}),
    ...(opts.audience ? { audience: opts.audience } : {}),
  };
  if (opts.signWith) {
    const { privateKey, alg, kid } = opts.signWith;
    return jwt.sign(payload, privateKey, { ...claimOptions, algorithm: alg, ...(kid !== undefined ? { keyid: kid } : {}) });
  }
  return jwt.sign(payload, opts.secret, { ...claimOptions, algorithm: 'HS256' });
}

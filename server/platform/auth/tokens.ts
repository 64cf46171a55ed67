import jwt from 'jsonwebtoken';
import type { AppRole } from './principal.js';

export interface MintOptions {
  secret: string;
  userId: string;
  appRole?: AppRole;
  email?: string;
  expiresInSeconds?: number;
  issuer?: string;
  audience?: string;
  extra?: Record<string, unknown>;
}

/** Mints a Supabase-shaped HS256 access token: `role` is the database role, the app role is in app_metadata. */
export function mintToken(opts: MintOptions): string {
  const payload = {
    sub: opts.userId,
    role: 'authenticated',
    email: opts.email,
    app_metadata: { role: opts.appRole ?? 'user' },
    ...opts.extra,
  };
  return jwt.sign(payload, opts.secret, {
    algorithm: 'HS256',
    expiresIn: opts.expiresInSeconds ?? 3600,
    ...(opts.issuer ? { issuer: opts.issuer } : {}),
    ...(opts.audience ? { audience: opts.audience } : {}),
  });
}

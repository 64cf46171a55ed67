import { mintToken } from '../../platform/auth/tokens.js';
import { DEMO_ADMIN_ID, DEMO_USER_ID } from './seed.js';

export interface DemoTokens {
  user: string;
  admin: string;
}

/**
 * The demo's user and admin tokens, printed at start and served at `GET /demo/tokens`, or why
 * there are none. They are signed only with the development secret the server generated itself:
 * with a configured key they would be valid tokens, an admin's among them, for the real project,
 * handed to anyone who can reach the port.
 */
export function demoTokens(opts: {
  /** The generated development secret, when the server uses it (no JWT key configured). */
  devSecret: string | undefined;
  production: boolean;
  seedDemoData: boolean;
}): { tokens: DemoTokens } | { reason: string } {
  if (opts.production) return { reason: 'NODE_ENV is production' };
  if (!opts.devSecret) {
    return { reason: 'a JWT key is configured (JWT_SECRET, JWT_PUBLIC_KEY or a JWKS): demo tokens are only signed with the generated development secret' };
  }
  if (!opts.seedDemoData) return { reason: 'SEED_DEMO_DATA is off' };
  const day = 24 * 3600;
  const secret = opts.devSecret;
  return {
    tokens: {
      user: mintToken({ secret, userId: DEMO_USER_ID, email: 'driver@demo.spotcast', expiresInSeconds: day }),
      admin: mintToken({ secret, userId: DEMO_ADMIN_ID, appRole: 'admin', email: 'operator@demo.spotcast', expiresInSeconds: day }),
    },
  };
}

/** What the terminal shows once the demo is listening. */
export function demoBanner(url: string, tokens: DemoTokens): string {
  return (
    `\n  spotcast demo is ready at ${url}\n\n` +
    `  user token (24 h):\n  ${tokens.user}\n\n  admin token (24 h):\n  ${tokens.admin}\n\n` +
    `  try: node test/websocket-test.js\n\n`
  );
}

/**
 * Prints a signed access token for trying the server by hand:
 *   npm run token -- [user|admin] [user-id] [expires-in-seconds] [operator-id]
 * (an operator id makes an admin that operator's admin, in app_metadata.org_id; see README "Operators")
 * Uses JWT_SECRET, or the development secret `npm start` keeps in .data/dev-jwt-secret.
 * With JWT_PRIVATE_KEY_FILE (a private JWK, as `supabase gen signing-key` writes one) it signs
 * with that key instead, its kid and algorithm in the header: for a server that trusts its JWKS.
 */
import { createPrivateKey, createPublicKey, randomUUID, type JsonWebKey } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { checkJwk } from '../server/platform/auth/keys.js';
import { mintToken, type AsymmetricSigner } from '../server/platform/auth/tokens.js';

const [role = 'user', userId = randomUUID(), expires = '3600', orgId] = process.argv.slice(2);
if (role !== 'user' && role !== 'admin') {
  console.error('usage: npm run token -- [user|admin] [user-id] [expires-in-seconds] [operator-id]');
  process.exit(2);
}
const claims = { userId, appRole: role, expiresInSeconds: Number(expires), ...(orgId ? { orgId } : {}) } as const;

// eslint-disable-next-line no-restricted-properties -- a developer script, not the server
const keyFile = process.env.JWT_PRIVATE_KEY_FILE;
if (keyFile) {
  console.log(mintToken({ ...claims, signWith: signerFromJwkFile(keyFile) }));
  process.exit(0);
}
const file = '.data/dev-jwt-secret';
// eslint-disable-next-line no-restricted-properties -- a developer script, not the server
const secret = process.env.JWT_SECRET ?? (existsSync(file) ? readFileSync(file, 'utf8').trim() : undefined);
if (!secret) {
  console.error(`No JWT_SECRET and no ${file}: start the server once with npm start, or set JWT_SECRET.`);
  process.exit(1);
}
console.log(mintToken({ ...claims, secret }));

/** The algorithm is the one the server will bind to the public half of this key. */
function signerFromJwkFile(path: string): AsymmetricSigner {
  const jwk = JSON.parse(readFileSync(path, 'utf8')) as JsonWebKey & { kid?: string };
  const privateKey = createPrivateKey({ key: jwk, format: 'jwk' });
  const check = checkJwk({ ...createPublicKey(privateKey).export({ format: 'jwk' }), ...(jwk.alg ? { alg: jwk.alg } : {}) });
  if (!check.ok || check.spec.alg === 'EdDSA') {
    console.error(`${path}: cannot sign with this key (${check.ok ? 'EdDSA is not supported by the minting library' : check.problem})`);
    process.exit(1);
  }
  return { privateKey, alg: check.spec.alg, ...(jwk.kid ? { kid: jwk.kid } : {}) };
}

import { decodeProtectedHeader } from 'jose';
import { AuthError, KeysUnavailableError } from './auth-errors.js';
import type { RemoteJwks } from './jwks-cache.js';
import { ASYMMETRIC_ALGS, type AsymmetricAlg, type VerificationKey } from './keys.js';

/** Every key this server trusts: the legacy secret, the configured public keys, a JWKS. */
export interface Keyring {
  secret?: VerificationKey;
  staticKeys: readonly VerificationKey[];
  jwks?: RemoteJwks;
}

const invalid = (message: string) => new AuthError('TOKEN_INVALID', `Token could not be verified: ${message}`);

/**
 * The one key that may verify this token, and so the one algorithm. The header only points: `alg`
 * must be the algorithm of the key it picks, never the other way round, so `alg: none` and an
 * HS256 signature made with a public key have no key to be checked against.
 */
export async function selectKey(token: string, ring: Keyring): Promise<VerificationKey> {
  const { alg, kid } = readHeader(token);
  // The shared secret verifies HS256 only, whatever the kid: Supabase gives the legacy secret a kid
  // that no JWKS lists, and no JWKS key ever verifies HS256.
  if (alg === 'HS256') {
    if (ring.secret) return ring.secret;
    throw invalid('HS256 tokens are not accepted here (no JWT_SECRET)');
  }
  if (!ASYMMETRIC_ALGS.includes(alg as AsymmetricAlg)) throw invalid(`alg ${JSON.stringify(alg)} is not accepted`);
  const key = (kid !== undefined && (await byKid(kid, ring))) || byAlg(alg, ring, kid);
  if (key.alg !== alg) throw invalid(`key ${JSON.stringify(key.kid ?? key.source)} verifies ${key.alg}, not ${alg}`);
  return key;
}

function readHeader(token: string): { alg: string; kid?: string } {
  let header: Record<string, unknown>;
  try {
    header = decodeProtectedHeader(token) as Record<string, unknown>;
  } catch {
    throw invalid('it is not a JWT');
  }
  if (typeof header.alg !== 'string') throw invalid('its header has no alg');
  if (header.kid !== undefined && typeof header.kid !== 'string') throw invalid('its header kid is not a string');
  return { alg: header.alg, ...(header.kid !== undefined ? { kid: header.kid } : {}) };
}

const allKeys = (ring: Keyring): VerificationKey[] => [...ring.staticKeys, ...(ring.jwks?.keys() ?? [])];

/** The key with this kid; a kid the JWKS lacks makes it fetch again (rate limited) before giving up. */
async function byKid(kid: string, ring: Keyring): Promise<VerificationKey | undefined> {
  const find = () => allKeys(ring).find((k) => k.kid === kid);
  const known = find();
  if (known || !ring.jwks) return known;
  await ring.jwks.refreshForUnknownKid();
  return find();
}

/**
 * No key has the token's kid, or the token has none: a key without a kid of its own (a PEM, say)
 * may still verify it, if it is the only key of that algorithm that could. With several, the token
 * must say which: trying each would let one token be checked against keys it never named.
 */
function byAlg(alg: string, ring: Keyring, kid: string | undefined): VerificationKey {
  const candidates = allKeys(ring).filter((k) => k.alg === alg && (kid === undefined || k.kid === undefined));
  const [only, ...more] = candidates;
  if (only && more.length === 0) return only;
  if (only) {
    const which = kid === undefined ? 'it names no kid and' : `no key has kid ${JSON.stringify(kid)} and, without a kid,`;
    throw invalid(`${which} ${candidates.length} keys verify ${alg}`);
  }
  if (ring.jwks && !ring.jwks.current) throw unavailable(ring.jwks);
  throw invalid(kid !== undefined ? `no key has kid ${JSON.stringify(kid)}` : `no key verifies ${alg}`);
}

/** Why the JWKS failed stays in the server's log: the client learns only that it should retry. */
function unavailable(jwks: RemoteJwks): KeysUnavailableError {
  return new KeysUnavailableError('The key that verifies this token cannot be fetched right now; try again shortly', jwks.retryAfterMs());
}

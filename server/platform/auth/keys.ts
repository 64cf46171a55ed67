import { createPublicKey, webcrypto, type JsonWebKey, type KeyObject } from 'node:crypto';
import { importJWK, type CryptoKey, type JWK } from 'jose';
import { z } from 'zod';

/**
 * Public keys that verify tokens: what a JWK, a JWKS or a PEM holds, and which one algorithm each
 * key verifies. The key decides its algorithm (its `alg`, else its type and curve); a token's
 * header only has to agree with it. Everything here is synchronous so `loadConfig` can refuse a
 * bad `JWT_PUBLIC_KEY` before anything starts.
 */

export const ASYMMETRIC_ALGS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA'] as const;
export type AsymmetricAlg = (typeof ASYMMETRIC_ALGS)[number];

/** A checked public key: its public members only (no `d`, no `use`), its id and its one algorithm. */
export interface PublicKeySpec {
  kid?: string;
  alg: AsymmetricAlg;
  jwk: JsonWebKey;
}

export type KeyCheck = { ok: true; spec: PublicKeySpec } | { ok: false; problem: string };

/** Thrown for a configured key that cannot verify anything; the message says why. */
export class KeyError extends Error {
  override name = 'KeyError';
}

const EC_ALG: Record<string, AsymmetricAlg> = { 'P-256': 'ES256', 'P-384': 'ES384', 'P-521': 'ES512' };
const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k'];

const isAsymmetricAlg = (value: unknown): value is AsymmetricAlg => ASYMMETRIC_ALGS.includes(value as AsymmetricAlg);

/** The algorithm a key of this type and curve verifies when it names none. */
function defaultAlg(jwk: Record<string, unknown>): AsymmetricAlg | undefined {
  if (jwk.kty === 'RSA') return 'RS256';
  if (jwk.kty === 'EC') return EC_ALG[String(jwk.crv)];
  if (jwk.kty === 'OKP' && jwk.crv === 'Ed25519') return 'EdDSA';
  return undefined;
}

/** Whether a named algorithm fits the key: RS/PS on RSA, ES on its own curve, EdDSA on Ed25519. */
function algFits(alg: AsymmetricAlg, jwk: Record<string, unknown>): boolean {
  if (alg.startsWith('RS') || alg.startsWith('PS')) return jwk.kty === 'RSA';
  if (alg === 'EdDSA') return jwk.kty === 'OKP' && jwk.crv === 'Ed25519';
  return jwk.kty === 'EC' && EC_ALG[String(jwk.crv)] === alg;
}

function usageProblem(jwk: Record<string, unknown>): string | undefined {
  if (typeof jwk.kty !== 'string') return 'it has no "kty"';
  if (jwk.kid !== undefined && typeof jwk.kid !== 'string') return '"kid" is not a string';
  if (jwk.use !== undefined && jwk.use !== 'sig') return `"use" is ${JSON.stringify(jwk.use)}: not a signing key`;
  if (jwk.key_ops !== undefined && !(Array.isArray(jwk.key_ops) && jwk.key_ops.includes('verify'))) return '"key_ops" does not include "verify"';
  if (jwk.kty === 'oct') return 'a shared secret (kty "oct") does not belong in a key set: give it as JWT_SECRET';
  if (PRIVATE_MEMBERS.some((m) => m in jwk)) return 'it is a private key: give the public key only';
  return undefined;
}

/** Checks one JWK: a public signing key of a supported type, with material that imports. */
export function checkJwk(value: unknown): KeyCheck {
  if (!value || typeof value !== 'object' || Array.isArray(value)) return { ok: false, problem: 'it is not a JSON object' };
  const jwk = value as Record<string, unknown>;
  const problem = usageProblem(jwk);
  if (problem) return { ok: false, problem };
  if (jwk.alg !== undefined && !isAsymmetricAlg(jwk.alg)) return { ok: false, problem: `"alg" ${JSON.stringify(jwk.alg)} is not supported (${ASYMMETRIC_ALGS.join(', ')})` };
  const alg = (jwk.alg as AsymmetricAlg | undefined) ?? defaultAlg(jwk);
  if (!alg) return { ok: false, problem: `key type ${JSON.stringify(jwk.kty)}${jwk.crv ? ` on curve ${JSON.stringify(jwk.crv)}` : ''} is not supported` };
  if (!algFits(alg, jwk)) return { ok: false, problem: `"alg" ${alg} does not fit a ${String(jwk.kty)}${jwk.crv ? ` ${String(jwk.crv)}` : ''} key` };
  let keyObject: KeyObject;
  try {
    keyObject = createPublicKey({ key: jwk as JsonWebKey, format: 'jwk' });
  } catch (err) {
    return { ok: false, problem: `its key material does not import (${err instanceof Error ? err.message : String(err)})` };
  }
  const bits = keyObject.asymmetricKeyDetails?.modulusLength;
  if (jwk.kty === 'RSA' && (bits ?? 0) < 2048) return { ok: false, problem: `an RSA key of ${bits} bits is too short (2048 at least)` };
  return { ok: true, spec: { ...(typeof jwk.kid === 'string' ? { kid: jwk.kid } : {}), alg, jwk: keyObject.export({ format: 'jwk' }) } };
}

const jwksShape = z.object({ keys: z.array(z.unknown()) });

/** The usable keys of a fetched JWKS, and why each other member was left out. */
export function keysOfJwks(json: unknown): { keys: PublicKeySpec[]; skipped: string[] } {
  const parsed = jwksShape.safeParse(json);
  if (!parsed.success) throw new KeyError('it is not a JSON Web Key Set ({ "keys": [...] })');
  const keys: PublicKeySpec[] = [];
  const skipped: string[] = [];
  parsed.data.keys.forEach((member, i) => {
    const check = checkJwk(member);
    const name = memberName(member, i);
    if (!check.ok) skipped.push(`${name}: ${check.problem}`);
    else if (check.spec.kid !== undefined && keys.some((k) => k.kid === check.spec.kid)) skipped.push(`${name}: a second key with this kid`);
    else keys.push(check.spec);
  });
  return { keys, skipped };
}

function memberName(member: unknown, index: number): string {
  const kid = member && typeof member === 'object' ? (member as { kid?: unknown }).kid : undefined;
  return typeof kid === 'string' ? `key "${kid}"` : `key #${index + 1}`;
}

/**
 * `JWT_PUBLIC_KEY`: a PEM public key, a JWK, or a JWKS, as JSON. Every key in it must be usable:
 * an operator's static key that cannot verify anything is a mistake to stop on, not to skip.
 */
export function parsePublicKeySetting(value: string): PublicKeySpec[] {
  const text = value.trim();
  if (text.startsWith('{')) return parseJsonKeys(text);
  if (/-----BEGIN [A-Z ]+-----/.test(text)) return [parsePem(text)];
  throw new KeyError('it is neither a PEM public key nor a JWK or JWKS in JSON');
}

function parseJsonKeys(text: string): PublicKeySpec[] {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new KeyError(`it starts like JSON but does not parse (${err instanceof Error ? err.message : String(err)})`);
  }
  if (json && typeof json === 'object' && 'keys' in json) {
    const { keys, skipped } = keysOfJwks(json);
    if (skipped.length > 0) throw new KeyError(`the key set has keys that cannot verify tokens: ${skipped.join('; ')}`);
    if (keys.length === 0) throw new KeyError('the key set has no keys');
    return keys;
  }
  const check = checkJwk(json);
  if (!check.ok) throw new KeyError(`the JWK cannot verify tokens: ${check.problem}`);
  return [check.spec];
}

function parsePem(pem: string): PublicKeySpec {
  // createPublicKey would quietly derive the public half of a private key: refuse instead, the
  // private key has no business in this server's environment.
  if (/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(pem)) throw new KeyError('it is a private key: give the public key only');
  let jwk: JsonWebKey;
  try {
    jwk = createPublicKey(pem).export({ format: 'jwk' });
  } catch (err) {
    throw new KeyError(`the PEM does not hold a usable public key (${err instanceof Error ? err.message : String(err)})`);
  }
  const check = checkJwk(jwk);
  if (!check.ok) throw new KeyError(`the PEM key cannot verify tokens: ${check.problem}`);
  return check.spec;
}

/** A key ready for jose: imported once, with the one algorithm it verifies and where it came from. */
export interface VerificationKey {
  kid?: string;
  alg: AsymmetricAlg | 'HS256';
  key: CryptoKey;
  /** `JWT_SECRET`, `JWT_PUBLIC_KEY` or the JWKS URL: named in logs and refusals. */
  source: string;
}

export async function importSpec(spec: PublicKeySpec, source: string): Promise<VerificationKey> {
  const key = (await importJWK(spec.jwk as JWK, spec.alg)) as CryptoKey;
  return { ...(spec.kid !== undefined ? { kid: spec.kid } : {}), alg: spec.alg, key, source };
}

/**
 * The legacy shared secret, as Supabase uses it: its UTF-8 bytes are the HMAC key. Imported once as
 * a non-extractable CryptoKey (jose would take the bytes, and import them again on every token).
 */
export async function importSecret(secret: string): Promise<VerificationKey> {
  const key = await webcrypto.subtle.importKey('raw', Buffer.from(secret, 'utf8'), { name: 'HMAC', hash: 'SHA-256' }, false, ['verify']);
  return { alg: 'HS256', key: key as CryptoKey, source: 'JWT_SECRET' };
}

import assert from 'node:assert/strict';
import { createHmac, generateKeyPairSync, randomBytes } from 'node:crypto';
import jwt from 'jsonwebtoken';
import { closeAll, newUserId } from './helpers/clients.js';
import { expectAccepted, expectRefused, JwksServer, newKey, signedBy } from './helpers/jwks.js';
import { startTestServer, TEST_SECRET, type TestServer } from './helpers/server.js';

const b64url = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString('base64url');
const nowS = (): number => Math.floor(Date.now() / 1000);
const claims = (extra: Record<string, unknown> = {}) => ({
  sub: newUserId(),
  role: 'authenticated',
  app_metadata: { role: 'admin' },
  iat: nowS(),
  exp: nowS() + 3600,
  ...extra,
});

/** A token made by hand: any header, any HMAC key, whatever a library would refuse to produce. */
function handMade(header: Record<string, unknown>, payload: Record<string, unknown>, hmacKey?: string | Buffer): string {
  const input = `${b64url(header)}.${b64url(payload)}`;
  return `${input}.${hmacKey === undefined ? '' : createHmac('sha256', hmacKey).update(input).digest('base64url')}`;
}

/** The same token with its header or payload replaced and the original signature kept. */
function tampered(token: string, part: { header?: Record<string, unknown>; payload?: Record<string, unknown> }): string {
  const [header = '', payload = '', signature = ''] = token.split('.');
  return [part.header ? b64url(part.header) : header, part.payload ? b64url(part.payload) : payload, signature].join('.');
}

/**
 * Every forged or misused token is refused, over the socket and over HTTP, by a server that trusts
 * the legacy secret and a JWKS at once: two ES256 keys, an RS256 key, and members that must never
 * verify anything (an encryption key, a shared secret, a short RSA key).
 */
describe('forged tokens against the legacy secret and a JWKS together', function () {
  this.timeout(30_000);
  const a = newKey('ES256');
  const a2 = newKey('ES256');
  const b = newKey('RS256');
  const forger = newKey('ES256');
  const forgerRsa = newKey('RS256');
  const enc = newKey('ES256');
  const sharedBytes = randomBytes(32);
  const weak = generateKeyPairSync('rsa', { modulusLength: 1024 });
  const weakKid = 'short-rsa';
  let jwks: JwksServer;
  let server: TestServer;

  before(async () => {
    jwks = await JwksServer.start([
      a.jwk,
      a2.jwk,
      b.jwk,
      { ...enc.jwk, use: 'enc', key_ops: ['encrypt'] },
      { kty: 'oct', kid: 'shared', k: sharedBytes.toString('base64url'), alg: 'HS256' },
      { ...weak.publicKey.export({ format: 'jwk' }), kid: weakKid, alg: 'RS256', use: 'sig' },
    ]);
    server = await startTestServer({ JWT_JWKS_URL: jwks.url });
  });
  after(async () => {
    await server?.stop();
    await jwks?.close();
  });
  afterEach(closeAll);

  it('(control) genuine tokens of each key, and of the secret, are accepted', async () => {
    for (const key of [a, a2, b]) {
      const userId = newUserId();
      await expectAccepted(server, signedBy(key, userId), userId);
    }
    const userId = newUserId();
    await expectAccepted(server, server.token(userId), userId);
  });

  const forged: [string, () => string, string?][] = [
    ['alg none, naming a kid of the set', () => handMade({ alg: 'none', typ: 'JWT', kid: a.kid }, claims())],
    ['HS256 with the EC public key (PEM) as HMAC key: key confusion', () => handMade({ alg: 'HS256', kid: a.kid }, claims(), a.publicKey.export({ type: 'spki', format: 'pem' }))],
    ['HS256 with the RSA public key (its JWK JSON) as HMAC key', () => handMade({ alg: 'HS256', kid: b.kid }, claims(), JSON.stringify(b.jwk))],
    ['naming a kid of the set, signed by another key', () => signedBy(forger, newUserId(), { kid: a.kid })],
    ['an RS256 header on the EC key\'s kid', () => signedBy(forgerRsa, newUserId(), { kid: a.kid })],
    ['PS256 signed by the real RSA key: that key verifies RS256 only', () => jwt.sign(claims(), b.privateKey, { algorithm: 'PS256', keyid: b.kid })],
    ['an ES384 header on a P-256 key', () => tampered(signedBy(a, newUserId()), { header: { alg: 'ES384', typ: 'JWT', kid: a.kid } })],
    ['a genuine signature over a payload made admin afterwards', () => tampered(signedBy(a, newUserId()), { payload: claims() })],
    ['a genuine ES256 signature with no kid, when two keys verify ES256', () => signedBy(a, newUserId(), { kid: null })],
    ['the kid of a key published for encryption (use: enc)', () => signedBy(enc, newUserId())],
    ['HS256 with the bytes of a shared secret published in the set (kty oct)', () => handMade({ alg: 'HS256', kid: 'shared' }, claims(), sharedBytes)],
    ['RS256 by an RSA key of 1024 bits', () => jwt.sign(claims(), weak.privateKey, { algorithm: 'RS256', keyid: weakKid, allowInsecureKeySizes: true })],
    ['a key the token brings along (jwk, jku headers)', () => jwt.sign(claims(), forger.privateKey, { algorithm: 'ES256', keyid: forger.kid, header: { alg: 'ES256', jwk: forger.jwk, jku: jwks.url } as never })],
    ['a kid that is not a string', () => tampered(signedBy(a, newUserId()), { header: { alg: 'ES256', kid: 42 } })],
    ['HS512 with the legacy secret: the secret verifies HS256 only', () => jwt.sign(claims(), TEST_SECRET, { algorithm: 'HS512' })],
    ['HS256 with the wrong secret, naming the legacy kid', () => jwt.sign(claims(), 'another-secret-that-is-long-enough-0123456789', { algorithm: 'HS256', keyid: 'legacy' })],
    ['expired and forged: the signature is checked first', () => signedBy(forger, newUserId(), { kid: a.kid, expiresInSeconds: -60 })],
    ['expired, genuinely signed', () => signedBy(a, newUserId(), { expiresInSeconds: -60 }), 'TOKEN_EXPIRED'],
    ['nbf in the future, genuinely signed', () => signedBy(b, newUserId(), { extra: { nbf: nowS() + 3600 } }), 'TOKEN_NOT_YET_VALID'],
    ['not a JWT at all', () => 'eyJhbGciOiJFUzI1NiJ9.not-base64-json.sig'],
  ];

  for (const [name, make, code = 'TOKEN_INVALID'] of forged) {
    it(`${name} → ${code}`, async () => {
      await expectRefused(server, make(), code);
    });
  }

  it('all of it cost at most one JWKS fetch beyond the start (the unknown kids share one per cooldown)', () => {
    assert.equal(jwks.requests, 2);
  });
});

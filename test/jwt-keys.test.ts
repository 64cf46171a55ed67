import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { promisify } from 'node:util';
import { ConfigError, loadConfig } from '../server/config.js';
import { closeAll, newUserId } from './helpers/clients.js';
import { expectAccepted, JwksServer, newKey, signedBy } from './helpers/jwks.js';
import { startTestServer, TEST_SECRET } from './helpers/server.js';

const run = promisify(execFile);
const rsaPem = (modulusLength = 2048) =>
  generateKeyPairSync('rsa', { modulusLength, publicKeyEncoding: { type: 'spki', format: 'pem' }, privateKeyEncoding: { type: 'pkcs8', format: 'pem' } });
const ecPem = (namedCurve = 'P-256') =>
  generateKeyPairSync('ec', { namedCurve, publicKeyEncoding: { type: 'spki', format: 'pem' }, privateKeyEncoding: { type: 'pkcs8', format: 'pem' } });
const load = (env: Record<string, string>) => loadConfig({ NODE_ENV: 'test', ...env });
const refusedWith = (env: Record<string, string>, pattern: RegExp) =>
  assert.throws(() => load(env), (err: Error) => err instanceof ConfigError && pattern.test(err.message), `${JSON.stringify(env).slice(0, 80)} → ${pattern}`);

describe('JWT keys checked at start', function () {
  this.timeout(30_000);
  afterEach(closeAll);

  describe('JWT_PUBLIC_KEY: a PEM, a JWK or a JWKS; one that cannot verify anything stops loadConfig, naming it', () => {
    const ec = newKey('ES256');
    const rsa = newKey('RS256');

    it('refuses each unusable value with its reason', () => {
      const cases: [string, RegExp][] = [
        ['not-a-key', /^JWT_PUBLIC_KEY: it is neither a PEM public key nor a JWK or JWKS in JSON$/],
        [ecPem().publicKey.slice(0, 80) + '\n-----END PUBLIC KEY-----', /^JWT_PUBLIC_KEY: the PEM does not hold a usable public key/],
        [ecPem().privateKey, /^JWT_PUBLIC_KEY: it is a private key: give the public key only$/],
        [JSON.stringify(ec.privateKey.export({ format: 'jwk' })), /^JWT_PUBLIC_KEY: the JWK cannot verify tokens: it is a private key/],
        [JSON.stringify({ ...ec.jwk, use: 'enc' }), /^JWT_PUBLIC_KEY: the JWK cannot verify tokens: "use" is "enc": not a signing key$/],
        [JSON.stringify({ kty: 'oct', k: 'c2VjcmV0' }), /^JWT_PUBLIC_KEY: .*kty "oct".*give it as JWT_SECRET$/],
        [JSON.stringify({ ...rsa.jwk, alg: 'ES256' }), /^JWT_PUBLIC_KEY: .*"alg" ES256 does not fit a RSA key$/],
        [JSON.stringify({ ...rsa.jwk, alg: 'HS256' }), /^JWT_PUBLIC_KEY: .*"alg" "HS256" is not supported/],
        [JSON.stringify({ ...ec.jwk, x: ec.jwk.y }), /^JWT_PUBLIC_KEY: .*its key material does not import/],
        [rsaPem(1024).publicKey, /^JWT_PUBLIC_KEY: .*an RSA key of 1024 bits is too short/],
        [ecPem('secp256k1').publicKey, /^JWT_PUBLIC_KEY: .*key type "EC" on curve "secp256k1" is not supported$/],
        [JSON.stringify({ keys: [ec.jwk, { ...rsa.jwk, key_ops: ['encrypt'] }] }), new RegExp(`^JWT_PUBLIC_KEY: the key set has keys that cannot verify tokens: key "${rsa.kid}": "key_ops" does not include "verify"$`)],
        [JSON.stringify({ keys: [] }), /^JWT_PUBLIC_KEY: the key set has no keys$/],
        ['{"kty": "EC",', /^JWT_PUBLIC_KEY: it starts like JSON but does not parse/],
      ];
      for (const [value, pattern] of cases) refusedWith({ JWT_PUBLIC_KEY: value }, pattern);
    });

    it('takes a PEM (also with \\n escapes), a JWK with its kid, and a JWKS; and JWT_SECRET beside them', () => {
      const escaped = rsaPem().publicKey.replace(/\n/g, '\\n');
      assert.deepEqual(load({ JWT_PUBLIC_KEY: escaped }).jwt.publicKeys?.map((k) => [k.kid, k.alg]), [[undefined, 'RS256']]);
      assert.deepEqual(load({ JWT_PUBLIC_KEY: JSON.stringify(ec.jwk) }).jwt.publicKeys?.map((k) => [k.kid, k.alg]), [[ec.kid, 'ES256']]);
      const both = load({ JWT_SECRET: TEST_SECRET, JWT_PUBLIC_KEY: JSON.stringify({ keys: [ec.jwk, rsa.jwk] }) });
      assert.equal(both.jwt.secret, TEST_SECRET);
      assert.deepEqual(both.jwt.publicKeys?.map((k) => [k.kid, k.alg]), [[ec.kid, 'ES256'], [rsa.kid, 'RS256']]);
    });

    it('a server with a JWKS in JWT_PUBLIC_KEY and the secret verifies both kinds and HS256', async () => {
      const server = await startTestServer({ JWT_PUBLIC_KEY: JSON.stringify({ keys: [ec.jwk, rsa.jwk] }) });
      try {
        for (const key of [ec, rsa]) {
          const userId = newUserId();
          await expectAccepted(server, signedBy(key, userId), userId);
        }
        const userId = newUserId();
        await expectAccepted(server, server.token(userId), userId);
      } finally {
        await server.stop();
      }
    });
  });

  describe('the JWKS URL', () => {
    it('defaults to <SUPABASE_URL>/auth/v1/.well-known/jwks.json; JWT_JWKS_URL overrides; off turns it off', () => {
      assert.deepEqual(load({ SUPABASE_URL: 'https://abcdefgh.supabase.co/' }).jwt.jwks, {
        url: 'https://abcdefgh.supabase.co/auth/v1/.well-known/jwks.json',
        refreshMs: 600_000,
        cooldownMs: 30_000,
        from: 'SUPABASE_URL',
      });
      const own = load({ SUPABASE_URL: 'https://abcdefgh.supabase.co', JWT_JWKS_URL: 'https://keys.example/jwks.json', JWT_JWKS_REFRESH_MS: '60000' }).jwt.jwks;
      assert.deepEqual([own?.url, own?.refreshMs, own?.from], ['https://keys.example/jwks.json', 60_000, 'JWT_JWKS_URL']);
      assert.equal(load({ SUPABASE_URL: 'https://abcdefgh.supabase.co', JWT_JWKS_URL: 'off' }).jwt.jwks, undefined);
      assert.equal(load({}).jwt.jwks, undefined);
    });

    it('refuses what is not an http(s) URL, and plain http to another host in production', () => {
      refusedWith({ JWT_JWKS_URL: 'keys please' }, /^JWT_JWKS_URL: "keys please" is not a URL$/);
      refusedWith({ JWT_JWKS_URL: 'file:///etc/jwks.json' }, /^JWT_JWKS_URL: the JWKS URL must be http\(s\)/);
      refusedWith({ NODE_ENV: 'production', JWT_JWKS_URL: 'http://auth.internal/jwks.json' }, /^JWT_JWKS_URL: in production the JWKS must be fetched over https/);
      refusedWith({ NODE_ENV: 'production', SUPABASE_URL: 'http://kong:8000' }, /^SUPABASE_URL: in production the JWKS must be fetched over https/);
      assert.equal(load({ NODE_ENV: 'production', METRICS_PORT: '9100', JWT_JWKS_URL: 'http://127.0.0.1:9999/jwks.json' }).jwt.jwks?.url, 'http://127.0.0.1:9999/jwks.json');
    });

    it('in production some key is required, and a JWKS is one', () => {
      refusedWith({ NODE_ENV: 'production' }, /^In production a JWT key is required/);
      assert.ok(load({ NODE_ENV: 'production', METRICS_PORT: '9100', SUPABASE_URL: 'https://abcdefgh.supabase.co' }).jwt.jwks);
    });
  });

  describe('the JWKS is fetched at start', () => {
    const key = newKey('ES256');
    let jwks: JwksServer;
    before(async () => {
      jwks = await JwksServer.start([key.jwk]);
    });
    after(() => jwks?.close());

    it('unreachable, with no other key: the start fails, naming the setting, the URL and why', async () => {
      jwks.down();
      const escaped = jwks.url.replace(/[./]/g, '\\$&');
      await assert.rejects(startTestServer({ JWT_SECRET: '', JWT_JWKS_URL: jwks.url }), new RegExp(`^KeyError: JWT_JWKS_URL: the JWKS at ${escaped} could not be fetched \\(fetch failed: .+\\), and no other key is configured`));
      jwks.answerStatus(404);
      await assert.rejects(startTestServer({ JWT_SECRET: '', SUPABASE_URL: new URL(jwks.url).origin }), /^KeyError: SUPABASE_URL: the JWKS at .* could not be fetched \(it answered HTTP 404\)/);
    });

    it('answering a set with no usable key, with no other key: the start fails too', async () => {
      jwks.serve([{ ...key.jwk, use: 'enc' }]);
      await assert.rejects(startTestServer({ JWT_SECRET: '', JWT_JWKS_URL: jwks.url }), /^KeyError: JWT_JWKS_URL: the JWKS at .* has no key that can verify tokens, and no other key/);
    });

    it('the real process exits 1 before touching the database, saying which setting is wrong', async () => {
      jwks.down();
      const env = { PATH: process.env.PATH ?? '', NODE_ENV: 'test', PORT: '0', DATABASE_URL: 'postgres://postgres@127.0.0.1:1/unreachable' };
      const start = (extra: Record<string, string>) =>
        run(process.execPath, ['--import', 'tsx', 'server/index.ts'], { env: { ...env, ...extra }, timeout: 20_000 }).then(
          () => assert.fail('the server started'),
          (err: { code: number; stdout: string; stderr: string }) => ({ code: err.code, output: err.stdout + err.stderr }),
        );
      const badKey = await start({ JWT_PUBLIC_KEY: 'not-a-key' });
      assert.equal(badKey.code, 1);
      assert.match(badKey.output, /JWT_PUBLIC_KEY: it is neither a PEM public key nor a JWK or JWKS in JSON/);
      const noJwks = await start({ JWT_JWKS_URL: jwks.url });
      assert.equal(noJwks.code, 1);
      assert.match(noJwks.output, /JWT_JWKS_URL: the JWKS at \S+ could not be fetched/);
      assert.doesNotMatch(noJwks.output, /migrations|database/i);
    });
  });
});

import assert from 'node:assert/strict';
import jwt from 'jsonwebtoken';
import { call, closeAll, connect, newUserId } from './helpers/clients.js';
import { eventually, expectAccepted, expectRefused, JwksServer, newKey, signedBy, type TestKey } from './helpers/jwks.js';
import { startTestServer, TEST_SECRET, type TestServer } from './helpers/server.js';
import { request } from './helpers/http.js';

/**
 * Supabase signing keys: tokens verified against a JWKS served by a real local HTTP server, through
 * a real spotcast server, over sockets and HTTP. Every server here has its own JWKS endpoint, so the
 * request counts are exact.
 */
describe('JWKS (Supabase signing keys)', function () {
  this.timeout(30_000);
  const servers: { stop(): Promise<void> }[] = [];
  const jwksServers: JwksServer[] = [];
  const track = <T extends { stop(): Promise<void> }>(s: T): T => (servers.push(s), s);
  const endpoint = async (keys: TestKey[]): Promise<JwksServer> => {
    const jwks = await JwksServer.start(keys.map((k) => k.jwk));
    jwksServers.push(jwks);
    return jwks;
  };
  afterEach(closeAll);
  after(async () => {
    for (const s of servers.splice(0)) await s.stop();
    for (const j of jwksServers.splice(0)) await j.close();
  });

  describe('ES256 and RS256 keys with the legacy secret beside them (a switch-over)', () => {
    const ec = newKey('ES256');
    const rsa = newKey('RS256');
    let jwks: JwksServer;
    let server: TestServer;
    before(async () => {
      jwks = await endpoint([ec, rsa]);
      server = track(await startTestServer({ JWT_JWKS_URL: jwks.url }));
    });

    it('an ES256 and an RS256 token, each naming its kid, open a socket and pass HTTP', async () => {
      for (const key of [ec, rsa]) {
        const userId = newUserId();
        await expectAccepted(server, signedBy(key, userId), userId);
      }
    });

    it('the app role comes from the token whichever key signed it', async () => {
      const adminId = newUserId();
      const res = await request(server, 'GET', '/realtime/live-stats', { token: signedBy(rsa, adminId, { appRole: 'admin' }) });
      assert.equal(res.status, 200);
      const user = await request(server, 'GET', '/realtime/live-stats', { token: signedBy(ec, newUserId()) });
      assert.equal(user.status, 403);
    });

    it('HS256 tokens of the legacy secret still work, also with the kid Supabase gives that secret', async () => {
      const userId = newUserId();
      await expectAccepted(server, server.token(userId), userId);
      const withKid = jwt.sign({ sub: userId, role: 'authenticated' }, TEST_SECRET, { algorithm: 'HS256', expiresIn: 600, keyid: 'legacy-secret-kid' });
      await expectAccepted(server, withKid, userId);
    });

    it('fetched the set once, at start: known kids cost no request', () => {
      assert.equal(jwks.requests, 1);
    });

    it('SUPABASE_URL alone is enough: its JWKS is <SUPABASE_URL>/auth/v1/.well-known/jwks.json', async () => {
      const supabaseUrl = `${new URL(jwks.url).origin}/`;
      const bySupabaseUrl = track(await startTestServer({ JWT_SECRET: '', SUPABASE_URL: supabaseUrl }));
      assert.equal(bySupabaseUrl.config.jwt.jwks?.url, jwks.url);
      const userId = newUserId();
      await expectAccepted(bySupabaseUrl, signedBy(ec, userId), userId);
    });
  });

  describe('rotation without a restart', () => {
    it('a new key is used as soon as a token names its kid (one fetch)', async () => {
      const [a, b] = [newKey('ES256'), newKey('ES256')];
      const jwks = await endpoint([a]);
      const server = track(await startTestServer({ JWT_SECRET: '', JWT_JWKS_URL: jwks.url, JWT_JWKS_COOLDOWN_MS: '60000' }));
      const userId = newUserId();
      await expectAccepted(server, signedBy(a, userId), userId);
      jwks.serve([a.jwk, b.jwk]);
      await expectAccepted(server, signedBy(b, userId), userId);
      assert.equal(jwks.requests, 2, 'the start, then one fetch for the new kid');
    });

    it('a key removed from the set stops verifying once the set is fetched again; its successor keeps working', async () => {
      const [a, b] = [newKey('RS256'), newKey('ES256')];
      const jwks = await endpoint([a, b]);
      const server = track(await startTestServer({ JWT_SECRET: '', JWT_JWKS_URL: jwks.url, JWT_JWKS_REFRESH_MS: '200' }));
      const userId = newUserId();
      const oldToken = signedBy(a, userId);
      await expectAccepted(server, oldToken, userId);
      jwks.serve([b.jwk]);
      await jwks.nextRequest();
      await eventually(() => expectRefused(server, oldToken, 'TOKEN_INVALID'));
      await expectAccepted(server, signedBy(b, userId), userId);
    });
  });

  describe('an unknown kid', () => {
    it('fetches the set again at most once per cooldown, however many tokens name unknown kids', async () => {
      const a = newKey('ES256');
      const jwks = await endpoint([a]);
      const server = track(await startTestServer({ JWT_SECRET: '', JWT_JWKS_URL: jwks.url, JWT_JWKS_COOLDOWN_MS: '60000' }));
      assert.equal(jwks.requests, 1);
      const forger = newKey('ES256');
      // A burst of 30 made-up kids at once shares one fetch...
      const burst = Array.from({ length: 30 }, (_, i) => signedBy(forger, newUserId(), { kid: `made-up-${i}` }));
      const answers = await Promise.all(burst.map((token) => request(server, 'GET', '/realtime/connection-status', { token })));
      assert.deepEqual(new Set(answers.map((r) => `${r.status} ${r.body.error?.code}`)), new Set(['401 TOKEN_INVALID']));
      assert.equal(jwks.requests, 2);
      // ...and later ones, on sockets and HTTP, fetch nothing within the cooldown.
      for (let i = 0; i < 10; i++) await expectRefused(server, signedBy(forger, newUserId(), { kid: `later-${i}` }), 'TOKEN_INVALID');
      assert.equal(jwks.requests, 2);
      // The price: a key published during that window waits for the next fetch (cooldown or refresh).
      const c = newKey('ES256');
      jwks.serve([a.jwk, c.jwk]);
      await expectRefused(server, signedBy(c, newUserId()), 'TOKEN_INVALID');
      assert.equal(jwks.requests, 2);
      const userId = newUserId();
      await expectAccepted(server, signedBy(a, userId), userId);
    });
  });

  describe('a JWKS endpoint that is down', () => {
    it('keeps verifying with the keys it had, long past the refresh interval; a kid it cannot look up is AUTH_KEYS_UNAVAILABLE (503)', async () => {
      const [a, b] = [newKey('ES256'), newKey('RS256')];
      const jwks = await endpoint([a]);
      const server = track(await startTestServer({ JWT_SECRET: '', JWT_JWKS_URL: jwks.url, JWT_JWKS_REFRESH_MS: '200', JWT_JWKS_COOLDOWN_MS: '200' }));
      const userId = newUserId();
      await expectAccepted(server, signedBy(a, userId), userId);
      jwks.down();
      await jwks.nextRequest();
      await eventually(() => expectRefused(server, signedBy(b, newUserId()), 'AUTH_KEYS_UNAVAILABLE', 503));
      // Several failed refreshes later (each 200 ms apart), the cached key still verifies.
      const failed = jwks.requests;
      await jwks.nextRequest();
      await jwks.nextRequest();
      assert.ok(jwks.requests >= failed + 2);
      await expectAccepted(server, signedBy(a, userId), userId);
      jwks.answerStatus(500);
      await jwks.nextRequest();
      await expectAccepted(server, signedBy(a, userId), userId);
      // Back up, with the new key: it verifies without a restart.
      jwks.serve([a.jwk, b.jwk]);
      await eventually(() => expectAccepted(server, signedBy(b, userId), userId));
    });

    it('down at start beside the legacy secret: the server starts, HS256 works, JWKS tokens get 503 until it answers', async () => {
      const a = newKey('ES256');
      const jwks = await endpoint([a]);
      jwks.down();
      const server = track(await startTestServer({ JWT_JWKS_URL: jwks.url, JWT_JWKS_COOLDOWN_MS: '200' }));
      const userId = newUserId();
      await expectAccepted(server, server.token(userId), userId);
      await expectRefused(server, signedBy(a, userId), 'AUTH_KEYS_UNAVAILABLE', 503);
      // An open socket moving to a token of the new key is told the same, on its ack.
      const { socket } = await connect(server.url, server.token(userId));
      const early = await call(socket, 'refresh_token', { token: signedBy(a, userId) });
      assert.equal(early.error.code, 'AUTH_KEYS_UNAVAILABLE');
      jwks.serve([a.jwk]);
      await eventually(() => expectAccepted(server, signedBy(a, userId), userId));
      const refreshed = await call(socket, 'refresh_token', { token: signedBy(a, userId, { expiresInSeconds: 7200 }) });
      assert.equal(refreshed.ok, true);
      assert.ok(Date.parse(refreshed.data.token_expires_at) > Date.now() + 3600_000);
    });
  });
});

import assert from 'node:assert/strict';
import { createHmac, generateKeyPairSync } from 'node:crypto';
import jwt from 'jsonwebtoken';
import { io, type Socket } from 'socket.io-client';
import { mintToken } from '../server/platform/auth/tokens.js';
import { call, closeAll, connect, newUserId, refusal } from './helpers/clients.js';
import { createLot } from './helpers/fixtures.js';
import { startTestServer, TEST_SECRET, type TestServer } from './helpers/server.js';
import { request } from './helpers/http.js';

const b64url = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString('base64url');
const nowS = (): number => Math.floor(Date.now() / 1000);

/** A Supabase-shaped access token's claims (HS256 tokens are signed by jsonwebtoken below). */
function claims(userId: string, appRole: 'user' | 'admin' = 'user', extra: Record<string, unknown> = {}) {
  return { sub: userId, role: 'authenticated', app_metadata: { role: appRole }, ...extra };
}

/** An HS256 token made by hand: lets a test use any bytes as the HMAC key, whatever a library would allow. */
function handMadeHs256(payload: Record<string, unknown>, key: string): string {
  const signingInput = `${b64url({ alg: 'HS256', typ: 'JWT' })}.${b64url(payload)}`;
  return `${signingInput}.${createHmac('sha256', key).update(signingInput).digest('base64url')}`;
}

/** A socket authenticated by an `Authorization: Bearer` header instead of `auth.token`. */
function connectWithHeader(url: string, token: string, opened: Socket[]): Promise<{ socket: Socket; connected: any }> {
  const socket = io(url, {
    transports: ['websocket'],
    reconnection: false,
    forceNew: true,
    extraHeaders: { authorization: `Bearer ${token}` },
  });
  opened.push(socket);
  return new Promise((resolve, reject) => {
    socket.once('connected', (connected) => resolve({ socket, connected }));
    socket.once('connect_error', reject);
  });
}

async function assertRefused(url: string, token: string | undefined, code: string, headers?: Record<string, string>): Promise<void> {
  const err = await refusal(url, token, headers ? { headers } : {});
  assert.equal(err.message, 'Authentication error');
  assert.equal(err.data?.code, code, `expected ${code}, got ${JSON.stringify(err.data)}`);
  assert.equal(typeof err.data?.message, 'string');
}

describe('authentication', () => {
  let server: TestServer;
  const opened: Socket[] = [];

  before(async () => {
    server = await startTestServer();
  });
  after(() => server.stop());
  afterEach(() => {
    closeAll();
    for (const s of opened.splice(0)) s.close();
  });

  describe('sockets: accepted tokens', () => {
    it('a user token connects; connected carries the user, the node and the user room only', async () => {
      const userId = newUserId();
      const { socket, connected } = await connect(server.url, server.token(userId));
      assert.equal(connected.user.id, userId);
      assert.equal(connected.user.role, 'user');
      assert.equal(connected.node_id, server.config.nodeId);
      assert.deepEqual(connected.rooms, [`user:${userId}`]);
      assert.equal(connected.socket_id, socket.id);
    });

    it('an admin token (app_metadata.role = admin) connects and also joins the admin room', async () => {
      const adminId = newUserId();
      const { connected } = await connect(server.url, server.token(adminId, 'admin'));
      assert.equal(connected.user.id, adminId);
      assert.equal(connected.user.role, 'admin');
      assert.equal(connected.node_id, server.config.nodeId);
      assert.deepEqual([...connected.rooms].sort(), ['admin', `user:${adminId}`].sort());
    });

    it('an Authorization: Bearer header works instead of auth.token', async () => {
      const userId = newUserId();
      const { connected } = await connectWithHeader(server.url, server.token(userId), opened);
      assert.equal(connected.user.id, userId);
      assert.equal(connected.user.role, 'user');
      assert.deepEqual(connected.rooms, [`user:${userId}`]);
    });

    it('a sub in upper case is the same user: user.id and the user room use the canonical lower-case uuid', async () => {
      const userId = newUserId();
      const { socket, connected } = await connect(server.url, mintToken({ secret: TEST_SECRET, userId: userId.toUpperCase() }));
      assert.equal(connected.user.id, userId);
      assert.deepEqual(connected.rooms, [`user:${userId}`]);
      const own = await call(socket, 'subscribe', { room: `user:${userId}` });
      assert.deepEqual(own, { ok: true, data: { room: `user:${userId}` } });
      const members = (await server.app.io.in(`user:${userId}`).fetchSockets()).map((s) => s.id);
      assert.ok(members.includes(socket.id!));
    });
  });

  describe('sockets: refused tokens get connect_error "Authentication error" with a reason', () => {
    it('no token → TOKEN_MISSING', async () => {
      await assertRefused(server.url, undefined, 'TOKEN_MISSING');
    });

    it('a garbage string → TOKEN_INVALID', async () => {
      await assertRefused(server.url, 'this-is-not-a-jwt', 'TOKEN_INVALID');
    });

    it('signed with the wrong secret → TOKEN_INVALID', async () => {
      const forged = jwt.sign(claims(newUserId(), 'admin'), 'some-other-secret-that-is-long-enough-0123456789', { algorithm: 'HS256', expiresIn: 3600 });
      await assertRefused(server.url, forged, 'TOKEN_INVALID');
    });

    it('expired → TOKEN_EXPIRED', async () => {
      await assertRefused(server.url, server.token(newUserId(), 'user', { expiresInSeconds: -60 }), 'TOKEN_EXPIRED');
    });

    it('an unsigned alg: none token → TOKEN_INVALID', async () => {
      const payload = { ...claims(newUserId(), 'admin'), iat: nowS(), exp: nowS() + 3600 };
      const unsigned = `${b64url({ alg: 'none', typ: 'JWT' })}.${b64url(payload)}.`;
      await assertRefused(server.url, unsigned, 'TOKEN_INVALID');
    });

    it('nbf in the future → TOKEN_NOT_YET_VALID', async () => {
      const early = jwt.sign(claims(newUserId()), TEST_SECRET, { algorithm: 'HS256', expiresIn: 7200, notBefore: 3600 });
      await assertRefused(server.url, early, 'TOKEN_NOT_YET_VALID');
    });

    it('a sub that is not a uuid → TOKEN_CLAIMS_INVALID', async () => {
      const bad = jwt.sign(claims('not-a-uuid'), TEST_SECRET, { algorithm: 'HS256', expiresIn: 3600 });
      await assertRefused(server.url, bad, 'TOKEN_CLAIMS_INVALID');
    });

    it('a Supabase anon key (role anon, no sub) → TOKEN_CLAIMS_INVALID', async () => {
      const anon = jwt.sign({ iss: 'supabase', ref: 'abcdefghijklmnopqrst', role: 'anon' }, TEST_SECRET, { algorithm: 'HS256', expiresIn: 3600 });
      await assertRefused(server.url, anon, 'TOKEN_CLAIMS_INVALID');
    });

    it('a token without exp → TOKEN_CLAIMS_INVALID', async () => {
      const forever = jwt.sign(claims(newUserId()), TEST_SECRET, { algorithm: 'HS256' });
      await assertRefused(server.url, forever, 'TOKEN_CLAIMS_INVALID');
    });

    it('the Bearer header is checked the same way: garbage → TOKEN_INVALID, expired → TOKEN_EXPIRED', async () => {
      await assertRefused(server.url, undefined, 'TOKEN_INVALID', { authorization: 'Bearer this-is-not-a-jwt' });
      const expired = server.token(newUserId(), 'user', { expiresInSeconds: -60 });
      await assertRefused(server.url, undefined, 'TOKEN_EXPIRED', { authorization: `Bearer ${expired}` });
    });
  });

  for (const kind of ['RS256', 'ES256'] as const) {
    describe(`sockets: ${kind} with JWT_PUBLIC_KEY`, () => {
      let keyServer: TestServer;
      let publicKey: string;
      let privateKey: string;

      before(async () => {
        const pair =
          kind === 'RS256'
            ? generateKeyPairSync('rsa', {
                modulusLength: 2048,
                publicKeyEncoding: { type: 'spki', format: 'pem' },
                privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
              })
            : generateKeyPairSync('ec', {
                namedCurve: 'P-256',
                publicKeyEncoding: { type: 'spki', format: 'pem' },
                privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
              });
        publicKey = pair.publicKey;
        privateKey = pair.privateKey;
        assert.match(publicKey, /\n/); // a real multi-line PEM, as an operator would paste it
        keyServer = await startTestServer({ JWT_SECRET: '', JWT_PUBLIC_KEY: publicKey });
      });
      after(() => keyServer?.stop());

      it(`a token signed with the ${kind} private key connects`, async () => {
        const userId = newUserId();
        const token = jwt.sign(claims(userId, 'admin'), privateKey, { algorithm: kind, expiresIn: 3600 });
        const { connected } = await connect(keyServer.url, token);
        assert.equal(connected.user.id, userId);
        assert.equal(connected.user.role, 'admin');
      });

      it('a token naming a kid (as Supabase tokens do) is verified by the PEM, which has no kid of its own', async () => {
        const userId = newUserId();
        const token = jwt.sign(claims(userId), privateKey, { algorithm: kind, expiresIn: 3600, keyid: 'a-kid-the-pem-does-not-have' });
        const { connected } = await connect(keyServer.url, token);
        assert.equal(connected.user.id, userId);
      });

      it('an HS256 token using the public key PEM as the HMAC secret (algorithm confusion) is refused', async () => {
        const payload = { ...claims(newUserId(), 'admin'), iat: nowS(), exp: nowS() + 3600 };
        await assertRefused(keyServer.url, handMadeHs256(payload, publicKey), 'TOKEN_INVALID');
      });

      it('an HS256 token signed with the usual test secret is refused', async () => {
        await assertRefused(keyServer.url, mintToken({ secret: TEST_SECRET, userId: newUserId() }), 'TOKEN_INVALID');
      });

      it('a token signed with another key pair is refused', async () => {
        const other =
          kind === 'RS256'
            ? generateKeyPairSync('rsa', { modulusLength: 2048, privateKeyEncoding: { type: 'pkcs8', format: 'pem' }, publicKeyEncoding: { type: 'spki', format: 'pem' } })
            : generateKeyPairSync('ec', { namedCurve: 'P-256', privateKeyEncoding: { type: 'pkcs8', format: 'pem' }, publicKeyEncoding: { type: 'spki', format: 'pem' } });
        const token = jwt.sign(claims(newUserId()), other.privateKey, { algorithm: kind, expiresIn: 3600 });
        await assertRefused(keyServer.url, token, 'TOKEN_INVALID');
      });
    });
  }

  describe('sockets: JWT_ISSUER and JWT_AUDIENCE', () => {
    const issuer = 'https://project.supabase.co/auth/v1';
    const audience = 'authenticated';
    let strict: TestServer;

    before(async () => {
      strict = await startTestServer({ JWT_ISSUER: issuer, JWT_AUDIENCE: audience });
    });
    after(() => strict?.stop());

    it('the right issuer and audience are accepted', async () => {
      const userId = newUserId();
      const { connected } = await connect(strict.url, mintToken({ secret: TEST_SECRET, userId, issuer, audience }));
      assert.equal(connected.user.id, userId);
    });

    it('a wrong issuer is refused', async () => {
      const token = mintToken({ secret: TEST_SECRET, userId: newUserId(), issuer: 'https://evil.example/auth/v1', audience });
      await assertRefused(strict.url, token, 'TOKEN_INVALID');
    });

    it('a wrong audience is refused', async () => {
      const token = mintToken({ secret: TEST_SECRET, userId: newUserId(), issuer, audience: 'service' });
      await assertRefused(strict.url, token, 'TOKEN_INVALID');
    });

    it('a token with neither issuer nor audience is refused', async () => {
      await assertRefused(strict.url, mintToken({ secret: TEST_SECRET, userId: newUserId() }), 'TOKEN_INVALID');
    });
  });

  describe('a custom role claim path (JWT_ROLE_CLAIM=claims.app_role)', () => {
    let custom: TestServer;

    before(async () => {
      custom = await startTestServer({ JWT_ROLE_CLAIM: 'claims.app_role' });
    });
    after(() => custom?.stop());

    it('admin at the custom path makes an admin, on sockets and on admin routes', async () => {
      const adminId = newUserId();
      const token = mintToken({ secret: TEST_SECRET, userId: adminId, appRole: 'user', extra: { claims: { app_role: 'admin' } } });
      const { connected } = await connect(custom.url, token);
      assert.equal(connected.user.role, 'admin');
      assert.ok(connected.rooms.includes('admin'));
      const stats = await request(custom, 'GET', '/realtime/live-stats', { token });
      assert.equal(stats.status, 200);
      assert.equal(stats.body.ok, true);
    });

    it('app_metadata.role admin with nothing at the custom path is a plain user', async () => {
      const userId = newUserId();
      const token = mintToken({ secret: TEST_SECRET, userId, appRole: 'admin' });
      const { connected } = await connect(custom.url, token);
      assert.equal(connected.user.role, 'user');
      assert.deepEqual(connected.rooms, [`user:${userId}`]);
      const stats = await request(custom, 'GET', '/realtime/live-stats', { token });
      assert.equal(stats.status, 403);
      assert.equal(stats.body.error.code, 'FORBIDDEN');
    });
  });

  describe('HTTP', () => {
    it('GET /realtime/parking-availability without Authorization → 401 TOKEN_MISSING', async () => {
      const res = await request(server, 'GET', '/realtime/parking-availability');
      assert.equal(res.status, 401);
      assert.equal(res.body.ok, false);
      assert.equal(res.body.error.code, 'TOKEN_MISSING');
      assert.equal(typeof res.body.error.message, 'string');
      assert.ok(res.body.error.message.length > 0);
    });

    it('with a non-Bearer Authorization header → 401 TOKEN_MISSING', async () => {
      const res = await request(server, 'GET', '/realtime/parking-availability', { headers: { authorization: `Basic ${Buffer.from('a:b').toString('base64')}` } });
      assert.equal(res.status, 401);
      assert.equal(res.body.error.code, 'TOKEN_MISSING');
    });

    it('with an expired token → 401 TOKEN_EXPIRED', async () => {
      const res = await request(server, 'GET', '/realtime/parking-availability', { token: server.token(newUserId(), 'user', { expiresInSeconds: -60 }) });
      assert.equal(res.status, 401);
      assert.deepEqual(res.body, { ok: false, error: { code: 'TOKEN_EXPIRED', message: res.body.error.message } });
    });

    it('with a forged token → 401 TOKEN_INVALID', async () => {
      const forged = jwt.sign(claims(newUserId(), 'admin'), 'some-other-secret-that-is-long-enough-0123456789', { algorithm: 'HS256', expiresIn: 3600 });
      const res = await request(server, 'GET', '/realtime/parking-availability', { token: forged });
      assert.equal(res.status, 401);
      assert.equal(res.body.error.code, 'TOKEN_INVALID');
    });

    it('with a valid user token → 200 with the lots', async () => {
      const lotId = await createLot(server.db, { total: 7 });
      const res = await request(server, 'GET', `/realtime/parking-availability?parking_lot_id=${lotId}`, { token: server.token(newUserId()) });
      assert.equal(res.status, 200);
      assert.equal(res.body.ok, true);
      assert.equal(res.body.data.lots.length, 1);
      assert.equal(res.body.data.lots[0].parking_lot_id, lotId);
      assert.equal(res.body.data.lots[0].total_spaces, 7);
    });

    it('a user token on every admin route → 403 FORBIDDEN', async () => {
      const token = server.token(newUserId());
      const lotId = await createLot(server.db);
      const routes: [string, string, unknown?][] = [
        ['GET', '/realtime/connections'],
        ['GET', '/realtime/live-stats'],
        ['GET', '/realtime/booking-activity'],
        ['POST', '/realtime/announcement', { message: 'hello from a user' }],
        ['PUT', `/realtime/parking-lots/${lotId}/availability`, { available_spaces: 0 }],
      ];
      for (const [method, path, body] of routes) {
        const res = await request(server, method, path, { token, ...(body !== undefined ? { body } : {}) });
        assert.equal(res.status, 403, `${method} ${path}`);
        assert.equal(res.body.ok, false, `${method} ${path}`);
        assert.equal(res.body.error.code, 'FORBIDDEN', `${method} ${path}`);
      }
      // The refused PUT changed nothing.
      const after = await request(server, 'GET', `/realtime/parking-availability?parking_lot_id=${lotId}`, { token });
      assert.equal(after.body.data.lots[0].available_spaces, 10);
    });

    it('an admin token passes the admin routes', async () => {
      const token = server.token(newUserId(), 'admin');
      for (const path of ['/realtime/connections', '/realtime/live-stats', '/realtime/booking-activity']) {
        const res = await request(server, 'GET', path, { token });
        assert.equal(res.status, 200, path);
        assert.equal(res.body.ok, true, path);
      }
    });

    it('GET /health/live needs no token', async () => {
      const res = await request(server, 'GET', '/health/live');
      assert.equal(res.status, 200);
      assert.equal(res.body.ok, true);
    });
  });
});

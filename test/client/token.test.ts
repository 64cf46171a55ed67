/**
 * @spotcast/client against a real server: the token's life. A fresh token goes out ahead of
 * expiry on the open connection; a session that expired anyway comes back with a fresh token; a
 * refused token ends in a clear error, not a loop; keys that cannot be fetched, or a connection
 * limit, are waited out with the same token.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mintToken } from '../../server/platform/auth/tokens.js';
import { closeAll, connect as rawConnect } from '../helpers/clients.js';
import { JwksServer, newKey, signedBy } from '../helpers/jwks.js';
import { startTestServer, TEST_SECRET, type TestServer } from '../helpers/server.js';
import { closeClients, connected, newClient, stateWhen, statuses, tokenSource } from './support.js';
import { sleep, waitUntil } from '../helpers/measure.js';

const expiryOf = (token: string) => JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString()).exp * 1000;
const socketsOf = (server: TestServer, userId: string) => [...server.app.io.of('/').sockets.values()].filter((s) => s.data.principal.userId === userId);

describe('client: token refresh and expiry, against a real server', function () {
  this.timeout(30_000);
  let server: TestServer;

  before(async () => {
    server = await startTestServer();
  });
  afterEach(closeClients);
  after(() => server?.stop());

  it('sends a fresh token ahead of expiry: one connection outlives its first token', async () => {
    const userId = randomUUID();
    const source = tokenSource(() => server.token(userId, 'user', { expiresInSeconds: 3 }));
    const client = newClient(server.url, source);
    const seen = statuses(client);
    client.connect();
    const first = await connected(client);
    const firstExpiry = Date.parse(first.tokenExpiresAt!);
    const [socket] = socketsOf(server, userId);
    // Past the first token's expiry, by the clock: the server would have ended the session by now.
    while (Date.now() < firstExpiry + 1500) await sleep(100);
    assert.ok(source.calls >= 2, `the token source was asked again (${source.calls} calls)`);
    assert.ok(Date.parse(client.state.get().tokenExpiresAt!) > firstExpiry, 'the server holds a later expiry');
    assert.deepEqual(seen, ['idle', 'connecting', 'connected'], 'never disconnected');
    assert.deepEqual(socketsOf(server, userId).map((s) => s.id), [socket!.id], 'the same socket on the server');
    assert.equal(client.state.get().connections, 1);
  });

  it('a session that expired anyway (TOKEN_EXPIRED) comes back with a fresh token, as the same user', async () => {
    const userId = randomUUID();
    const short = server.token(userId, 'user', { expiresInSeconds: 2 });
    // An auth provider that has nothing newer until the old token has expired.
    const source = tokenSource(() => (Date.now() < expiryOf(short) ? short : server.token(userId)));
    const client = newClient(server.url, source);
    const seen = statuses(client);
    client.connect();
    await connected(client);
    await stateWhen(client, (s) => s.connections === 2 && s.status === 'connected', 'the second connection');
    assert.deepEqual(seen, ['idle', 'connecting', 'connected', 'reconnecting', 'connected']);
    const s = client.state.get();
    assert.equal(s.user?.id, userId);
    assert.equal(s.error, null);
    assert.ok(Date.parse(s.tokenExpiresAt!) > Date.now() + 3000_000, 'now on the fresh token');
    assert.notEqual(source.given.at(-1), short);
  });

  it('a token the server refuses ends in a clear error after one more try; connect() with a good one then works', async () => {
    const userId = randomUUID();
    let token = server.token(userId, 'user', { expiresInSeconds: -60 });
    const source = tokenSource(() => token);
    const client = newClient(server.url, source);
    const seen = statuses(client);
    client.connect();
    const failed = await stateWhen(client, (s) => s.status === 'error', 'the error');
    assert.equal(failed.error?.code, 'TOKEN_EXPIRED');
    assert.match(failed.error?.message ?? '', /expired/i);
    assert.equal(source.calls, 2, 'asked once more for a fresher token, then stopped');
    assert.deepEqual(seen, ['idle', 'connecting', 'error']);
    assert.equal(client.socket.active, false, 'nothing keeps trying in the background');

    token = server.token(userId);
    client.connect();
    await connected(client);
    assert.equal(client.state.get().error, null);
  });

  it('a token source that gives a new token each time, each refused: one more try, then the error', async () => {
    const forged = tokenSource(() => mintToken({ secret: 'not-the-server-secret-0123456789-abcdefghij', userId: randomUUID() }));
    const client = newClient(server.url, forged);
    client.connect();
    const failed = await stateWhen(client, (s) => s.status === 'error', 'the error');
    assert.equal(failed.error?.code, 'TOKEN_INVALID');
    assert.equal(new Set(forged.given).size, 2, 'two different tokens tried');
    assert.equal(forged.calls, 2);
  });

  it('no token (signed out): TOKEN_MISSING, without connecting', async () => {
    const client = newClient(server.url, () => null);
    client.connect();
    const failed = await stateWhen(client, (s) => s.status === 'error', 'the error');
    assert.equal(failed.error?.code, 'TOKEN_MISSING');
    assert.equal(client.socket.io.engine, undefined, 'no transport was ever opened');
  });

  it('refresh to a token of another user: starts over as that user, with nothing of the first one left', async () => {
    const [a, b] = [randomUUID(), randomUUID()];
    let who = a;
    const client = newClient(server.url, () => server.token(who));
    client.connect();
    assert.equal((await connected(client)).user?.id, a);
    await waitUntil(() => client.lastSeq(`user:${a}`) !== undefined, 5000, "A's room to be tracked");
    who = b;
    const res = await client.refreshToken();
    assert.equal(res.ok, false);
    assert.equal(!res.ok && res.error.code, 'FORBIDDEN');
    const s = await stateWhen(client, (x) => x.status === 'connected' && x.user?.id === b, 'connected as B');
    assert.equal(s.connections, 2);
    assert.equal(client.lastSeq(`user:${a}`), undefined, "A's stream is forgotten");
    assert.deepEqual(socketsOf(server, a), []);
  });

  it('a connection limit (RATE_LIMITED) is waited out with the same token', async () => {
    const limited = await startTestServer({ RATE_LIMIT_CONNECTIONS: '1/1' });
    try {
      const userId = randomUUID();
      await rawConnect(limited.url, limited.token(userId)); // takes this second's one connection
      const source = tokenSource(() => limited.token(userId));
      const client = newClient(limited.url, source);
      const refusals: string[] = [];
      client.state.subscribe(() => {
        const e = client.state.get().error;
        if (e && refusals.at(-1) !== e.code) refusals.push(e.code);
      });
      client.connect();
      await connected(client);
      assert.deepEqual(refusals, ['RATE_LIMITED']);
      assert.equal(source.calls, 2, 'one token per attempt');
    } finally {
      closeClients();
      closeAll();
      await limited.stop();
    }
  });

  it('AUTH_KEYS_UNAVAILABLE: keeps the token and tries again until the keys can be fetched', async () => {
    const key = newKey('ES256');
    const jwks = await JwksServer.start([key.jwk]);
    jwks.down();
    const keyed = await startTestServer({ JWT_SECRET: TEST_SECRET, JWT_JWKS_URL: jwks.url, JWT_JWKS_COOLDOWN_MS: '200' });
    try {
      const userId = randomUUID();
      const token = signedBy(key, userId);
      const source = tokenSource(() => token);
      const client = newClient(keyed.url, source);
      client.connect();
      const waiting = await stateWhen(client, (s) => s.error?.code === 'AUTH_KEYS_UNAVAILABLE', 'the refusal');
      assert.equal(waiting.status, 'connecting', 'still trying, not failed');
      assert.equal(typeof waiting.error?.retry_after_ms, 'number');
      jwks.serve([key.jwk]);
      const s = await connected(client, 'connected once the keys are back');
      assert.equal(s.user?.id, userId);
      assert.ok(source.given.every((t) => t === token), 'the same token every time');
    } finally {
      closeClients();
      await keyed.stop();
      await jwks.close();
    }
  });
});

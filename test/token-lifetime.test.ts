import assert from 'node:assert/strict';
import { call, closeAll, connect, newUserId, nextEvent } from './helpers/clients.js';
import { useTestServer, type TestServer } from './helpers/server.js';
import { sleep } from './helpers/measure.js';

describe('token lifetime on an open socket', function () {
  this.timeout(20_000);
  const server = useTestServer({ JWT_CLOCK_TOLERANCE_SECONDS: '0' });

  it('tells the client and disconnects when its token expires', async () => {
    const { socket } = await connect(server().url, server().token(newUserId(), 'user', { expiresInSeconds: 2 }));
    const error = nextEvent(socket, 'error', () => true, 5000);
    const gone = nextEvent(socket, 'disconnect', () => true, 5000);
    assert.equal((await error).code, 'TOKEN_EXPIRED');
    assert.equal(await gone, 'io server disconnect', 'a server-side disconnect: the client must come back with a new token');
  });

  it('stays connected past the old expiry after refresh_token with a fresh token of the same user', async () => {
    const userId = newUserId();
    const { socket } = await connect(server().url, server().token(userId, 'user', { expiresInSeconds: 2 }));
    const res = await call(socket, 'refresh_token', { token: server().token(userId, 'user', { expiresInSeconds: 60 }) });
    assert.equal(res.ok, true);
    assert.ok(Date.parse(res.data.token_expires_at) > Date.now() + 50_000);
    await sleep(3000);
    assert.equal(socket.connected, true);
    const still = await call(socket, 'get_parking_availability', {});
    assert.equal(still.ok, true);
  });

  it("refuses another user's token, and a forged one, and the socket still expires on time", async () => {
    const { socket } = await connect(server().url, server().token(newUserId(), 'user', { expiresInSeconds: 2 }));
    const other = await call(socket, 'refresh_token', { token: server().token(newUserId(), 'user', { expiresInSeconds: 60 }) });
    assert.equal(other.error.code, 'FORBIDDEN');
    const forged = await call(socket, 'refresh_token', { token: 'x.y.z' });
    assert.equal(forged.error.code, 'TOKEN_INVALID');
    const bad = await call(socket, 'refresh_token', { token: 42 });
    assert.equal(bad.error.code, 'VALIDATION_ERROR');
    assert.equal((await nextEvent(socket, 'error', (e) => e.code === 'TOKEN_EXPIRED', 5000)).code, 'TOKEN_EXPIRED');
  });

  it('follows a role change in the refreshed token (admin room joined, then left)', async () => {
    const userId = newUserId();
    const { socket, connected } = await connect(server().url, server().token(userId));
    const inAdmin = async () => (await server().app.io.in('admin').fetchSockets()).some((s) => s.id === connected.socket_id);
    assert.equal(await inAdmin(), false);
    await call(socket, 'refresh_token', { token: server().token(userId, 'admin') });
    assert.equal(await inAdmin(), true);
    assert.equal((await call(socket, 'get_live_stats', {})).ok, true);
    await call(socket, 'refresh_token', { token: server().token(userId, 'user') });
    assert.equal(await inAdmin(), false);
    assert.equal((await call(socket, 'get_live_stats', {})).error.code, 'FORBIDDEN');
  });
});

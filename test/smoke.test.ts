import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { promisify } from 'node:util';
import { startTestServer, TEST_SECRET, type TestServer } from './helpers/server.js';
import { createLot } from './helpers/fixtures.js';

const run = promisify(execFile);

describe('smoke script (test/websocket-test.js)', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer();
    await createLot(server.db, { name: 'Smoke lot' });
  });
  after(() => server.stop());

  it('passes against a running server, minting its token from JWT_SECRET', async () => {
    const { stdout } = await run(process.execPath, ['test/websocket-test.js'], {
      env: { ...process.env, SPOTCAST_URL: server.url, JWT_SECRET: TEST_SECRET, SPOTCAST_TOKEN: '' },
    });
    assert.match(stdout, /ok {3}subscribed to parking_lot:/);
    assert.match(stdout, /PASS smoke check/);
  });

  it('serves HTTP long-polling clients (how browsers start) and the Socket.IO client bundle', async () => {
    const { io } = await import('socket.io-client');
    const socket = io(server.url, { auth: { token: server.token(randomUUID()) }, transports: ['polling'], reconnection: false, forceNew: true });
    try {
      const connected = await new Promise<{ user: { id: string } }>((resolve, reject) => {
        socket.once('connected', resolve);
        socket.once('connect_error', reject);
      });
      assert.ok(connected.user.id);
      const res = await socket.timeout(5000).emitWithAck('get_parking_availability', {});
      assert.equal(res.ok, true);
    } finally {
      socket.close();
    }
    const bundle = await fetch(`${server.url}/socket.io/socket.io.esm.min.js`);
    assert.equal(bundle.status, 200);
    assert.match(bundle.headers.get('content-type') ?? '', /javascript/);
    assert.ok((await bundle.text()).length > 10_000);
  });

  it('fails with a non-zero exit when the token is refused', async () => {
    await assert.rejects(
      run(process.execPath, ['test/websocket-test.js'], { env: { ...process.env, SPOTCAST_URL: server.url, SPOTCAST_TOKEN: 'forged.token.value' } }),
      (err: { code: number; stderr: string }) => err.code === 1 && /Authentication error/.test(err.stderr),
    );
  });
});

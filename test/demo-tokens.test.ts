/**
 * Demo tokens (printed at start, served at GET /demo/tokens) are only ever signed with the
 * development secret the server generated itself: with a configured key they would be real tokens,
 * an admin's among them, for anyone who can reach the port.
 */
import assert from 'node:assert/strict';
import pg from 'pg';
import { demoTokens } from '../server/features/demo/tokens.js';
import { freePort, uniqueName, withDatabase } from './helpers/env.js';
import { testEnv } from './helpers/global-setup.js';
import { TEST_SECRET, TEST_WEBHOOK_SECRET } from './helpers/server.js';
import { type ServerProcess, startServerProcess } from './helpers/processes.js';

describe('demo tokens', () => {
  describe('when there are any (plain data)', () => {
    const dev = 'generated-development-secret-0123456789abcdef';

    it('with the generated development secret, not in production, with demo data: a user and an admin token', () => {
      const result = demoTokens({ devSecret: dev, production: false, seedDemoData: true });
      assert.ok('tokens' in result);
      assert.equal(result.tokens.user.split('.').length, 3);
      assert.equal(result.tokens.admin.split('.').length, 3);
    });

    it('none with a configured key, in production, or without demo data, each with its reason', () => {
      assert.deepEqual(demoTokens({ devSecret: undefined, production: false, seedDemoData: true }), {
        reason: 'a JWT key is configured (JWT_SECRET, JWT_PUBLIC_KEY or a JWKS): demo tokens are only signed with the generated development secret',
      });
      assert.deepEqual(demoTokens({ devSecret: dev, production: true, seedDemoData: true }), { reason: 'NODE_ENV is production' });
      assert.deepEqual(demoTokens({ devSecret: dev, production: false, seedDemoData: false }), { reason: 'SEED_DEMO_DATA is off' });
    });
  });

  describe('a real server with JWT_SECRET set, SEED_DEMO_DATA=true and no NODE_ENV', function () {
    this.timeout(120_000);
    let server: ServerProcess | undefined;
    let port = 0;
    const database = uniqueName('spotcast_demo');
    const admin = () => new pg.Client({ connectionString: testEnv().adminUrl });

    before(async () => {
      const c = admin();
      await c.connect();
      await c.query(`create database ${c.escapeIdentifier(database)}`);
      await c.end();
      port = await freePort();
      server = startServerProcess({
        PORT: String(port),
        HOST: '127.0.0.1',
        DATABASE_URL: withDatabase(testEnv().adminUrl, database),
        JWT_SECRET: TEST_SECRET,
        PAYMENT_WEBHOOK_SECRET: TEST_WEBHOOK_SECRET,
        SEED_DEMO_DATA: 'true',
      });
      await server.waitFor(/spotcast is listening/);
    });
    after(async () => {
      await server?.stop();
      const c = admin();
      await c.connect();
      await c.query(`drop database if exists ${c.escapeIdentifier(database)} with (force)`);
      await c.end();
    });

    it('seeds the demo lots, but prints no token and serves none (404), and says why in its log', async () => {
      const output = server!.output();
      assert.match(output, /seeded demo parking lots/);
      assert.doesNotMatch(output, /token \(24 h\)/);
      assert.doesNotMatch(output, /eyJ[\w-]+\.eyJ[\w-]+\.[\w-]+/, 'no JWT anywhere in the output');
      assert.match(output, /no demo tokens printed or served.*a JWT key is configured|a JWT key is configured.*no demo tokens printed or served/);
      const res = await fetch(`http://127.0.0.1:${port}/demo/tokens`);
      assert.equal(res.status, 404);
      assert.doesNotMatch(await res.text(), /eyJ/);
    });
  });
});

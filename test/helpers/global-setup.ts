import pg from 'pg';
import { pino } from 'pino';
import { runMigrations } from '../../server/platform/db/migrate.js';
import { defaults, reachablePostgres, reachableRedis, startEmbeddedForTests, uniqueName, withDatabase, type TestEnv } from './env.js';

let env: TestEnv | undefined;
let stopEmbedded: (() => Promise<void>) | undefined;

/** The run's environment; set up by the root hook before any suite runs. */
export function testEnv(): TestEnv {
  if (!env) throw new Error('test environment is not set up (is test/helpers/global-setup.ts required by mocha?)');
  return env;
}

/** For suites that need Redis: skipped, and said so, without it; a failure under CI. */
export function requireRedis(ctx: Mocha.Context): string {
  const url = testEnv().redisUrl;
  if (url) return url;
  if (process.env.CI) throw new Error('Redis is required under CI but is not reachable');
  console.warn(`    SKIPPED (no Redis reachable): ${ctx.test?.parent?.fullTitle() ?? ''}`);
  ctx.skip();
}

export const mochaHooks = {
  async beforeAll(this: Mocha.Context) {
    this.timeout(120_000);
    let adminUrl = process.env.DATABASE_URL ?? defaults.DEFAULT_PG;
    let embedded = false;
    if (!(await reachablePostgres(adminUrl))) {
      if (process.env.DATABASE_URL) throw new Error(`DATABASE_URL is set but not reachable: ${adminUrl.replace(/:[^:@/]*@/, ':***@')}`);
      console.warn('    no Postgres at 127.0.0.1:5432: starting an embedded Postgres for this run');
      const started = await startEmbeddedForTests();
      adminUrl = started.adminUrl;
      stopEmbedded = started.stop;
      embedded = true;
    }
    const databaseName = uniqueName('spotcast_test');
    const admin = new pg.Client({ connectionString: adminUrl });
    await admin.connect();
    await admin.query(`create database ${admin.escapeIdentifier(databaseName)}`);
    await admin.end();
    const databaseUrl = withDatabase(adminUrl, databaseName);
    await runMigrations(databaseUrl, pino({ level: 'warn' }));

    const redisCandidate = process.env.REDIS_URL ?? defaults.DEFAULT_REDIS;
    const redisUrl = (await reachableRedis(redisCandidate)) ? redisCandidate : undefined;
    if (!redisUrl) {
      const msg = `no Redis reachable at ${redisCandidate}: suites that need Redis will be skipped`;
      if (process.env.CI) throw new Error(`${msg} (CI is set, so this is a failure)`);
      console.warn(`    ${msg}`);
    }
    env = { databaseUrl, adminUrl, databaseName, redisUrl, embedded };
  },

  async afterAll(this: Mocha.Context) {
    this.timeout(60_000);
    if (env && !process.env.KEEP_TEST_DB) {
      const admin = new pg.Client({ connectionString: env.adminUrl });
      await admin.connect();
      await admin.query(`drop database if exists ${admin.escapeIdentifier(env.databaseName)} with (force)`);
      await admin.end();
    }
    await stopEmbedded?.();
  },
};

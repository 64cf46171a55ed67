/**
 * Test environment, resolved once per run: the machine's Postgres (DATABASE_URL, default
 * 127.0.0.1:5432) when it answers, else an embedded Postgres; the machine's Redis when it answers.
 * Every run works in a database of its own, dropped at the end.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { Redis } from 'ioredis';

export interface TestEnv {
  /** The run's own database, migrated. */
  databaseUrl: string;
  /** A maintenance connection to the same server (database `postgres`). */
  adminUrl: string;
  databaseName: string;
  redisUrl: string | undefined;
  embedded: boolean;
}

const DEFAULT_PG = 'postgres://postgres@127.0.0.1:5432/postgres';
const DEFAULT_REDIS = 'redis://127.0.0.1:6379';

export async function reachablePostgres(url: string): Promise<boolean> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 2000 });
  try {
    await client.connect();
    await client.query('select 1');
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => undefined);
  }
}

export async function reachableRedis(url: string): Promise<boolean> {
  const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, connectTimeout: 1500, retryStrategy: () => null });
  redis.on('error', () => undefined);
  try {
    await redis.connect();
    return (await redis.ping()) === 'PONG';
  } catch {
    return false;
  } finally {
    redis.disconnect();
  }
}

/** One connection for `fn`, closed afterwards. */
export async function withClient<T>(url: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

export function withDatabase(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = `/${database}`;
  return u.toString();
}

export async function startEmbeddedForTests(): Promise<{ adminUrl: string; stop: () => Promise<void> }> {
  const { startEmbeddedPostgres } = await import('../../server/platform/db/embedded.js');
  const { pino } = await import('pino');
  const dir = path.join(mkdtempSync(path.join(tmpdir(), 'spotcast-test-pg-')), 'data');
  const port = await freePort();
  const db = await startEmbeddedPostgres({ dir, port, logger: pino({ level: 'warn' }) });
  return { adminUrl: withDatabase(db.url, 'postgres'), stop: () => db.stop() };
}

export function uniqueName(prefix: string): string {
  return `${prefix}_${Date.now().toString(36)}_${randomBytes(3).toString('hex')}`;
}

export const defaults = { DEFAULT_PG, DEFAULT_REDIS };

/** A port the OS just handed out as free (listen on 0, read it, close): no guessing in the ephemeral range. */
export async function freePort(): Promise<number> {
  const { createServer } = await import('node:net');
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const address = srv.address();
      srv.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

/** Deletes the keys matching each pattern (a suite's own prefixes) from the Redis at `url`. */
export async function removeRedisKeys(url: string, patterns: string[]): Promise<void> {
  const redis = new Redis(url, { maxRetriesPerRequest: 1, connectTimeout: 2000, retryStrategy: () => null, lazyConnect: true });
  redis.on('error', () => undefined);
  try {
    await redis.connect();
    for (const match of patterns) {
      let cursor = '0';
      do {
        const [next, keys] = await redis.scan(cursor, 'MATCH', match, 'COUNT', 1000);
        cursor = next;
        if (keys.length) await redis.del(...keys);
      } while (cursor !== '0');
    }
  } finally {
    redis.disconnect();
  }
}

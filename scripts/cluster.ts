/**
 * Starts N spotcast nodes on local ports against one Postgres and one Redis, for trying the
 * multi-node setup by hand:
 *   DATABASE_URL=postgres://postgres@127.0.0.1:5432/spotcast REDIS_URL=redis://127.0.0.1:6379 \
 *     npx tsx scripts/cluster.ts 3 5001
 * Node i listens on BASE_PORT + i and is named node-<i>. Ctrl-C stops them all (SIGTERM, so each
 * shuts down gracefully). Other settings (JWT_SECRET, …) pass through from the environment.
 */
import { spawn, type ChildProcess } from 'node:child_process';

const count = Number(process.argv[2] ?? 3);
const basePort = Number(process.argv[3] ?? 5001);
// eslint-disable-next-line no-restricted-properties -- a launcher script, not the server
const env = process.env;
if (!Number.isInteger(count) || count < 1 || count > 32 || !Number.isInteger(basePort)) {
  console.error('usage: npx tsx scripts/cluster.ts [nodes=3] [base-port=5001]');
  process.exit(2);
}
if (!env.DATABASE_URL || !env.REDIS_URL) {
  console.error('Set DATABASE_URL and REDIS_URL: several nodes need one shared Postgres and Redis.');
  process.exit(2);
}

const children: ChildProcess[] = [];
for (let i = 0; i < count; i++) {
  const port = basePort + i;
  const child = spawn(process.execPath, ['--import', 'tsx', 'server/index.ts'], {
    env: { ...env, PORT: String(port), NODE_ID: `node-${i}` },
    stdio: 'inherit',
  });
  child.on('exit', (code, signal) => console.error(`node-${i} (port ${port}) exited: ${signal ?? code}`));
  children.push(child);
  console.error(`node-${i}: http://localhost:${port}`);
}

let stopping = false;
const stop = () => {
  if (stopping) return;
  stopping = true;
  for (const c of children) c.kill('SIGTERM');
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);

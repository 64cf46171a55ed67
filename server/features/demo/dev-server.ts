import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';

/** Where a development server says where it listens, in its data folder: `node test/websocket-test.js` reads it. */
export const DEV_SERVER_FILE = 'dev-server.json';

export interface DevServerRecord {
  url: string;
  port: number;
  pid: number;
  started_at: string;
}

/**
 * Records this process's address in the data folder (development default only: the folder the
 * generated secrets live in), so that the smoke script finds the server the README just started,
 * whatever PORT it was given. Returns how to remove the record again at shutdown.
 */
export function recordDevServer(dataDir: string, address: { host: string; port: number }): () => void {
  const file = path.join(dataDir, DEV_SERVER_FILE);
  const { host, port } = address;
  // Listening on every address: this machine's name for itself reaches it.
  const name = ['0.0.0.0', '::', ''].includes(host) ? 'localhost' : host.includes(':') ? `[${host}]` : host;
  const record: DevServerRecord = { url: `http://${name}:${port}`, port, pid: process.pid, started_at: new Date().toISOString() };
  writeFileSync(file, `${JSON.stringify(record, null, 2)}\n`);
  return () => {
    // Another server may have started since, with this folder: its record stays.
    try {
      if ((JSON.parse(readFileSync(file, 'utf8')) as DevServerRecord).pid === process.pid) rmSync(file, { force: true });
    } catch {
      // gone already, or not ours to read
    }
  };
}

import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';

/**
 * For the development default only: a secret (JWT, webhook) generated once and kept in the data folder,
 * so tokens printed at start keep working across restarts and the smoke script can mint its own.
 */
export function loadOrCreateDevSecret(dataDir: string, name: string): { secret: string; file: string; created: boolean } {
  const file = path.resolve(dataDir, name);
  if (existsSync(file)) return { secret: readFileSync(file, 'utf8').trim(), file, created: false };
  mkdirSync(path.dirname(file), { recursive: true });
  const secret = randomBytes(48).toString('base64url');
  writeFileSync(file, `${secret}\n`, { mode: 0o600 });
  return { secret, file, created: true };
}

/**
 * Prints a signed access token for trying the server by hand:
 *   npm run token -- [user|admin] [user-id] [expires-in-seconds]
 * Uses JWT_SECRET, or the development secret `npm start` keeps in .data/dev-jwt-secret.
 */
import { randomUUID } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { mintToken } from '../server/platform/auth/tokens.js';

const [role = 'user', userId = randomUUID(), expires = '3600'] = process.argv.slice(2);
if (role !== 'user' && role !== 'admin') {
  console.error('usage: npm run token -- [user|admin] [user-id] [expires-in-seconds]');
  process.exit(2);
}
const file = '.data/dev-jwt-secret';
// eslint-disable-next-line no-restricted-properties -- a developer script, not the server
const secret = process.env.JWT_SECRET ?? (existsSync(file) ? readFileSync(file, 'utf8').trim() : undefined);
if (!secret) {
  console.error(`No JWT_SECRET and no ${file}: start the server once with npm start, or set JWT_SECRET.`);
  process.exit(1);
}
console.log(mintToken({ secret, userId, appRole: role, expiresInSeconds: Number(expires) }));

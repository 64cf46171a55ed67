import { generateKeyPairSync, randomUUID, type KeyObject } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import assert from 'node:assert/strict';
import type { AppRole } from '../../server/platform/auth/principal.js';
import { mintToken } from '../../server/platform/auth/tokens.js';
import { connect, refusal } from './clients.js';
import { request } from './http.js';

/** A signing key pair as Supabase makes one, and its public JWK as Supabase publishes it. */
export interface TestKey {
  kid: string;
  alg: 'ES256' | 'RS256';
  privateKey: KeyObject;
  publicKey: KeyObject;
  jwk: Record<string, unknown>;
}

export function newKey(alg: 'ES256' | 'RS256', kid: string = randomUUID()): TestKey {
  const { privateKey, publicKey } = alg === 'ES256' ? generateKeyPairSync('ec', { namedCurve: 'P-256' }) : generateKeyPairSync('rsa', { modulusLength: 2048 });
  // The members Supabase's jwks.json has: alg, kid, use, key_ops, ext beside the key itself.
  const jwk = { ...publicKey.export({ format: 'jwk' }), alg, kid, use: 'sig', key_ops: ['verify'], ext: true };
  return { kid, alg, privateKey, publicKey, jwk };
}

/** A Supabase-shaped access token signed by the key, its kid in the header (unless `kid: null`). */
export function signedBy(
  key: TestKey,
  userId: string,
  opts: { appRole?: AppRole; expiresInSeconds?: number; kid?: string | null; extra?: Record<string, unknown> } = {},
): string {
  const kid = opts.kid === null ? undefined : (opts.kid ?? key.kid);
  return mintToken({
    signWith: { privateKey: key.privateKey, alg: key.alg, ...(kid !== undefined ? { kid } : {}) },
    userId,
    ...(opts.appRole ? { appRole: opts.appRole } : {}),
    ...(opts.expiresInSeconds !== undefined ? { expiresInSeconds: opts.expiresInSeconds } : {}),
    ...(opts.extra ? { extra: opts.extra } : {}),
  });
}

type Answer = { kind: 'keys'; keys: unknown[] } | { kind: 'status'; status: number } | { kind: 'down' };

/**
 * A JWKS endpoint on a free local port, as `<SUPABASE_URL>/auth/v1/.well-known/jwks.json` would be:
 * it serves whatever keys the test sets, answers an error status, or drops every connection
 * (down), and counts every request it gets.
 */
export class JwksServer {
  requests = 0;
  #answer: Answer;
  #server: Server;
  #waiters: (() => void)[] = [];

  private constructor(keys: unknown[]) {
    this.#answer = { kind: 'keys', keys };
    this.#server = createServer((req, res) => {
      this.requests += 1;
      const answer = this.#answer;
      if (answer.kind === 'down') req.socket.destroy();
      else if (answer.kind === 'status') res.writeHead(answer.status, { 'content-type': 'text/plain' }).end('unavailable');
      else res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys: answer.keys }));
      for (const wake of this.#waiters.splice(0)) wake();
    });
  }

  static async start(keys: unknown[]): Promise<JwksServer> {
    const jwks = new JwksServer(keys);
    await new Promise<void>((resolve) => jwks.#server.listen(0, '127.0.0.1', resolve));
    return jwks;
  }

  get url(): string {
    return `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}/auth/v1/.well-known/jwks.json`;
  }

  serve(keys: unknown[]): void {
    this.#answer = { kind: 'keys', keys };
  }

  answerStatus(status: number): void {
    this.#answer = { kind: 'status', status };
  }

  down(): void {
    this.#answer = { kind: 'down' };
  }

  /** Resolves when the next request has been answered (or dropped). */
  nextRequest(): Promise<void> {
    return new Promise((resolve) => this.#waiters.push(resolve));
  }

  close(): Promise<void> {
    this.#server.closeAllConnections();
    return new Promise((resolve) => this.#server.close(() => resolve()));
  }
}

/** Retries a check until it passes: for state that changes in the background (a refresh), never for speed. */
export async function eventually(check: () => Promise<void>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await check();
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
}

/** The token opens a socket as this user and passes an authenticated HTTP route. */
export async function expectAccepted(server: { url: string }, token: string, userId: string): Promise<void> {
  const { socket, connected } = await connect(server.url, token);
  assert.equal(connected.user.id, userId);
  socket.close();
  const res = await request(server, 'GET', '/realtime/connection-status', { token });
  assert.equal(res.status, 200, JSON.stringify(res.body));
}

/** The socket gets `Authentication error` with this code, and HTTP this status and code. */
export async function expectRefused(server: { url: string }, token: string, code: string, status = 401): Promise<void> {
  const err = await refusal(server.url, token);
  assert.equal(err.message, 'Authentication error');
  assert.equal(err.data?.code, code, `socket: expected ${code}, got ${JSON.stringify(err.data)}`);
  const res = await request(server, 'GET', '/realtime/connection-status', { token });
  assert.equal(res.status, status, JSON.stringify(res.body));
  assert.equal(res.body.error.code, code);
  if (status === 503) {
    assert.equal(typeof err.data?.retry_after_ms, 'number');
    assert.match(res.headers.get('retry-after') ?? '', /^\d+$/);
  }
}

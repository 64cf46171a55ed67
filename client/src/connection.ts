/**
 * The connection's life: a token from the app's token source before every connection, a fresh
 * one sent ahead of its expiry (`refresh_token`), and the way back after each kind of ending.
 * socket.io-client reconnects by itself after a lost transport; after a refusal or a
 * server-side disconnect it does not, so this does, when the reason allows it.
 */
import type { AckResponse, ClientError, ErrorPayload } from '../../server/contract/errors.js';
import type { ConnectedPayload, TokenRefreshedPayload } from '../../server/contract/payloads.js';
import { Observable } from './store.js';
import type { ConnectionState, SpotcastClientOptions, SpotcastSocket } from './types.js';

const REFRESH_LEAD_MAX_MS = 60_000;
/** A token this close to expiry is left to expire: the reconnect after TOKEN_EXPIRED gets a fresh one. */
const REFRESH_MIN_MS = 1000;
const RETRY_MIN_MS = 1000;
const RETRY_MAX_MS = 30_000;
/** However soon the server says to come back, not sooner than this. */
const RETRY_FLOOR_MS = 250;

type Problem = ClientError & { retry_after_ms?: number | undefined };
type Timer = ReturnType<typeof setTimeout>;

export interface ConnectionDeps {
  socket: SpotcastSocket;
  options: SpotcastClientOptions;
  /** The rooms to resume with their last seqs, sent in every handshake. */
  resume(): Record<string, number>;
  refreshToken(token: string): Promise<AckResponse<TokenRefreshedPayload>>;
}

export class Connection {
  readonly state = new Observable<ConnectionState>({ status: 'idle', user: null, error: null, tokenExpiresAt: null, connections: 0 });
  readonly #deps: ConnectionDeps;
  /** True when nothing should (re)connect: before the first connect(), after close() or a final error. */
  #stopped = true;
  /** Bumped by every start and stop: an attempt that finds it changed gives up. */
  #attempt = 0;
  /** The token of the current connection (or of the latest attempt). */
  #token: string | undefined;
  /** A token fetched just before connect(), for the handshake that follows. */
  #prefetched: string | undefined;
  /** The token the server refused last, and why: the same token again ends in that error. */
  #refused: { token: string | undefined; error: Problem } | undefined;
  /** The code of the server's `error` event that came right before its disconnect. */
  #endedBy: string | undefined;
  /** Token refusals since the last greeting: one more try after the first, never a loop. */
  #refusals = 0;
  #failures = 0;
  /** Server clock minus ours, from the greeting: expiry times are the server's. */
  #clockOffset = 0;
  #retryTimer: Timer | undefined;
  #refreshTimer: Timer | undefined;

  constructor(deps: ConnectionDeps) {
    this.#deps = deps;
    deps.socket.auth = (cb) => this.#handshake(cb);
    deps.socket.on('connect_error', (err) => this.#onConnectError(err as Error & { data?: Partial<Problem> }));
    deps.socket.on('disconnect', (reason) => this.#onDisconnect(reason));
  }

  connect(): void {
    if (!this.#stopped) return;
    this.#stopped = false;
    this.#refused = undefined;
    this.#refusals = 0;
    this.#failures = 0;
    this.#set({ status: this.#comingBack(), error: null });
    void this.#start();
  }

  close(): void {
    this.#stop();
    this.#set({ status: 'closed', error: null });
  }

  /** The server greeted us (called before anyone else hears `connected`). */
  onConnected(hello: ConnectedPayload): void {
    this.#failures = 0;
    this.#refusals = 0;
    this.#refused = undefined;
    this.#clockOffset = Date.parse(hello.timestamp) - Date.now();
    const { connections } = this.state.get();
    this.#set({ status: 'connected', user: hello.user, error: null, tokenExpiresAt: hello.token_expires_at, connections: connections + 1 });
    this.#scheduleRefresh(false);
  }

  /** The server's `error` event: TOKEN_EXPIRED and RATE_LIMITED come right before it disconnects us. */
  onServerError(p: ErrorPayload): void {
    if (p.event === undefined) this.#endedBy = p.code;
  }

  /** Sends the token source's current token on the open connection. */
  async refresh(): Promise<AckResponse<TokenRefreshedPayload>> {
    clearTimeout(this.#refreshTimer);
    const attempt = this.#attempt;
    const token = await this.#fetchToken();
    const expires = this.state.get().tokenExpiresAt;
    if (attempt !== this.#attempt) return { ok: false, error: { code: 'CLOSED', message: 'The connection ended meanwhile' } };
    if (!token) return { ok: false, error: { code: 'TOKEN_MISSING', message: 'The token source has no token (signed out?)' } };
    if (token === this.#token && expires !== null) {
      // Nothing newer yet (the auth provider refreshes later): ask again, halfway to the expiry.
      this.#scheduleRefresh(true);
      return { ok: true, data: { token_expires_at: expires } };
    }
    const res = await this.#deps.refreshToken(token);
    if (attempt !== this.#attempt) return res;
    if (res.ok) {
      this.#token = token;
      this.#set({ tokenExpiresAt: res.data.token_expires_at });
      this.#scheduleRefresh(false);
    } else if (res.error.code === 'FORBIDDEN') {
      // A token of another user: start over as that user.
      this.#deps.socket.disconnect();
      this.#set({ status: 'reconnecting', error: res.error });
      void this.#start();
    } else if (res.error.code !== 'OFFLINE') {
      this.#scheduleRefresh(true);
    }
    return res;
  }

  async #start(): Promise<void> {
    const attempt = ++this.#attempt;
    clearTimeout(this.#retryTimer);
    const token = await this.#fetchToken();
    if (attempt !== this.#attempt || this.#stopped) return;
    if (!token) return this.#fail({ code: 'TOKEN_MISSING', message: 'No token to connect with: the token source returned none (signed out?)' });
    if (this.#refused && token === this.#refused.token) return this.#fail(this.#refused.error);
    this.#prefetched = token;
    this.#deps.socket.connect();
  }

  #handshake(cb: (data: object) => void): void {
    const send = (token: string | undefined) => {
      if (this.#stopped) return;
      this.#token = token;
      const resume = this.#deps.resume();
      cb({ token: token ?? '', ...(Object.keys(resume).length > 0 ? { last_seq: resume } : {}) });
    };
    const prefetched = this.#prefetched;
    this.#prefetched = undefined;
    if (prefetched !== undefined) send(prefetched);
    else void this.#fetchToken().then(send);
  }

  /** The token source's token; when it throws, the last token (it may still be good). */
  async #fetchToken(): Promise<string | undefined> {
    try {
      return (await this.#deps.options.getToken()) ?? undefined;
    } catch {
      return this.#token;
    }
  }

  #onConnectError(err: Error & { data?: Partial<Problem> }): void {
    if (this.#stopped) return;
    const data = err.data;
    const error: Problem = {
      code: data?.code ?? 'UNREACHABLE',
      message: data?.message ?? err.message,
      ...(data?.retry_after_ms !== undefined ? { retry_after_ms: data.retry_after_ms } : {}),
    };
    // A transport failure: socket.io-client keeps trying by itself, with its own backoff.
    if (this.#deps.socket.active) return this.#set({ status: this.#comingBack(), error });
    if (error.code.startsWith('TOKEN_')) {
      // Refused: the token source may have a newer token by now (one more try); the same one again is final.
      if (++this.#refusals > 1) return this.#fail(error);
      this.#refused = { token: this.#token, error };
      this.#set({ status: this.#comingBack(), error });
      void this.#start();
      return;
    }
    // AUTH_KEYS_UNAVAILABLE, RATE_LIMITED, anything else refused for now: the same token, later.
    this.#retryLater(error);
  }

  #onDisconnect(reason: string): void {
    clearTimeout(this.#refreshTimer);
    const endedBy = this.#endedBy;
    this.#endedBy = undefined;
    if (this.#stopped || reason === 'io client disconnect') return;
    // A lost transport (network, a node restarting): socket.io-client reconnects by itself.
    if (reason !== 'io server disconnect') return this.#set({ status: 'reconnecting', error: null });
    if (endedBy === 'TOKEN_EXPIRED') {
      const error = { code: 'TOKEN_EXPIRED', message: 'The token expired before a fresh one reached the server' };
      this.#refused = { token: this.#token, error };
      this.#set({ status: 'reconnecting', error });
      void this.#start();
    } else if (endedBy === 'RATE_LIMITED') {
      this.#retryLater({ code: 'RATE_LIMITED', message: 'Disconnected for sending too many requests' });
    } else {
      this.#fail({ code: 'DISCONNECTED', message: 'The server ended the connection' });
    }
  }

  #retryLater(error: Problem): void {
    const backoff = Math.min(RETRY_MAX_MS, RETRY_MIN_MS * 2 ** this.#failures++) * (0.5 + Math.random() / 2);
    this.#set({ status: this.#comingBack(), error });
    clearTimeout(this.#retryTimer);
    this.#retryTimer = setTimeout(() => void this.#start(), Math.max(RETRY_FLOOR_MS, error.retry_after_ms ?? backoff));
  }

  #scheduleRefresh(retry: boolean): void {
    clearTimeout(this.#refreshTimer);
    const expires = this.state.get().tokenExpiresAt;
    if (expires === null) return;
    const remaining = Date.parse(expires) - this.#clockOffset - Date.now();
    if (!(remaining > REFRESH_MIN_MS)) return;
    const lead = retry ? remaining / 2 : (this.#deps.options.refreshLeadMs ?? Math.min(REFRESH_LEAD_MAX_MS, remaining / 2));
    this.#refreshTimer = setTimeout(() => void this.refresh(), Math.max(0, remaining - lead));
  }

  #fail(error: Problem): void {
    this.#stop();
    this.#set({ status: 'error', error });
  }

  #stop(): void {
    this.#stopped = true;
    this.#attempt++;
    this.#prefetched = undefined;
    clearTimeout(this.#retryTimer);
    clearTimeout(this.#refreshTimer);
    this.#deps.socket.disconnect();
  }

  #comingBack(): 'connecting' | 'reconnecting' {
    return this.state.get().connections > 0 ? 'reconnecting' : 'connecting';
  }

  #set(change: Partial<ConnectionState>): void {
    this.state.set({ ...this.state.get(), ...change });
  }
}

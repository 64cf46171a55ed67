import type { Logger } from '../logger.js';
import { importSpec, keysOfJwks, type VerificationKey } from './keys.js';

/** A JWKS endpoint that has not answered by then counts as down for this attempt. */
const FETCH_TIMEOUT_MS = 5000;

export interface RemoteJwksOptions {
  url: string;
  /** How often the set is fetched again: how long a key removed there is still trusted here. */
  refreshMs: number;
  /** At most one fetch per window for unknown kids; also the retry delay after a failed fetch. */
  cooldownMs: number;
  logger: Logger;
}

/**
 * A JWKS kept in memory: fetched at start, every `refreshMs`, and when a token names a kid the set
 * lacks (at most once per `cooldownMs`, so a flood of made-up kids costs one request per window).
 *
 * A well-formed answer is authoritative: a key gone from it is gone here, even the last one. Any
 * other outcome (no connection, timeout, a redirect, not 200, not a key set) changes nothing: the
 * keys of the last good answer keep verifying however old they are, and the fetch is retried after
 * `cooldownMs`.
 */
export class RemoteJwks {
  #keys: readonly VerificationKey[] = [];
  #lastOk = false;
  #lastError: string | undefined;
  #lastKidRefresh = Number.NEGATIVE_INFINITY;
  #inFlight: Promise<void> | undefined;
  #timer: NodeJS.Timeout | undefined;
  #closed = false;
  #described: string | undefined;

  constructor(private readonly opts: RemoteJwksOptions) {}

  get url(): string {
    return this.opts.url;
  }

  keys(): readonly VerificationKey[] {
    return this.#keys;
  }

  /** Whether the last fetch got a key set: then a kid it lacks is the token's fault, not an outage. */
  get current(): boolean {
    return this.#lastOk;
  }

  get lastError(): string | undefined {
    return this.#lastError;
  }

  /** When the next fetch may run, for a client told to come back later. */
  retryAfterMs(): number {
    return this.opts.cooldownMs;
  }

  /** The first fetch. Resolves either way: `current` and `lastError` say how it went. */
  start(): Promise<void> {
    return this.#refresh('start');
  }

  /** A token named a kid the set lacks: fetch again, unless an unknown kid did so within the cooldown. */
  refreshForUnknownKid(): Promise<void> {
    if (this.#inFlight) return this.#inFlight;
    const now = Date.now();
    if (now - this.#lastKidRefresh < this.opts.cooldownMs) return Promise.resolve();
    this.#lastKidRefresh = now;
    return this.#refresh('unknown kid');
  }

  close(): void {
    this.#closed = true;
    clearTimeout(this.#timer);
  }

  /** One fetch at a time: callers that arrive while one runs wait for it instead of starting another. */
  #refresh(reason: string): Promise<void> {
    this.#inFlight ??= this.#fetchAndApply(reason).finally(() => {
      this.#inFlight = undefined;
      this.#schedule();
    });
    return this.#inFlight;
  }

  #schedule(): void {
    if (this.#closed) return;
    clearTimeout(this.#timer);
    const delay = this.#lastOk ? this.opts.refreshMs : Math.min(this.opts.cooldownMs, this.opts.refreshMs);
    this.#timer = setTimeout(() => {
      this.#refresh('scheduled').catch((err: unknown) => this.opts.logger.error({ err }, 'JWKS refresh failed unexpectedly'));
    }, delay);
    this.#timer.unref();
  }

  async #fetchAndApply(reason: string): Promise<void> {
    const log = this.opts.logger;
    let fetched: { keys: VerificationKey[]; skipped: string[] };
    try {
      fetched = await this.#importAll(keysOfJwks(await this.#fetchJson()));
    } catch (err) {
      this.#lastOk = false;
      this.#lastError = describeFailure(err);
      const cached = this.#keys.length;
      const fields = { url: this.opts.url, reason, error: this.#lastError, cachedKeys: cached };
      if (cached > 0) log.warn(fields, 'JWKS fetch failed; still verifying with the keys of the last good fetch');
      else log.error(fields, 'JWKS fetch failed and none of its keys is cached: tokens signed with them cannot be verified yet');
      return;
    }
    this.#keys = fetched.keys;
    this.#lastOk = true;
    this.#lastError = undefined;
    this.#logChange(fetched.skipped, reason);
  }

  /** A key this runtime cannot import is one more left out, not a reason to drop the whole set. */
  async #importAll(set: ReturnType<typeof keysOfJwks>): Promise<{ keys: VerificationKey[]; skipped: string[] }> {
    const skipped = [...set.skipped];
    const keys: VerificationKey[] = [];
    for (const spec of set.keys) {
      try {
        keys.push(await importSpec(spec, this.opts.url));
      } catch (err) {
        skipped.push(`key ${JSON.stringify(spec.kid ?? spec.alg)}: it does not import (${err instanceof Error ? err.message : String(err)})`);
      }
    }
    return { keys, skipped };
  }

  async #fetchJson(): Promise<unknown> {
    const res = await fetch(this.opts.url, {
      headers: { accept: 'application/jwk-set+json, application/json' },
      // A redirect could hand key selection to another host: the configured URL must answer itself.
      redirect: 'error',
      signal: AbortSignal.timeout(FETCH_TIMEOUT_MS),
    });
    if (res.status !== 200) {
      await res.body?.cancel();
      throw new Error(`it answered HTTP ${res.status}`);
    }
    try {
      return await res.json();
    } catch {
      throw new Error('its answer is not JSON');
    }
  }

  /** Logs the set when it differs from the last one logged, not on every refresh. */
  #logChange(skipped: string[], reason: string): void {
    const kids = this.#keys.map((k) => `${k.kid ?? '(no kid)'}:${k.alg}`);
    const described = JSON.stringify([kids, skipped]);
    if (described === this.#described) return;
    this.#described = described;
    this.opts.logger.info({ url: this.opts.url, reason, keys: kids }, kids.length > 0 ? 'JWKS loaded' : 'JWKS loaded: it has no signing keys');
    if (skipped.length > 0) this.opts.logger.warn({ url: this.opts.url, skipped }, 'JWKS members that cannot verify tokens were left out');
  }
}

function describeFailure(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  if (err.name === 'TimeoutError') return `no answer within ${FETCH_TIMEOUT_MS} ms`;
  // fetch() says "fetch failed" and keeps the reason (refused, DNS, redirect) in `cause`.
  const cause = (err as { cause?: unknown }).cause;
  return cause instanceof Error ? `${err.message}: ${cause.message}` : err.message;
}

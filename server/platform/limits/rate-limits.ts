import type { Redis } from 'ioredis';
import { RateLimiterMemory, RateLimiterRedis, RateLimiterRes, type RateLimiterAbstract } from 'rate-limiter-flexible';
import { AppError } from '../errors.js';
import type { Metrics } from '../observability/metrics.js';

/**
 * `handshake`: Engine.IO sessions opened per address (refused before a session exists); `connect`:
 * connection attempts per address (refused with a readable `connect_error`); `replay`: events
 * replayed from the event log per user.
 */
export type LimitScope = 'socket_event' | 'user_event' | 'booking' | 'http' | 'connect' | 'handshake' | 'replay';
const SCOPES: readonly LimitScope[] = ['socket_event', 'user_event', 'booking', 'http', 'connect', 'handshake', 'replay'];

export interface Limit {
  points: number;
  seconds: number;
}

export type LimitsConfig = Record<LimitScope, Limit> & {
  /** Refusals within one window after which a socket is disconnected. */
  disconnectAfter: number;
};

export class RateLimitedError extends AppError {
  override readonly status = 429;
  constructor(
    readonly scope: LimitScope,
    readonly retryAfterMs: number,
  ) {
    super('RATE_LIMITED', `Too many requests (${scope.replace('_', ' ')}); retry in ${Math.ceil(retryAfterMs / 1000)} s`, {
      retry_after_ms: retryAfterMs,
    });
  }
}

export interface RateLimits {
  /** Takes `points` (default 1) for `key` in `scope`; throws RateLimitedError when they are not left. */
  consume(scope: LimitScope, key: string, points?: number): Promise<void>;
  /**
   * Takes as many of `wanted` points as are left, for work that can be made smaller to fit (a
   * replay reads only what it may send); throws RateLimitedError when none is left. What is not
   * used goes back with `refund`.
   */
  reserve(scope: LimitScope, key: string, wanted: number): Promise<number>;
  refund(scope: LimitScope, key: string, points: number): Promise<void>;
  readonly disconnectAfter: number;
}

/**
 * rate-limiter-flexible limiters, one per scope. With Redis they are shared by every node (a user
 * cannot multiply their allowance by opening sockets on several nodes), with an in-memory limiter
 * as insurance while Redis is unreachable; without Redis, in memory.
 */
export function createRateLimits(opts: { limits: LimitsConfig; redis?: Redis | undefined; keyPrefix: string; metrics: Metrics }): RateLimits {
  const make = (scope: LimitScope): RateLimiterAbstract => {
    const { points, seconds } = opts.limits[scope];
    const memory = new RateLimiterMemory({ points, duration: seconds, keyPrefix: `${opts.keyPrefix}:${scope}` });
    if (!opts.redis) return memory;
    return new RateLimiterRedis({
      storeClient: opts.redis,
      points,
      duration: seconds,
      keyPrefix: `${opts.keyPrefix}:${scope}`,
      rejectIfRedisNotReady: true,
      insuranceLimiter: memory,
    });
  };
  const limiters = Object.fromEntries(SCOPES.map((s) => [s, make(s)])) as Record<LimitScope, RateLimiterAbstract>;

  return {
    disconnectAfter: opts.limits.disconnectAfter,
    async consume(scope, key, points = 1) {
      try {
        await limiters[scope].consume(key, points);
      } catch (err) {
        if (err instanceof RateLimiterRes) {
          opts.metrics.rateLimited.inc({ scope });
          throw new RateLimitedError(scope, err.msBeforeNext);
        }
        throw err;
      }
    },
    async reserve(scope, key, wanted) {
      const limiter = limiters[scope];
      const state = await limiter.get(key);
      const take = Math.min(wanted, state ? Math.max(0, state.remainingPoints) : opts.limits[scope].points);
      let retryAfterMs = state?.msBeforeNext ?? 1000;
      if (take > 0) {
        try {
          await limiter.consume(key, take);
          return take;
        } catch (err) {
          if (!(err instanceof RateLimiterRes)) throw err;
          // Another request took the points between the read and the take: give these back.
          await limiter.reward(key, take);
          retryAfterMs = err.msBeforeNext;
        }
      }
      opts.metrics.rateLimited.inc({ scope });
      throw new RateLimitedError(scope, retryAfterMs);
    },
    async refund(scope, key, points) {
      if (points > 0) await limiters[scope].reward(key, points);
    },
  };
}

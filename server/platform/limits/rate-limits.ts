import type { Redis } from 'ioredis';
import { RateLimiterMemory, RateLimiterRedis, RateLimiterRes, type RateLimiterAbstract } from 'rate-limiter-flexible';
import { AppError } from '../errors.js';
import type { Metrics } from '../observability/metrics.js';

export type LimitScope = 'socket_event' | 'user_event' | 'booking' | 'http' | 'connect';

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
  /** Takes one point for `key` in `scope`; throws RateLimitedError when none is left. */
  consume(scope: LimitScope, key: string): Promise<void>;
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
  const limiters = Object.fromEntries(
    (['socket_event', 'user_event', 'booking', 'http', 'connect'] as const).map((s) => [s, make(s)]),
  ) as Record<LimitScope, RateLimiterAbstract>;

  return {
    disconnectAfter: opts.limits.disconnectAfter,
    async consume(scope, key) {
      try {
        await limiters[scope].consume(key);
      } catch (err) {
        if (err instanceof RateLimiterRes) {
          opts.metrics.rateLimited.inc({ scope });
          throw new RateLimitedError(scope, err.msBeforeNext);
        }
        throw err;
      }
    },
  };
}

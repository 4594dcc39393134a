// Per-principal rate limiting with token buckets: each caller may burst up to `burst` calls and then sustain
// `ratePerSecond`. Buckets live in a bounded map; when it is full the least recently used bucket is dropped, which
// at worst lets a long-idle caller start again with a full bucket (the same as a new caller).
import type { ServerMiddleware } from 'nice-grpc-common';
import type { AuthCallContext, Principal } from './auth';
import { resourceExhausted } from './errors';

export interface RateLimitSettings {
  /** Sustained calls per second per principal; 0 turns limiting off. */
  ratePerSecond: number;
  /** Calls a principal may make at once after being idle. */
  burst: number;
  /** Most principals tracked at once. */
  maxPrincipals?: number;
}

export type TakeResult = { allowed: true } | { allowed: false; retryAfterMs: number };

export interface RateLimiter {
  /** Takes one token from `key`'s bucket. */
  take(key: string, nowMs?: number): TakeResult;
  /** Principals currently tracked. */
  readonly size: number;
}

interface Bucket {
  tokens: number;
  updatedAtMs: number;
}

const DEFAULT_MAX_PRINCIPALS = 10_000;
// One shared answer for the common case, so an allowed call allocates nothing.
const ALLOWED: TakeResult = Object.freeze({ allowed: true });

export function createRateLimiter(settings: RateLimitSettings): RateLimiter {
  const { ratePerSecond, burst } = settings;
  if (!(ratePerSecond >= 0) || !(burst >= 1)) throw new Error('rate limit needs ratePerSecond >= 0 and burst >= 1');
  const maxPrincipals = settings.maxPrincipals ?? DEFAULT_MAX_PRINCIPALS;
  const ratePerMs = ratePerSecond / 1000;
  const buckets = new Map<string, Bucket>();
  // The key served last, which is therefore at the end of `buckets`.
  let newestKey: string | undefined;

  return {
    take(key, nowMs = performance.now()) {
      if (ratePerSecond === 0) return ALLOWED;
      let bucket = buckets.get(key);
      if (bucket === undefined) {
        if (buckets.size >= maxPrincipals) buckets.delete(buckets.keys().next().value as string);
        bucket = { tokens: burst, updatedAtMs: nowMs };
        buckets.set(key, bucket);
      } else {
        bucket.tokens = Math.min(burst, bucket.tokens + (nowMs - bucket.updatedAtMs) * ratePerMs);
        bucket.updatedAtMs = nowMs;
        // Moving the caller to the end keeps the map in least-recently-used order, so eviction drops the idlest
        // caller; the caller served last is already at the end.
        if (key !== newestKey) {
          buckets.delete(key);
          buckets.set(key, bucket);
        }
      }
      newestKey = key;
      if (bucket.tokens >= 1) {
        bucket.tokens -= 1;
        return ALLOWED;
      }
      return { allowed: false, retryAfterMs: Math.max(1, Math.ceil((1 - bucket.tokens) / ratePerMs)) };
    },
    get size() {
      return buckets.size;
    },
  };
}

/** Throws 'resource_exhausted' (RATE_LIMITED, with the retry delay) when `principal` is over its rate. */
export function enforceRateLimit(limiter: RateLimiter, principal: Principal): void {
  // Calls between tradeplane services are bounded by worker prefetch and pool sizes, not by a per-caller budget;
  // limiting them would throttle the order path behind one shared service identity.
  if (principal.roles.has('service')) return;
  const result = limiter.take(principal.subject);
  if (!result.allowed) {
    throw resourceExhausted('RATE_LIMITED', 'too many requests; retry after the given delay', {
      retryAfterMs: result.retryAfterMs,
      metadata: { retryAfterMs: String(result.retryAfterMs) },
    });
  }
}

/** Rejects calls over the caller's rate with RESOURCE_EXHAUSTED and RetryInfo; runs after authentication (streams). */
export function createRateLimitMiddleware(limiter: RateLimiter): ServerMiddleware<{}, AuthCallContext> {
  return async function* rateLimitMiddleware(call, context) {
    enforceRateLimit(limiter, context.principal);
    return yield* call.next(call.request, context);
  };
}

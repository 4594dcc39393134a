// How tradeplane opens its Redis connections. A command connection fails fast while Redis is down: a command is
// rejected at once (no offline queue, one retry, a short command timeout), so callers fall back or answer
// UNAVAILABLE instead of piling up behind a dead connection; auto-pipelining batches the commands of one event-loop
// tick into one write. Every connection keeps reconnecting for ever, at most every 2 s, so it comes back on its own
// after an outage, and its errors surface through the commands that hit them (without an `error` listener ioredis
// would print every failed reconnect attempt).
import { Redis, type RedisOptions } from "ioredis";

/** Delay before the n-th reconnect attempt: 100 ms more each time, at most 2 s. */
export const reconnectDelay = (times: number): number => Math.min(times * 100, 2_000);

/** A fail-fast command connection to `url`; `extra` adds or overrides options (e.g. `keyPrefix`). */
export function openRedisCommands(url: string, commandTimeoutMs: number, extra: RedisOptions = {}): Redis {
  return quiet(
    new Redis(url, {
      enableAutoPipelining: true,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 1,
      commandTimeout: commandTimeoutMs,
      connectTimeout: Math.max(1_000, commandTimeoutMs),
      retryStrategy: reconnectDelay,
      ...extra,
    }),
  );
}

/** A connection for subscriptions or blocking reads, with the same reconnects: `options` says what it is for. */
export function openRedisListener(url: string, options: RedisOptions): Redis {
  return quiet(new Redis(url, { maxRetriesPerRequest: 1, retryStrategy: reconnectDelay, ...options }));
}

function quiet(redis: Redis): Redis {
  redis.on("error", () => undefined);
  return redis;
}

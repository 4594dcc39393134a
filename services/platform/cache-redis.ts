// The production cache on Redis. It is tuned to fail fast: while Redis is down a command is rejected at once (no
// offline queue, one retry, a short command timeout) so callers fall back to Postgres instead of piling up behind a
// dead connection. Auto-pipelining batches the commands issued in one event-loop tick into one write.
import type { Redis } from "ioredis";
import { checkedTtlMs } from "./cache-memory";
import type { Cache } from "./messaging";
import { openRedisCommands } from "./redis-connection";

export interface RedisCacheOptions {
  url: string;
  /** Prepended to every key, so several services or test runs can share one Redis. */
  keyPrefix?: string;
  /** A command without a reply after this long is rejected; keep it small (tens of ms) on request paths. */
  commandTimeoutMs: number;
}

/** Creates a Cache on Redis. It connects in the background; `probe()` waits up to `commandTimeoutMs` for it. */
export function createRedisCache(options: RedisCacheOptions): Cache {
  // Reconnects for ever (redis-connection.ts), so the cache comes back on its own after an outage; connection errors
  // surface through the rejected commands and probe().
  const redis = openRedisCommands(options.url, options.commandTimeoutMs, { keyPrefix: options.keyPrefix });

  return {
    async get(key) {
      return (await redis.get(key)) ?? undefined;
    },
    async getMany(keys) {
      if (keys.length === 0) return [];
      const values = await redis.mget(...keys);
      return values.map((value) => value ?? undefined);
    },
    async set(key, value, ttlMs) {
      await redis.set(key, value, "PX", checkedTtlMs(ttlMs));
    },
    async setMany(entries, ttlMs) {
      const ttl = checkedTtlMs(ttlMs);
      if (entries.length === 0) return;
      const pipeline = redis.pipeline();
      for (const { key, value } of entries) pipeline.set(key, value, "PX", ttl);
      const results = (await pipeline.exec()) ?? [];
      const failed = results.find(([error]) => error !== null);
      if (failed) throw failed[0];
    },
    async delete(keys) {
      const list = typeof keys === "string" ? [keys] : [...keys];
      if (list.length > 0) await redis.del(...list);
    },
    async probe() {
      await waitUntilReady(redis, options.commandTimeoutMs);
      await redis.ping();
    },
    async close() {
      await closeRedis(redis);
    },
  };
}

/** Resolves once `redis` is connected, or rejects after `timeoutMs` (a probe must not hang on a dead server). */
export async function waitUntilReady(redis: Redis, timeoutMs: number): Promise<void> {
  if (redis.status === "ready") return;
  if (redis.status === "end") throw new Error("Redis connection is closed");
  await new Promise<void>((resolve, reject) => {
    const onReady = (): void => {
      clearTimeout(timer);
      resolve();
    };
    const timer = setTimeout(() => {
      redis.off("ready", onReady);
      reject(new Error(`Redis not reachable within ${timeoutMs} ms (status ${redis.status})`));
    }, timeoutMs);
    redis.once("ready", onReady);
  });
}

/** QUIT when connected so pending replies arrive; otherwise drop the socket and stop reconnecting. */
export async function closeRedis(redis: Redis): Promise<void> {
  if (redis.status === "end") return;
  if (redis.status === "ready") {
    try {
      await redis.quit();
      return;
    } catch {
      // Fall through: the connection went away while quitting.
    }
  }
  redis.disconnect();
}

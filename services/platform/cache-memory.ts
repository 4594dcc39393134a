// The embedded cache: an in-process LRU with a time to live per entry, used when no REDIS_URL is configured.
// A Map keeps insertion order, so re-inserting an entry on every read makes the first key the least recently used.
import type { Cache } from "./messaging";

export interface MemoryCacheOptions {
  /** Entries kept at most; the least recently used one is evicted beyond it, so memory stays bounded. */
  maxEntries: number;
}

interface Entry {
  value: string;
  expiresAtMs: number;
}

/** Creates an in-process LRU cache with per-entry time to live. */
export function createMemoryCache(options: MemoryCacheOptions): Cache {
  if (!Number.isInteger(options.maxEntries) || options.maxEntries < 1) {
    throw new RangeError(`maxEntries must be a positive integer, got ${options.maxEntries}`);
  }
  const entries = new Map<string, Entry>();
  let closed = false;

  const read = (key: string, nowMs: number): string | undefined => {
    const entry = entries.get(key);
    if (entry === undefined) return undefined;
    entries.delete(key);
    // Expiry is lazy: an expired entry is dropped when it is next read or when it becomes the eviction candidate.
    if (entry.expiresAtMs <= nowMs) return undefined;
    entries.set(key, entry);
    return entry.value;
  };

  const write = (key: string, value: string, expiresAtMs: number): void => {
    entries.delete(key);
    entries.set(key, { value, expiresAtMs });
    while (entries.size > options.maxEntries) {
      const oldest = entries.keys().next().value as string;
      entries.delete(oldest);
    }
  };

  const ensureOpen = (): void => {
    if (closed) throw new Error("cache is closed");
  };

  return {
    async get(key) {
      ensureOpen();
      return read(key, Date.now());
    },
    async getMany(keys) {
      ensureOpen();
      const nowMs = Date.now();
      return keys.map((key) => read(key, nowMs));
    },
    async set(key, value, ttlMs) {
      ensureOpen();
      write(key, value, Date.now() + checkedTtlMs(ttlMs));
    },
    async setMany(items, ttlMs) {
      ensureOpen();
      const expiresAtMs = Date.now() + checkedTtlMs(ttlMs);
      for (const { key, value } of items) write(key, value, expiresAtMs);
    },
    async delete(keys) {
      ensureOpen();
      for (const key of typeof keys === "string" ? [keys] : keys) entries.delete(key);
    },
    async probe() {
      ensureOpen();
    },
    async close() {
      closed = true;
      entries.clear();
    },
  };
}

/** Both cache adapters accept the same time to live: a positive number of milliseconds, rounded up. */
export function checkedTtlMs(ttlMs: number): number {
  if (!Number.isFinite(ttlMs) || ttlMs <= 0) throw new RangeError(`ttlMs must be a positive number, got ${ttlMs}`);
  return Math.ceil(ttlMs);
}

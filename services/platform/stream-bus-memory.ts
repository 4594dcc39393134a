// The embedded stream bus: one ring buffer per stream in this process, used when no REDIS_URL is configured.
// Ids have the Redis Streams form `<ms>-<seq>` so code that stores or logs them behaves the same on both buses.
import type { Logger } from "./logger";
import type { StreamBus, StreamEntry, Subscription } from "./messaging";

export interface MemoryStreamBusOptions {
  /** Entries kept per stream; older ones are overwritten, so memory stays bounded. */
  retention: number;
  /** Receives errors thrown by subscribers' callbacks (they never reach the appender). */
  logger?: Logger;
}

type OnEntry = (stream: string, entry: StreamEntry) => void;

/** A fixed-capacity ring of entries whose ids increase from the oldest slot to the newest. */
class Ring {
  private readonly slots: StreamEntry[] = [];
  private start = 0;
  lastMs = 0;
  lastSeq = -1;

  constructor(private readonly capacity: number) {}

  push(entry: StreamEntry): void {
    if (this.slots.length < this.capacity) {
      this.slots.push(entry);
      return;
    }
    this.slots[this.start] = entry;
    this.start = (this.start + 1) % this.capacity;
  }

  at(index: number): StreamEntry {
    return this.slots[(this.start + index) % this.slots.length];
  }

  get size(): number {
    return this.slots.length;
  }

  /** Index of the first entry whose id is greater than `afterId` (binary search: ids are ordered). */
  firstAfter(afterId: string): number {
    let low = 0;
    let high = this.slots.length;
    while (low < high) {
      const middle = (low + high) >>> 1;
      if (compareStreamIds(this.at(middle).id, afterId) <= 0) low = middle + 1;
      else high = middle;
    }
    return low;
  }
}

/** Creates an in-process StreamBus with ring buffers of `retention` entries per stream. */
export function createMemoryStreamBus(options: MemoryStreamBusOptions): StreamBus {
  checkRetention(options.retention);
  const rings = new Map<string, Ring>();
  const subscribers = new Map<string, Set<OnEntry>>();
  let closed = false;

  const ensureOpen = (): void => {
    if (closed) throw new Error("stream bus is closed");
  };

  const listen = (stream: string, onEntry: OnEntry): void => {
    let set = subscribers.get(stream);
    if (set === undefined) subscribers.set(stream, (set = new Set()));
    set.add(onEntry);
  };

  const unlisten = (stream: string, onEntry: OnEntry): void => {
    const set = subscribers.get(stream);
    set?.delete(onEntry);
    if (set?.size === 0) subscribers.delete(stream);
  };

  return {
    async append(stream, payload) {
      ensureOpen();
      let ring = rings.get(stream);
      if (ring === undefined) rings.set(stream, (ring = new Ring(options.retention)));
      // Same rule as Redis: the millisecond part never goes backwards, the sequence orders entries within one ms.
      const nowMs = Math.max(Date.now(), ring.lastMs);
      const seq = nowMs === ring.lastMs ? ring.lastSeq + 1 : 0;
      ring.lastMs = nowMs;
      ring.lastSeq = seq;
      const entry: StreamEntry = { id: `${nowMs}-${seq}`, payload };
      ring.push(entry);
      // Subscribers are called on a later microtask, in append order, so a slow or throwing callback never runs
      // inside the appender's call and the delivery is asynchronous as it is with Redis.
      for (const onEntry of subscribers.get(stream) ?? []) {
        queueMicrotask(() => {
          try {
            onEntry(stream, entry);
          } catch (error) {
            options.logger?.warn("stream subscriber failed", { stream, error });
          }
        });
      }
      return entry.id;
    },

    async readAfter(stream, afterId, limit) {
      ensureOpen();
      parseStreamId(afterId);
      const ring = rings.get(stream);
      if (ring === undefined || limit <= 0) return [];
      const out: StreamEntry[] = [];
      for (let i = ring.firstAfter(afterId); i < ring.size && out.length < limit; i++) out.push(ring.at(i));
      return out;
    },

    async subscribe(streams, onEntry) {
      ensureOpen();
      // Each subscription gets its own callback identity, so the same function subscribed twice is two listeners.
      const listener: OnEntry = (stream, entry) => onEntry(stream, entry);
      const active = new Set<string>();
      const add = (list: readonly string[]): void => {
        for (const stream of list) {
          if (active.has(stream)) continue;
          active.add(stream);
          listen(stream, listener);
        }
      };
      add(streams);
      const subscription: Subscription = {
        async update(addStreams, removeStreams) {
          ensureOpen();
          for (const stream of removeStreams) {
            if (active.delete(stream)) unlisten(stream, listener);
          }
          add(addStreams);
        },
        async close() {
          for (const stream of active) unlisten(stream, listener);
          active.clear();
        },
      };
      return subscription;
    },

    async probe() {
      ensureOpen();
    },

    async close() {
      closed = true;
      subscribers.clear();
      rings.clear();
    },
  };
}

export function checkRetention(retention: number): void {
  if (!Number.isInteger(retention) || retention < 1) {
    throw new RangeError(`retention must be a positive integer, got ${retention}`);
  }
}

/** Parses `<ms>-<seq>` (a bare `<ms>` means sequence 0, as in Redis); throws on anything else. */
export function parseStreamId(id: string): [bigint, bigint] {
  const match = /^(\d+)(?:-(\d+))?$/.exec(id);
  if (match === null) throw new RangeError(`not a stream id: ${JSON.stringify(id)}`);
  return [BigInt(match[1]), BigInt(match[2] ?? "0")];
}

/** Orders two stream ids: negative when `a` is older than `b`, 0 when equal, positive when newer. */
export function compareStreamIds(a: string, b: string): number {
  const [aMs, aSeq] = parseStreamId(a);
  const [bMs, bSeq] = parseStreamId(b);
  if (aMs !== bMs) return aMs < bMs ? -1 : 1;
  if (aSeq !== bSeq) return aSeq < bSeq ? -1 : 1;
  return 0;
}

// Memory of a benchmark server process, measured so that a difference between two readings means something:
// a full garbage collection first (the process runs with --expose-gc), then the V8 heap in use plus the memory
// held outside it for JS objects (Buffers, ArrayBuffers, native stream state: `external`, which includes
// `arrayBuffers`). RSS is recorded too, but it moves with collections and the allocator keeping freed pages,
// so it is not what per-stream targets are checked on.

export interface MemoryReading {
  /** heapUsed + external after a full GC: what the process holds for live objects. */
  readonly liveBytes: number;
  readonly heapUsed: number;
  readonly external: number;
  readonly arrayBuffers: number;
  readonly rss: number;
  /** False when the process was started without --expose-gc (then the reading includes garbage). */
  readonly collected: boolean;
}

export function readMemory(): MemoryReading {
  const gc = (globalThis as { gc?: () => void }).gc;
  // Twice: the first collection can leave objects whose finalization frees more in the second.
  gc?.();
  gc?.();
  const usage = process.memoryUsage();
  return {
    liveBytes: usage.heapUsed + usage.external,
    heapUsed: usage.heapUsed,
    external: usage.external,
    arrayBuffers: usage.arrayBuffers,
    rss: usage.rss,
    collected: gc !== undefined,
  };
}

/** Per-stream growth between two readings of the same process. */
export function perStream(before: MemoryReading, after: MemoryReading, streams: number) {
  return {
    liveBytes: (after.liveBytes - before.liveBytes) / streams,
    heapUsed: (after.heapUsed - before.heapUsed) / streams,
    external: (after.external - before.external) / streams,
    rss: (after.rss - before.rss) / streams,
  };
}

// Natural batching for writes that are cheaper together: calls made while earlier batches are still running wait
// and then go as one batch. With nothing running a call goes at once (no timer, no added latency when idle); under
// load the batches grow by themselves to what arrived during one round trip, so the cost per call falls exactly
// when the load rises. Used where one statement or one commit can serve many callers (accounting's holds).

export interface BatcherOptions<I, O> {
  /** Runs one batch; resolves with one outcome per item, in the items' order. A rejection fails every item. */
  run(items: I[]): Promise<O[]>;
  /** Most items in one batch. */
  maxBatch: number;
  /** Most batches running at the same time. */
  maxInFlight: number;
}

/** Returns a function that queues one item and resolves with its outcome. */
export function createBatcher<I, O>(options: BatcherOptions<I, O>): (item: I) => Promise<O> {
  const { run, maxBatch, maxInFlight } = options;
  if (!Number.isInteger(maxBatch) || maxBatch < 1) throw new Error(`batcher: maxBatch must be a positive integer, got ${maxBatch}`);
  if (!Number.isInteger(maxInFlight) || maxInFlight < 1) {
    throw new Error(`batcher: maxInFlight must be a positive integer, got ${maxInFlight}`);
  }
  type Waiting = { item: I; resolve(outcome: O): void; reject(error: unknown): void };
  let queue: Waiting[] = [];
  let inFlight = 0;
  let scheduled = false;

  function dispatch(): void {
    scheduled = false;
    while (inFlight < maxInFlight && queue.length > 0) {
      const batch = queue.length <= maxBatch ? queue : queue.slice(0, maxBatch);
      queue = batch === queue ? [] : queue.slice(maxBatch);
      inFlight++;
      void runBatch(batch);
    }
  }

  async function runBatch(batch: Waiting[]): Promise<void> {
    try {
      const outcomes = await run(batch.map((w) => w.item));
      if (outcomes.length !== batch.length) {
        throw new Error(`batcher: a batch of ${batch.length} returned ${outcomes.length} outcomes`);
      }
      batch.forEach((w, i) => w.resolve(outcomes[i]));
    } catch (error) {
      for (const w of batch) w.reject(error);
    } finally {
      inFlight--;
      dispatch();
    }
  }

  return (item) =>
    new Promise<O>((resolve, reject) => {
      queue.push({ item, resolve, reject });
      // Items queued in the same turn of the event loop go together; the first one does not wait for a timer.
      if (!scheduled && inFlight < maxInFlight) {
        scheduled = true;
        queueMicrotask(dispatch);
      }
    });
}

/** An item's outcome, or the error that failed it alone. */
export type Settled<T> = { ok: true; value: T } | { ok: false; error: unknown };

/**
 * Writes a batch with `write` (one statement for many items, one outcome per item) where an item's key may appear
 * only once per statement (an upsert cannot touch one row twice, an order cannot move twice from one version): the
 * first item of each key goes now, any repeat in the next statement, after it. A statement that fails is retried
 * item by item, so one bad item fails alone and the others are written.
 */
export async function writeEachKeyOnce<I, O>(
  items: readonly I[],
  keyOf: (item: I) => string,
  write: (items: I[]) => Promise<O[]>,
): Promise<Settled<O>[]> {
  const outcomes: Settled<O>[] = new Array(items.length);
  let pending = items.map((item, index) => ({ item, index }));
  while (pending.length > 0) {
    const keys = new Set<string>();
    const now: typeof pending = [];
    const later: typeof pending = [];
    for (const entry of pending) {
      const key = keyOf(entry.item);
      if (keys.has(key)) later.push(entry);
      else {
        keys.add(key);
        now.push(entry);
      }
    }
    pending = later;
    try {
      const written = await write(now.map((entry) => entry.item));
      now.forEach((entry, i) => (outcomes[entry.index] = { ok: true, value: written[i] }));
    } catch (error) {
      // A write of one item already gave that item its own outcome: running it again alone would only repeat it.
      if (now.length === 1) {
        outcomes[now[0].index] = { ok: false, error };
        continue;
      }
      for (const entry of now) {
        try {
          outcomes[entry.index] = { ok: true, value: (await write([entry.item]))[0] };
        } catch (single) {
          outcomes[entry.index] = { ok: false, error: single };
        }
      }
    }
  }
  return outcomes;
}

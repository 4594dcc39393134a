import type { SequencedQuote } from "./quote";

/** Where the updates a resuming subscriber missed are read back from (this ring, or Redis Streams). */
export interface QuoteReplaySource {
  /**
   * Quotes of one symbol with fromSeq ≤ seq ≤ toSeq in seq order, or undefined when any of them is no
   * longer retained (then the subscriber gets a GAP and a fresh SNAPSHOT instead).
   */
  replay(symbol: string, epoch: number, fromSeq: number, toSeq: number): Promise<readonly SequencedQuote[] | undefined>;
}

export interface ReplayRingOptions {
  /** Most recent updates kept per symbol. */
  readonly capacityPerSymbol: number;
  /** Updates older than this (by publish time) are no longer replayed. */
  readonly retentionMs: number;
  /** Current time in epoch ms; injected so retention is testable. */
  readonly nowMs: () => number;
}

interface SymbolRing {
  readonly slots: (SequencedQuote | undefined)[];
  /** Index in `slots` of the oldest retained quote. */
  start: number;
  length: number;
  /** Seq of the oldest retained quote; the ring holds firstSeq … firstSeq + length − 1. */
  firstSeq: number;
}

/**
 * In-process replay buffer: a fixed-size ring of the latest sequenced quotes per symbol. Quotes of
 * one symbol are contiguous in the ring, so the quote for a seq is found by arithmetic, and memory is
 * capped at symbols × capacityPerSymbol whatever the subscribers do.
 */
export class ReplayRing implements QuoteReplaySource {
  private epoch: number | undefined;
  private readonly rings = new Map<string, SymbolRing>();

  constructor(private readonly options: ReplayRingOptions) {
    if (!Number.isInteger(options.capacityPerSymbol) || options.capacityPerSymbol < 1) {
      throw new RangeError(`capacityPerSymbol must be a positive integer, got ${options.capacityPerSymbol}`);
    }
  }

  /**
   * Keep a quote. A quote that does not follow the previous one of its symbol (a gap or a new epoch)
   * restarts that symbol's ring, because replay must never stitch across a hole.
   */
  append(quote: SequencedQuote): void {
    if (this.epoch !== quote.epoch) {
      this.rings.clear();
      this.epoch = quote.epoch;
    }
    let ring = this.rings.get(quote.symbol);
    if (!ring || quote.seq !== ring.firstSeq + ring.length) {
      ring = { slots: new Array(this.options.capacityPerSymbol), start: 0, length: 0, firstSeq: quote.seq };
      this.rings.set(quote.symbol, ring);
    }
    const capacity = ring.slots.length;
    if (ring.length < capacity) {
      ring.slots[(ring.start + ring.length) % capacity] = quote;
      ring.length += 1;
    } else {
      ring.slots[ring.start] = quote;
      ring.start = (ring.start + 1) % capacity;
      ring.firstSeq += 1;
    }
  }

  /** Oldest seq of a symbol that can still be replayed, or undefined when none can. */
  oldestSeq(symbol: string, epoch: number): number | undefined {
    const ring = this.rings.get(symbol);
    if (!ring || epoch !== this.epoch || ring.length === 0) return undefined;
    const oldestFreshMs = this.options.nowMs() - this.options.retentionMs;
    // Publish times grow with seq, so the first fresh entry is found by binary search.
    let low = 0;
    let high = ring.length;
    while (low < high) {
      const middle = (low + high) >> 1;
      const quote = ring.slots[(ring.start + middle) % ring.slots.length]!;
      if (quote.publishedAtMs < oldestFreshMs) low = middle + 1;
      else high = middle;
    }
    return low < ring.length ? ring.firstSeq + low : undefined;
  }

  /** The quotes fromSeq..toSeq of a symbol, or undefined when any of them is gone. */
  range(symbol: string, epoch: number, fromSeq: number, toSeq: number): SequencedQuote[] | undefined {
    if (toSeq < fromSeq) return [];
    const ring = this.rings.get(symbol);
    const oldest = this.oldestSeq(symbol, epoch);
    if (!ring || oldest === undefined || fromSeq < oldest || toSeq > ring.firstSeq + ring.length - 1) return undefined;
    const quotes: SequencedQuote[] = [];
    for (let seq = fromSeq; seq <= toSeq; seq += 1) {
      quotes.push(ring.slots[(ring.start + (seq - ring.firstSeq)) % ring.slots.length]!);
    }
    return quotes;
  }

  async replay(symbol: string, epoch: number, fromSeq: number, toSeq: number): Promise<readonly SequencedQuote[] | undefined> {
    return this.range(symbol, epoch, fromSeq, toSeq);
  }
}

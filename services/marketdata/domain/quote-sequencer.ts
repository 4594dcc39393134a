/**
 * Producer side: hands out a contiguous seq per symbol (1, 2, 3, …) within one epoch. The epoch is
 * chosen by whoever owns the sequence space (process start, or the shared Redis key) so that seqs
 * from two different spaces are never compared.
 */
export class QuoteSequencer {
  private readonly latestBySymbol = new Map<string, number>();

  constructor(
    readonly epoch: number,
    initialSeqs: Iterable<readonly [symbol: string, seq: number]> = [],
  ) {
    for (const [symbol, seq] of initialSeqs) this.latestBySymbol.set(symbol, seq);
  }

  /** The seq for the next quote of a symbol. */
  next(symbol: string): number {
    const seq = (this.latestBySymbol.get(symbol) ?? 0) + 1;
    this.latestBySymbol.set(symbol, seq);
    return seq;
  }

  /** The last seq handed out for a symbol, 0 when none. */
  latestSeq(symbol: string): number {
    return this.latestBySymbol.get(symbol) ?? 0;
  }
}

/** What a consumer learns from one sequenced quote. */
export type SequenceObservation =
  | { readonly kind: "NEXT" }
  | { readonly kind: "DUPLICATE" }
  /** Seqs fromSeq..toSeq (inclusive) were never seen; the observed quote is toSeq + 1. */
  | { readonly kind: "GAP"; readonly fromSeq: number; readonly toSeq: number }
  /** The producer's sequence space changed; everything known before is void. */
  | { readonly kind: "EPOCH_CHANGED"; readonly previousEpoch: number };

/**
 * Consumer side: checks that quotes arriving from the bus are contiguous per symbol, so a lost or
 * reordered message is detected instead of silently forwarded.
 */
export class SequenceTracker {
  private epoch: number | undefined;
  private readonly lastSeqBySymbol = new Map<string, number>();

  /** Start from known positions, e.g. the latest stored quotes read at startup. */
  seed(epoch: number, seqs: Iterable<readonly [symbol: string, seq: number]>): void {
    this.epoch = epoch;
    this.lastSeqBySymbol.clear();
    for (const [symbol, seq] of seqs) this.lastSeqBySymbol.set(symbol, seq);
  }

  /**
   * Record one quote and classify it. A symbol not seen before in this epoch is taken to be at seq 0,
   * so a first quote with seq 5 reports 1..4 as missing.
   */
  observe(symbol: string, seq: number, epoch: number): SequenceObservation {
    if (this.epoch !== undefined && epoch !== this.epoch) {
      const previousEpoch = this.epoch;
      this.seed(epoch, [[symbol, seq]]);
      return { kind: "EPOCH_CHANGED", previousEpoch };
    }
    this.epoch = epoch;
    const last = this.lastSeqBySymbol.get(symbol) ?? 0;
    if (seq <= last) return { kind: "DUPLICATE" };
    this.lastSeqBySymbol.set(symbol, seq);
    if (seq > last + 1) return { kind: "GAP", fromSeq: last + 1, toSeq: seq - 1 };
    return { kind: "NEXT" };
  }

  /** Last seq observed for a symbol, 0 when none. */
  lastSeq(symbol: string): number {
    return this.lastSeqBySymbol.get(symbol) ?? 0;
  }
}

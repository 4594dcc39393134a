import type Decimal from "decimal.js";

/** Top of book for one symbol at one instant. Prices and sizes are Decimal; times are epoch ms. */
export interface Quote {
  readonly symbol: string;
  readonly bid: Decimal;
  readonly ask: Decimal;
  /** Last trade price; absent for a quote-only tick. */
  readonly last?: Decimal;
  readonly bidSize: Decimal;
  readonly askSize: Decimal;
  /** Size of the last trade; zero for a quote-only tick. */
  readonly lastSize: Decimal;
  /** When the venue (or the simulator) stamped the tick, epoch ms. */
  readonly exchangeTimeMs: number;
}

/**
 * A quote after the sequencer: `seq` is contiguous per symbol within one `epoch` (1, 2, 3, …), so a
 * subscriber can tell a missed update from a quiet market.
 */
export interface SequencedQuote extends Quote {
  readonly seq: number;
  /** Identifies the sequence space; a new epoch means seqs restarted and old resume tokens are void. */
  readonly epoch: number;
  /** When market data accepted and sequenced the tick, epoch ms. */
  readonly publishedAtMs: number;
}

/** The price a bar or a valuation uses: the last trade when there is one, else the mid of bid and ask. */
export function referencePriceOf(quote: Quote): Decimal {
  return quote.last ?? quote.bid.plus(quote.ask).dividedBy(2);
}

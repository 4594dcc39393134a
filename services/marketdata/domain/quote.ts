import type Decimal from "decimal.js";
import { BAR_INTERVAL_MS } from "./bar-interval";

/** Top of book for one symbol at one instant. Prices and sizes are Decimal; times are epoch ms. */
export interface Quote {
  readonly symbol: string;
  readonly bid: Decimal;
  readonly ask: Decimal;
  /** Last trade price; a quote-only tick carries the previous one forward. */
  readonly last: Decimal;
  readonly bidSize: Decimal;
  readonly askSize: Decimal;
  /** Quantity traded at `last` by this tick; zero for a quote-only tick. */
  readonly lastSize: Decimal;
  /** Quantity traded since 00:00 UTC of the tick's day, this tick included. */
  readonly volume: Decimal;
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

/** Whether two instants fall on the same UTC day, the period `volume` accumulates over. */
export function isSameUtcDay(aMs: number, bMs: number): boolean {
  const dayMs = BAR_INTERVAL_MS["1d"];
  return Math.floor(aMs / dayMs) === Math.floor(bMs / dayMs);
}

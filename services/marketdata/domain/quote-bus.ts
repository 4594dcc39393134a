import type { QuotePublisher } from "./publish-ticks";
import type { SequencedQuote } from "./quote";
import type { QuoteReplaySource } from "./replay-ring";

/** A live subscription to the bus; closing it stops deliveries. */
export interface QuoteBusSubscription {
  close(): Promise<void>;
}

/**
 * The quote bus shared by every market data process (Redis Streams, or in-process when Redis is not
 * configured): it sequences and publishes quotes, delivers them to subscribers in seq order per
 * symbol, and keeps a bounded tail per symbol for resume.
 */
export interface QuoteBus extends QuotePublisher, QuoteReplaySource {
  /** The epoch of the shared sequence space, created on first use. */
  currentEpoch(): Promise<number>;
  /** Newest quote the bus holds for each of the symbols (symbols without one are left out). */
  latest(symbols: readonly string[]): Promise<SequencedQuote[]>;
  /** Deliver every quote of these symbols published from now on, by any process. */
  subscribe(symbols: readonly string[], onQuote: (quote: SequencedQuote) => void): Promise<QuoteBusSubscription>;
  close(): Promise<void>;
}

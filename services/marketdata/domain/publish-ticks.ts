import { MarketDataError } from "./errors";
import type { InstrumentRegistry } from "./instrument-registry";
import type { Quote, SequencedQuote } from "./quote";
import type { RawTick, TickRejectionCode } from "./tick-validation";
import { validateTick } from "./tick-validation";

/**
 * The quote bus as the publishing side sees it: assigns the next seq of the quote's symbol and makes
 * the quote visible to every market data process. Quotes handed over in one synchronous run are
 * published in that order (one connection, pipelined), which keeps each symbol's seqs in order.
 */
export interface QuotePublisher {
  publish(quote: Quote): Promise<SequencedQuote>;
}

/** Where accepted quotes go to be stored, in batches. */
export interface QuoteRecorder {
  record(quotes: readonly SequencedQuote[]): void;
  /** Resolves once everything recorded so far is stored (or the attempt failed and will be retried). */
  flush(): Promise<void>;
}

export interface PublishTicksDeps {
  readonly registry: InstrumentRegistry;
  readonly publisher: QuotePublisher;
  readonly recorder: QuoteRecorder;
  /**
   * Newest quote known per symbol: accepted here, or delivered by the bus from another process.
   * Validation compares timestamps with it and carries `last` forward from it.
   */
  readonly latestQuote: (symbol: string) => Quote | undefined;
  /** Note a quote accepted here before the bus has delivered it back. */
  readonly rememberAccepted: (quote: Quote) => void;
  readonly nowMs: () => number;
  readonly maxTickAgeMs: number;
  readonly maxClockSkewMs: number;
}

/** One refused tick, numbered across the whole feed call. */
export interface IndexedRejection {
  readonly index: number;
  /** The symbol as the feed sent it. */
  readonly symbol: string;
  readonly code: TickRejectionCode;
  readonly message: string;
}

export interface PublishTicksResult {
  readonly accepted: readonly SequencedQuote[];
  readonly rejections: readonly IndexedRejection[];
}

export const MAX_TICKS_PER_MESSAGE = 1000;

/**
 * Ingest one message of a feed: validate every tick, publish the accepted ones (each gets its seq),
 * and hand them to the batch recorder. A bad tick is reported by its index and never stops the
 * others; validation is synchronous per tick, so two ticks of one symbol in one message are checked
 * against each other.
 */
export async function publishTicks(deps: PublishTicksDeps, ticks: readonly RawTick[], firstIndex: number): Promise<PublishTicksResult> {
  if (ticks.length > MAX_TICKS_PER_MESSAGE) {
    throw new MarketDataError("TOO_MANY_TICKS", `at most ${MAX_TICKS_PER_MESSAGE} ticks per message, ${ticks.length} sent`, {
      field: "ticks",
      limit: MAX_TICKS_PER_MESSAGE,
    });
  }
  const nowMs = deps.nowMs();
  const context = {
    instrumentFor: (symbol: string) => deps.registry.bySymbol(symbol),
    latestQuote: deps.latestQuote,
    nowMs,
    maxTickAgeMs: deps.maxTickAgeMs,
    maxClockSkewMs: deps.maxClockSkewMs,
  };
  const valid: Quote[] = [];
  const rejections: IndexedRejection[] = [];
  ticks.forEach((tick, offset) => {
    const result = validateTick(tick, context);
    if (result.ok) {
      deps.rememberAccepted(result.quote);
      valid.push(result.quote);
    } else {
      rejections.push({ index: firstIndex + offset, symbol: tick.symbol, code: result.code, message: result.message });
    }
  });
  const accepted = await publishQuotes(deps, valid);
  return { accepted, rejections };
}

/** Publish quotes that are already valid (the simulator's) and record them for storage. */
export async function publishQuotes(deps: Pick<PublishTicksDeps, "publisher" | "recorder">, quotes: readonly Quote[]): Promise<SequencedQuote[]> {
  if (quotes.length === 0) return [];
  const sequenced = await Promise.all(quotes.map((quote) => deps.publisher.publish(quote)));
  deps.recorder.record(sequenced);
  return sequenced;
}

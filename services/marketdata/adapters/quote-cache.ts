import type { Cache } from "../../platform/messaging";
import type { SequencedQuote } from "../domain/quote";
import type { QuoteCache } from "../domain/read-quotes";
import { quoteFromJson, sequencedQuoteToJson } from "./quote-json";


export interface InvalidatingQuoteCache extends QuoteCache {
  /** Drop symbols' entries after their stored quote changed. */
  invalidate(symbols: readonly string[]): Promise<void>;
}

/**
 * The latest-quote cache on the platform cache (Redis MGET / pipelined SET, or the in-process LRU).
 * An entry that fails to decode counts as a miss, as in the reference. Keys are `quote:{SYMBOL}`
 * (`market_data:{SYMBOL}` in Hub Investments), after an optional namespace that isolates test runs
 * sharing one Redis.
 */
export function createQuoteCache(cache: Cache, ttlMs: number, namespace = ""): InvalidatingQuoteCache {
  const quoteCacheKey = (symbol: string): string => `${namespace}quote:${symbol}`;
  // The last decoded entry per symbol: a hot quote is read far more often than it changes, and
  // decoding (JSON plus eight Decimals) would otherwise be most of GetQuote's own cost. One entry
  // per symbol, so it is bounded by the instrument registry.
  const decoded = new Map<string, { json: string; quote: SequencedQuote }>();
  const decode = (symbol: string, json: string): SequencedQuote | undefined => {
    const memo = decoded.get(symbol);
    if (memo !== undefined && memo.json === json) return memo.quote;
    try {
      const quote = quoteFromJson(json);
      decoded.set(symbol, { json, quote });
      return quote;
    } catch {
      return undefined;
    }
  };
  return {
    async getMany(symbols) {
      const values = await cache.getMany(symbols.map(quoteCacheKey));
      return values.map((value, index) => (value === undefined ? undefined : decode(symbols[index]!, value)));
    },
    async setMany(quotes: readonly SequencedQuote[]) {
      await cache.setMany(
        quotes.map((quote) => ({ key: quoteCacheKey(quote.symbol), value: sequencedQuoteToJson(quote) })),
        ttlMs,
      );
    },
    async invalidate(symbols) {
      if (symbols.length > 0) await cache.delete(symbols.map(quoteCacheKey));
    },
  };
}

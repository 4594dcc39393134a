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
  return {
    async getMany(symbols) {
      const values = await cache.getMany(symbols.map(quoteCacheKey));
      return values.map((value) => {
        if (value === undefined) return undefined;
        try {
          return quoteFromJson(value);
        } catch {
          return undefined;
        }
      });
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

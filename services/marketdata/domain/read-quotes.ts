import { MarketDataError } from "./errors";
import type { InstrumentRegistry } from "./instrument-registry";
import { normalizeSymbol } from "./instrument";
import type { SequencedQuote } from "./quote";

/** The quote cache (`quote:{SYMBOL}` in Redis, or in-process): one round trip for many symbols. */
export interface QuoteCache {
  getMany(symbols: readonly string[]): Promise<(SequencedQuote | undefined)[]>;
  setMany(quotes: readonly SequencedQuote[]): Promise<void>;
}

/** The latest quotes in Postgres, the source of truth behind the cache. */
export interface LatestQuoteStore {
  latestQuotes(symbols: readonly string[]): Promise<SequencedQuote[]>;
}

export interface ReadQuotesDeps {
  readonly registry: InstrumentRegistry;
  readonly cache: QuoteCache;
  readonly store: LatestQuoteStore;
  /** Called when the cache fails; reads carry on from Postgres (a metric counts these). */
  readonly onCacheFailure: (error: unknown) => void;
}

export const MAX_BATCH_SYMBOLS = 1000;

/**
 * Cache-aside read of the latest quotes: one cache round trip, one Postgres query for the misses,
 * and the misses written back to the cache without making the caller wait. A failing cache only
 * degrades the read to Postgres; it never fails it.
 */
export async function readLatestQuotes(deps: ReadQuotesDeps, symbols: readonly string[]): Promise<Map<string, SequencedQuote>> {
  const found = new Map<string, SequencedQuote>();
  let cached: (SequencedQuote | undefined)[] = [];
  try {
    cached = await deps.cache.getMany(symbols);
  } catch (error) {
    deps.onCacheFailure(error);
  }
  const misses: string[] = [];
  symbols.forEach((symbol, index) => {
    const quote = cached[index];
    if (quote) found.set(symbol, quote);
    else misses.push(symbol);
  });
  if (misses.length === 0) return found;

  const stored = await deps.store.latestQuotes(misses);
  for (const quote of stored) found.set(quote.symbol, quote);
  if (stored.length > 0) deps.cache.setMany(stored).catch(deps.onCacheFailure);
  return found;
}

/** The latest quote of one known symbol; NO_QUOTE when it has never ticked. */
export async function getQuote(deps: ReadQuotesDeps, rawSymbol: string): Promise<SequencedQuote> {
  const symbol = normalizeSymbol(rawSymbol);
  if (!deps.registry.isKnownSymbol(symbol)) {
    throw new MarketDataError("UNKNOWN_SYMBOL", `unknown symbol "${symbol}"`, { symbols: [symbol] });
  }
  const quote = (await readLatestQuotes(deps, [symbol])).get(symbol);
  if (!quote) throw new MarketDataError("NO_QUOTE", `${symbol} has no quote yet`, { symbols: [symbol] });
  return quote;
}

export interface BatchQuotes {
  /** In the order the symbols were first requested. */
  readonly quotes: readonly SequencedQuote[];
  /** Requested symbols (trimmed, upper-case) that are unknown, malformed or without a quote. */
  readonly missingSymbols: readonly string[];
}

/** Latest quotes of up to 1,000 symbols; what cannot be answered is listed, not failed. */
export async function batchGetQuotes(deps: ReadQuotesDeps, rawSymbols: readonly string[]): Promise<BatchQuotes> {
  if (rawSymbols.length === 0) {
    throw new MarketDataError("INVALID_ARGUMENT", "at least one symbol is required", { field: "symbols" });
  }
  const requested = [...new Set(rawSymbols.map((symbol) => symbol.trim().toUpperCase()))];
  if (requested.length > MAX_BATCH_SYMBOLS) {
    throw new MarketDataError("BATCH_TOO_LARGE", `at most ${MAX_BATCH_SYMBOLS} symbols per call, ${requested.length} given`, {
      field: "symbols",
      limit: MAX_BATCH_SYMBOLS,
    });
  }
  const known = requested.filter((symbol) => deps.registry.isKnownSymbol(symbol));
  const found = known.length > 0 ? await readLatestQuotes(deps, known) : new Map<string, SequencedQuote>();
  const quotes: SequencedQuote[] = [];
  const missingSymbols: string[] = [];
  for (const symbol of requested) {
    const quote = found.get(symbol);
    if (quote) quotes.push(quote);
    else missingSymbols.push(symbol);
  }
  return { quotes, missingSymbols };
}

import { expect } from "chai";
import Decimal from "decimal.js";
import { MarketDataError } from "../../../services/marketdata/domain/errors";
import { InstrumentRegistry } from "../../../services/marketdata/domain/instrument-registry";
import { seedInstruments } from "../../../services/marketdata/domain/instrument-seed";
import type { SequencedQuote } from "../../../services/marketdata/domain/quote";
import type { ReadQuotesDeps } from "../../../services/marketdata/domain/read-quotes";
import { batchGetQuotes, getQuote } from "../../../services/marketdata/domain/read-quotes";

function quote(symbol: string, last: string, seq = 1): SequencedQuote {
  const price = new Decimal(last);
  return { symbol, seq, epoch: 1, publishedAtMs: 0, exchangeTimeMs: 0, bid: price, ask: price, last: price, bidSize: new Decimal(0), askSize: new Decimal(0), lastSize: new Decimal(0), volume: new Decimal(0) };
}

/** An in-memory cache and store that record what was asked of them. */
function fakes(options: { cached?: SequencedQuote[]; stored?: SequencedQuote[]; isCacheDown?: boolean } = {}) {
  const cache = new Map((options.cached ?? []).map((q) => [q.symbol, q]));
  const stored = new Map((options.stored ?? []).map((q) => [q.symbol, q]));
  const calls = { cacheReads: [] as string[][], storeReads: [] as string[][], cacheFailures: 0 };
  const deps: ReadQuotesDeps = {
    registry: new InstrumentRegistry(seedInstruments()),
    cache: {
      async getMany(symbols) {
        calls.cacheReads.push([...symbols]);
        if (options.isCacheDown) throw new Error("redis down");
        return symbols.map((symbol) => cache.get(symbol));
      },
      async setMany(quotes) {
        if (options.isCacheDown) throw new Error("redis down");
        for (const q of quotes) cache.set(q.symbol, q);
      },
    },
    store: {
      async latestQuotes(symbols) {
        calls.storeReads.push([...symbols]);
        return symbols.flatMap((symbol) => (stored.has(symbol) ? [stored.get(symbol)!] : []));
      },
    },
    onCacheFailure: () => (calls.cacheFailures += 1),
  };
  return { deps, cache, calls };
}

describe("marketdata quote reads", () => {
  it("serves a cached quote without touching Postgres", async () => {
    const { deps, calls } = fakes({ cached: [quote("AAPL", "175.50")] });
    expect((await getQuote(deps, "aapl")).last.toString()).to.equal("175.5");
    expect(calls.storeReads).to.deep.equal([]);
  });

  it("reads a miss from Postgres and writes it back to the cache", async () => {
    const { deps, cache, calls } = fakes({ stored: [quote("AAPL", "175.50")] });
    await getQuote(deps, "AAPL");
    await new Promise((resolve) => setImmediate(resolve));
    expect(calls.storeReads).to.deep.equal([["AAPL"]]);
    expect(cache.get("AAPL")?.last.toString()).to.equal("175.5");
  });

  it("keeps answering from Postgres when the cache is down, counting each failure", async () => {
    const { deps, calls } = fakes({ stored: [quote("AAPL", "175.50")], isCacheDown: true });
    expect((await getQuote(deps, "AAPL")).last.toString()).to.equal("175.5");
    await new Promise((resolve) => setImmediate(resolve));
    expect(calls.cacheFailures).to.equal(2);
  });

  it("distinguishes an unknown symbol from a known one without a quote", async () => {
    const { deps } = fakes();
    const unknown = await getQuote(deps, "NOPE").catch((error: MarketDataError) => error);
    expect(unknown).to.deep.include({ code: "UNKNOWN_SYMBOL", kind: "not_found" });
    expect((unknown as MarketDataError).metadata).to.deep.equal({ symbol: "NOPE" });
    const noQuote = await getQuote(deps, "MSFT").catch((error: MarketDataError) => error);
    expect(noQuote).to.deep.include({ code: "NO_QUOTE", kind: "not_found" });
  });

  it("answers a batch with one cache round trip and one Postgres query for the misses, in request order", async () => {
    const { deps, calls } = fakes({ cached: [quote("MSFT", "420.25")], stored: [quote("AAPL", "175.50"), quote("BTC", "64250.00")] });
    const result = await batchGetQuotes(deps, ["btc", "MSFT", "NOPE", "AAPL", "msft", "SPY", "bad symbol"]);
    expect(result.quotes.map((q) => q.symbol)).to.deep.equal(["BTC", "MSFT", "AAPL"]);
    expect(result.missingSymbols).to.deep.equal(["NOPE", "SPY", "BAD SYMBOL"]);
    expect(calls.cacheReads).to.deep.equal([["BTC", "MSFT", "AAPL", "SPY"]]);
    expect(calls.storeReads).to.deep.equal([["BTC", "AAPL", "SPY"]]);
  });

  it("refuses an empty batch and more than 1,000 distinct symbols", async () => {
    const { deps } = fakes();
    expect(await batchGetQuotes(deps, []).catch((error: MarketDataError) => error.code)).to.equal("INVALID_ARGUMENT");
    const tooMany = Array.from({ length: 1001 }, (_, index) => `S${index}`);
    expect(await batchGetQuotes(deps, tooMany).catch((error: MarketDataError) => `${error.code}/${error.kind}`)).to.equal("BATCH_TOO_LARGE/invalid");
    const duplicates = Array.from({ length: 1500 }, () => "AAPL");
    expect((await batchGetQuotes(deps, duplicates)).missingSymbols).to.deep.equal(["AAPL"]);
  });
});

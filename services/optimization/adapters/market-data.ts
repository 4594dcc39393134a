// Instruments (ticker, lot size) and latest prices from the market data service. Instruments change rarely and
// are kept for `instrumentTtlMs`; prices are always read fresh, in one BatchGetQuotes per 1,000 symbols.
import Decimal from "decimal.js";
import type { TradeplaneClient } from "../../../clients/node";
import type { MarketDataServiceDefinition } from "../../../generated/tradeplane/marketdata/v1/market_data_service";
import type { InstrumentFacts } from "../domain/rebalance-portfolio";
import { callPeer } from "./dependency-call";

const BATCH = 1_000;

/** Market data reads for the optimization use cases. */
export function createMarketData(client: TradeplaneClient<typeof MarketDataServiceDefinition>, options: { instrumentTtlMs: number }) {
  const cache = new Map<string, { facts: InstrumentFacts; until: number }>();

  async function instruments(securityIds: string[]): Promise<Map<string, InstrumentFacts>> {
    const found = new Map<string, InstrumentFacts>();
    const missing: string[] = [];
    const now = Date.now();
    for (const id of securityIds) {
      const hit = cache.get(id);
      if (hit !== undefined && hit.until > now) found.set(id, hit.facts);
      else missing.push(id);
    }
    for (let i = 0; i < missing.length; i += BATCH) {
      const securityIds = missing.slice(i, i + BATCH);
      let pageToken = "";
      do {
        const page = await callPeer("marketdata", () => client.listInstruments({ securityIds, pageSize: BATCH, pageToken }));
        for (const instrument of page.instruments) {
          const facts = { symbol: instrument.symbol, lotSize: new Decimal(instrument.lotSize || "1") };
          found.set(instrument.securityId, facts);
          cache.set(instrument.securityId, { facts, until: Date.now() + options.instrumentTtlMs });
        }
        pageToken = page.nextPageToken;
      } while (pageToken !== "");
    }
    return found;
  }

  async function prices(symbols: string[]): Promise<Map<string, Decimal>> {
    const result = new Map<string, Decimal>();
    for (let i = 0; i < symbols.length; i += BATCH) {
      const response = await callPeer("marketdata", () => client.batchGetQuotes({ symbols: symbols.slice(i, i + BATCH) }));
      for (const quote of response.quotes) if (quote.last !== "") result.set(quote.symbol, new Decimal(quote.last));
    }
    return result;
  }

  return {
    instruments,
    prices,
    /** The subset of `securityIds` market data knows. */
    async knownSecurities(securityIds: string[]): Promise<Set<string>> {
      return new Set((await instruments(securityIds)).keys());
    },
  };
}

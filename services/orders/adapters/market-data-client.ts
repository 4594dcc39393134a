// Market data lookups for the orders domain, over the market data service's generated gRPC client. Instruments
// change rarely, so they are kept for a short time; quotes are read fresh (concurrent reads of a symbol share one call).
import Decimal from "decimal.js";
import { ClientError, Status } from "nice-grpc";
import type { Instrument, Quote } from "../../../generated/tradeplane/marketdata/v1/market_data";
import { AssetClass, InstrumentStatus } from "../../../generated/tradeplane/marketdata/v1/market_data";
import type { MarketDataServiceClient } from "../../../generated/tradeplane/marketdata/v1/market_data_service";
import { OrderError } from "../domain/order-error";
import type { InstrumentInfo, MarketSnapshot, QuoteInfo } from "../domain/market-snapshot";
import type { MarketDataPort } from "../domain/ports";

/** Options of the market data adapter. */
export interface MarketDataClientOptions {
  client: MarketDataServiceClient;
  /** How long an instrument is reused before it is read again (0 = always read). */
  instrumentTtlMs: number;
}

/** Creates the MarketDataPort over gRPC. */
export function createMarketDataClient(options: MarketDataClientOptions): MarketDataPort & {
  /** Turns a wire quote (e.g. from the quote stream) into the domain's quote. */
  toQuote(quote: Quote): QuoteInfo;
} {
  const { client, instrumentTtlMs } = options;
  const instruments = new Map<string, { instrument: InstrumentInfo; until: number }>();
  // Quote reads in flight by symbol. Under load many submits and executions of one symbol ask at the same moment;
  // they share the one read that is already on its way instead of each making a gRPC call, so the answer is never
  // older than one round trip to market data, and a busy symbol costs one call per round trip, not one per order.
  const quotesInFlight = new Map<string, Promise<{ quote?: Quote } | null>>();

  function quoteOf(symbol: string): Promise<{ quote?: Quote } | null> {
    const running = quotesInFlight.get(symbol);
    if (running !== undefined) return running;
    const read = call(() => client.getQuote({ symbol })).finally(() => quotesInFlight.delete(symbol));
    quotesInFlight.set(symbol, read);
    return read;
  }

  async function instrumentOf(ref: { symbol: string } | { securityId: string }): Promise<InstrumentInfo | null> {
    const key = "symbol" in ref ? `s:${ref.symbol}` : `i:${ref.securityId}`;
    const cached = instruments.get(key);
    if (cached !== undefined && cached.until > Date.now()) return cached.instrument;
    const response = await call(() => client.getInstrument(ref));
    if (response === null || response.instrument === undefined) return null;
    const instrument = toInstrument(response.instrument);
    const until = Date.now() + instrumentTtlMs;
    instruments.set(`s:${instrument.symbol}`, { instrument, until });
    instruments.set(`i:${instrument.securityId}`, { instrument, until });
    return instrument;
  }

  return {
    async snapshot(ref) {
      // With a symbol both reads go out at once; with a security id the quote needs the symbol first.
      if ("symbol" in ref) {
        const [instrument, quote] = await Promise.all([
          instrumentOf(ref),
          quoteOf(ref.symbol),
        ]);
        if (instrument === null || quote?.quote === undefined) return null;
        return { instrument, quote: toQuote(quote.quote) } satisfies MarketSnapshot;
      }
      const instrument = await instrumentOf(ref);
      if (instrument === null) return null;
      const quote = await quoteOf(instrument.symbol);
      if (quote?.quote === undefined) return null;
      return { instrument, quote: toQuote(quote.quote) };
    },
    toQuote,
  };
}

/** Runs a read; NOT_FOUND is null, an unreachable or failing service is DEPENDENCY_UNAVAILABLE (retryable). */
async function call<T>(read: () => Promise<T>): Promise<T | null> {
  try {
    return await read();
  } catch (error) {
    if (error instanceof ClientError && error.code === Status.NOT_FOUND) return null;
    throw new OrderError("DEPENDENCY_UNAVAILABLE", "market data is not available right now", [], {}, { cause: error });
  }
}

const ASSET_CLASS_NAMES: Record<number, string> = {
  [AssetClass.ASSET_CLASS_EQUITY]: "EQUITY",
  [AssetClass.ASSET_CLASS_ETF]: "ETF",
  [AssetClass.ASSET_CLASS_CRYPTO]: "CRYPTO",
  [AssetClass.ASSET_CLASS_BOND]: "BOND",
  [AssetClass.ASSET_CLASS_FUND]: "FUND",
};

function toInstrument(wire: Instrument): InstrumentInfo {
  return {
    securityId: wire.securityId,
    symbol: wire.symbol,
    assetClass: ASSET_CLASS_NAMES[wire.assetClass] ?? "OTHER",
    tradable: wire.tradable && wire.status === InstrumentStatus.INSTRUMENT_STATUS_ACTIVE,
    lotSize: decimalOr(wire.lotSize, "1"),
    minQuantity: decimalOr(wire.minQuantity, "0"),
    tickSize: decimalOr(wire.tickSize, "0"),
    fractionable: wire.fractionable,
    currency: wire.currency || "USD",
    session: {
      timeZone: wire.session?.timeZone || "UTC",
      openTime: wire.session?.openTime ?? "",
      closeTime: wire.session?.closeTime ?? "",
      alwaysOpen: wire.session?.alwaysOpen ?? false,
    },
  };
}

function toQuote(wire: Quote): QuoteInfo {
  return {
    bid: decimalOr(wire.bid, "0"),
    ask: decimalOr(wire.ask, "0"),
    last: wire.last === "" ? null : new Decimal(wire.last),
    bidSize: wire.bidSize === "" ? null : new Decimal(wire.bidSize),
    askSize: wire.askSize === "" ? null : new Decimal(wire.askSize),
    at: wire.timestamp ?? new Date(),
  };
}

function decimalOr(text: string, fallback: string): Decimal {
  return new Decimal(text === "" ? fallback : text);
}

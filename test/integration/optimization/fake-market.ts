// A market data peer for the optimization integration tests, served over real gRPC on the test runtime:
// instruments and last prices the test sets. It answers what optimization and orders ask of market data
// (instruments by id or symbol, single and batched quotes, a quote stream); nothing in grpc-js is mocked.
import { ServerError, Status } from "nice-grpc-common";
import { AssetClass, InstrumentStatus, type Instrument, type Quote } from "../../../generated/tradeplane/marketdata/v1/market_data";
import { MarketDataServiceDefinition, type StreamQuotesResponse } from "../../../generated/tradeplane/marketdata/v1/market_data_service";
import type { RegisterService } from "../../../services/platform/runtime";
import { unimplementedService } from "../../../services/platform/unimplemented";

/** Instruments and prices the test controls. */
export class FakeMarket {
  readonly instruments = new Map<string, Instrument>();
  readonly quotes = new Map<string, Quote>();

  /** Adds an always-open, tradable instrument with a last price. */
  add(symbol: string, securityId: string, last: string, lotSize = "1"): void {
    this.instruments.set(symbol, {
      securityId,
      symbol,
      name: symbol,
      assetClass: AssetClass.ASSET_CLASS_EQUITY,
      currency: "USD",
      exchange: "TEST",
      lotSize,
      minQuantity: lotSize,
      tickSize: "0.01",
      tradable: true,
      status: InstrumentStatus.INSTRUMENT_STATUS_ACTIVE,
      session: { timeZone: "UTC", openTime: "", closeTime: "", alwaysOpen: true },
      fractionable: false,
    });
    this.quotes.set(symbol, { symbol, securityId, bid: last, ask: last, last, bidSize: "1000000", askSize: "1000000", volume: "0", timestamp: new Date(), seq: "1", lastSize: "" });
  }

  register(): RegisterService {
    return async (runtime) => {
      const bySecurity = (id: string) => [...this.instruments.values()].find((i) => i.securityId === id);
      runtime.grpc.add(MarketDataServiceDefinition, {
        ...unimplementedService(MarketDataServiceDefinition, "marketdata"),
        getInstrument: async (request) => {
          const instrument = this.instruments.get(request.symbol.toUpperCase()) ?? bySecurity(request.securityId);
          if (instrument === undefined) throw new ServerError(Status.NOT_FOUND, "instrument not found");
          return { instrument };
        },
        listInstruments: async (request) => ({
          instruments: [...this.instruments.values()].filter((i) => request.securityIds.length === 0 || request.securityIds.includes(i.securityId)),
          nextPageToken: "",
        }),
        getQuote: async (request) => {
          const quote = this.quotes.get(request.symbol.toUpperCase());
          if (quote === undefined) throw new ServerError(Status.NOT_FOUND, "no quote");
          return { quote };
        },
        batchGetQuotes: async (request) => ({
          quotes: request.symbols.flatMap((s) => this.quotes.get(s.toUpperCase()) ?? []),
          missingSymbols: request.symbols.filter((s) => !this.quotes.has(s.toUpperCase())),
        }),
        streamQuotes: (request, context) => this.stream(request.symbols, AbortSignal.any([context.signal, context.shutdownSignal])),
      });
    };
  }

  // Snapshots of the requested symbols, then silence until the caller leaves (prices here never move).
  private async *stream(symbols: string[], signal: AbortSignal): AsyncGenerator<StreamQuotesResponse> {
    for (const symbol of symbols) {
      const quote = this.quotes.get(symbol.toUpperCase());
      if (quote) yield { streamId: "fake", streamEpoch: "1", resumeToken: "", frame: { $case: "snapshot", value: quote } };
    }
    if (!signal.aborted) await new Promise<void>((resolve) => signal.addEventListener("abort", () => resolve(), { once: true }));
  }
}

// A market data peer for the orders integration tests, served over real gRPC on the test runtime: instruments and
// quotes the test sets, and a StreamQuotes that pushes every quote the test publishes. It stands in for the market
// data service until tests start that service itself; nothing in grpc-js is mocked.
import { ServerError, Status } from "nice-grpc-common";
import {
  AssetClass,
  InstrumentStatus,
  type Instrument,
  type Quote,
} from "../../../generated/tradeplane/marketdata/v1/market_data";
import {
  MarketDataServiceDefinition,
  type StreamQuotesResponse,
} from "../../../generated/tradeplane/marketdata/v1/market_data_service";
import type { RegisterService } from "../../../services/platform/runtime";
import { unimplementedService } from "../../../services/platform/unimplemented";

/** The market the fake serves; tests change it between calls. */
export class FakeMarket {
  readonly instruments = new Map<string, Instrument>();
  readonly quotes = new Map<string, Quote>();
  /** Symbols whose lookups answer UNAVAILABLE (market data down for them). */
  readonly unavailable = new Set<string>();
  private listeners = new Set<(quote: Quote) => void>();
  private seq = 0;

  /** Adds an always-open instrument (crypto-like calendar) unless a session is given. */
  addInstrument(symbol: string, securityId: string, overrides: Partial<Instrument> = {}): void {
    this.instruments.set(symbol, {
      securityId,
      symbol,
      name: symbol,
      assetClass: AssetClass.ASSET_CLASS_EQUITY,
      currency: "USD",
      exchange: "TEST",
      lotSize: "1",
      minQuantity: "1",
      tickSize: "0.01",
      tradable: true,
      status: InstrumentStatus.INSTRUMENT_STATUS_ACTIVE,
      session: { timeZone: "UTC", openTime: "", closeTime: "", alwaysOpen: true },
      fractionable: false,
      ...overrides,
    });
  }

  /** Sets the quote of a symbol and pushes it to open streams. */
  setQuote(symbol: string, quote: { bid: string; ask: string; last: string; bidSize?: string; askSize?: string }): void {
    const full: Quote = {
      symbol,
      securityId: this.instruments.get(symbol)?.securityId ?? "",
      bid: quote.bid,
      ask: quote.ask,
      last: quote.last,
      bidSize: quote.bidSize ?? "",
      askSize: quote.askSize ?? "",
      volume: "0",
      timestamp: new Date(),
      seq: String(++this.seq),
      lastSize: "",
    };
    this.quotes.set(symbol, full);
    for (const listen of this.listeners) listen(full);
  }

  /** The gRPC service registration for the test runtime. */
  register(): RegisterService {
    return async (runtime) => {
      runtime.grpc.add(MarketDataServiceDefinition, {
        ...unimplementedService(MarketDataServiceDefinition, "marketdata"),
        getInstrument: async (request) => {
          if (this.unavailable.has(request.symbol.toUpperCase())) throw new ServerError(Status.UNAVAILABLE, "down");
          const instrument =
            this.instruments.get(request.symbol.toUpperCase()) ??
            [...this.instruments.values()].find((i) => i.securityId === request.securityId);
          if (instrument === undefined) throw new ServerError(Status.NOT_FOUND, "instrument not found");
          return { instrument };
        },
        getQuote: async (request) => {
          if (this.unavailable.has(request.symbol.toUpperCase())) throw new ServerError(Status.UNAVAILABLE, "down");
          const quote = this.quotes.get(request.symbol.toUpperCase());
          if (quote === undefined) throw new ServerError(Status.NOT_FOUND, "no quote");
          return { quote };
        },
        batchGetQuotes: async (request) => ({
          quotes: request.symbols.flatMap((s) => this.quotes.get(s.toUpperCase()) ?? []),
          missingSymbols: request.symbols.filter((s) => !this.quotes.has(s.toUpperCase())),
        }),
        streamQuotes: (request, context) => this.stream(request.symbols, context.signal),
      });
    };
  }

  private async *stream(symbols: string[], signal: AbortSignal): AsyncGenerator<StreamQuotesResponse> {
    const wanted = new Set(symbols.map((s) => s.toUpperCase()));
    const pending: Quote[] = [];
    let wake: (() => void) | undefined;
    const listen = (quote: Quote): void => {
      if (!wanted.has(quote.symbol)) return;
      pending.push(quote);
      wake?.();
    };
    this.listeners.add(listen);
    const onAbort = (): void => wake?.();
    signal.addEventListener("abort", onAbort, { once: true });
    try {
      for (const symbol of wanted) {
        const quote = this.quotes.get(symbol);
        if (quote) yield frame({ $case: "snapshot", value: quote });
      }
      while (!signal.aborted) {
        const next = pending.shift();
        if (next !== undefined) {
          yield frame({ $case: "update", value: next });
          continue;
        }
        await new Promise<void>((resolve) => {
          wake = resolve;
        });
      }
    } finally {
      signal.removeEventListener("abort", onAbort);
      this.listeners.delete(listen);
    }
  }
}

function frame(content: StreamQuotesResponse["frame"]): StreamQuotesResponse {
  return { streamId: "fake", streamEpoch: "1", resumeToken: "", frame: content };
}

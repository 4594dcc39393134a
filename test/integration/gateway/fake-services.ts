// Small in-test implementations of the generated MarketDataService and OrderService, registered on a real runtime,
// so the bridge is exercised over real gRPC without the real services: they echo what they received (to check
// binding), keep a numbered quote tape and order-event log (to check stream resume), and throw each DomainError
// kind on request (to check the error table).
import { ServerError, Status } from "nice-grpc-common";
import {
  MarketDataServiceDefinition,
  type MarketDataServiceImplementation,
  type StreamQuotesResponse,
} from "../../../generated/tradeplane/marketdata/v1/market_data_service";
import { BarInterval, InstrumentStatus, type Quote } from "../../../generated/tradeplane/marketdata/v1/market_data";
import { OrderServiceDefinition, type OrderServiceImplementation } from "../../../generated/tradeplane/orders/v1/order_service";
import { OrderEventType, OrderStatus } from "../../../generated/tradeplane/orders/v1/orders";
import {
  aborted,
  alreadyExists,
  failedPrecondition,
  invalid,
  notFound,
  permissionDenied,
  resourceExhausted,
  unavailable,
} from "../../../services/platform/errors";
import type { RegisterService } from "../../../services/platform/runtime";
import { withUnimplemented } from "../platform/grpc-fixture";

/** Symbols whose GetQuote throws: the error table of the bridge test. */
export const FAILING_SYMBOLS: Record<string, () => Error> = {
  BAD: () => invalid("INVALID_SYMBOL", "symbol must be 1-12 letters", [{ field: "symbol", description: "must be 1-12 letters" }]),
  NOPE: () => notFound("UNKNOWN_SYMBOL", "no instrument NOPE", { metadata: { symbol: "NOPE" } }),
  DUP: () => alreadyExists("IDEMPOTENCY_KEY_REUSED", "the key was used with another payload"),
  HALT: () => failedPrecondition("INSTRUMENT_HALTED", "trading in HALT is halted"),
  RACE: () => aborted("CONCURRENT_UPDATE", "the order changed meanwhile"),
  BUSY: () => resourceExhausted("TOO_MANY_STREAMS", "too many streams", { retryAfterMs: 1_500 }),
  DOWN: () => unavailable("DEPENDENCY_UNAVAILABLE", "market data store is unavailable"),
  DENY: () => permissionDenied("PORTFOLIO_FORBIDDEN", "not your portfolio"),
  BUG: () => new Error("a bug with a secret stack trace"),
  UNIMPL: () => new ServerError(Status.UNIMPLEMENTED, "not built yet"),
};

const quoteOf = (symbol: string, seq: number): Quote => ({
  symbol,
  securityId: "SEC" + symbol.padEnd(21, "0"),
  bid: "101.25",
  ask: "101.30",
  last: "101.2750",
  bidSize: "100",
  askSize: "200",
  volume: "12345678901234567",
  timestamp: new Date(Date.UTC(2024, 4, 1, 13, 30, 0, 123)),
  seq: String(seq),
  lastSize: "10",
});

/** Frame n of the fake quote tape (UPDATE frames, resume token = n). */
function tapeFrame(symbols: string[], n: number): StreamQuotesResponse {
  const symbol = symbols[n % symbols.length]!;
  return { streamId: "s1", streamEpoch: "e1", resumeToken: `tok-${n}`, frame: { $case: "update", value: quoteOf(symbol, n) } };
}

const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener("abort", () => {
      clearTimeout(timer);
      resolve();
    });
  });

export interface FakeOptions {
  /** Interval between frames of the quote tape. */
  tickMs?: number;
}

/** Registers the fake market data and order services. */
export function fakeServices(options: FakeOptions = {}): RegisterService {
  const tickMs = options.tickMs ?? 20;
  const marketData: Partial<MarketDataServiceImplementation> = {
    async getQuote({ symbol }, context) {
      if (symbol === "SLOW") await sleep(2_000, context.signal);
      const failure = FAILING_SYMBOLS[symbol];
      if (failure !== undefined) throw failure();
      return { quote: quoteOf(symbol.toUpperCase(), 42) };
    },
    async getInstrument(request) {
      // Echo which key arrived, to check both bindings.
      return {
        instrument: {
          securityId: request.securityId || "SEC000000000000000000001",
          symbol: request.symbol || "BY-ID",
          name: JSON.stringify(request),
          assetClass: 0,
          currency: "USD",
          status: InstrumentStatus.INSTRUMENT_STATUS_ACTIVE,
          tradable: true,
          lotSize: "1",
          tickSize: "0.01",
          exchange: "XNAS",
          timeZone: "America/New_York",
          sessionOpen: "09:30",
          sessionClose: "16:00",
          tradingDays: [],
        } as never,
      };
    },
    async batchGetQuotes({ symbols }) {
      return { quotes: symbols.filter((s) => s !== "ZZZ").map((s) => quoteOf(s, 1)), missingSymbols: symbols.filter((s) => s === "ZZZ") };
    },
    async listInstruments(request) {
      return { instruments: [], nextPageToken: JSON.stringify({ ...request }) };
    },
    async getBars(request) {
      return {
        bars: [],
        nextPageToken: `${request.symbol}|${BarInterval[request.interval]}|${request.startTime?.toISOString() ?? "-"}|${request.pageSize}`,
      };
    },
    async *streamQuotes(request, context) {
      const symbols = request.symbols.length > 0 ? request.symbols : ["AAPL"];
      if (symbols.includes("NOPE")) throw notFound("UNKNOWN_SYMBOL", "no instrument NOPE", { metadata: { symbol: "NOPE" } });
      let n = request.resumeToken === "" ? 1 : Number(request.resumeToken.replace("tok-", "")) + 1;
      if (!Number.isFinite(n)) throw invalid("INVALID_RESUME_TOKEN", "malformed resume token");
      const sent = n;
      while (!context.signal.aborted) {
        // SHORT ends normally after two frames; FLAKY fails after two (a mid-stream error).
        if (n - sent === 2 && symbols.includes("SHORT")) return;
        if (n - sent === 2 && symbols.includes("FLAKY")) throw unavailable("FEED_LOST", "the feed went away");
        yield tapeFrame(symbols, n++);
        await sleep(tickMs, context.signal);
      }
    },
    async publishQuotes(requests) {
      let accepted = 0;
      let rejected = 0;
      for await (const request of requests) {
        for (const tick of request.ticks) {
          if (tick.symbol === "NOPE") rejected++;
          else accepted++;
        }
      }
      return { acceptedCount: String(accepted), rejectedCount: String(rejected), rejections: [] };
    },
  };

  const orders: Partial<OrderServiceImplementation> = {
    async *watchOrderEvents(request, context) {
      if (request.portfolioId === "QUIET") {
        // A portfolio with nothing to say: the stream stays open and silent.
        await sleep(60_000, context.signal);
        return;
      }
      let seq = Number(request.sinceSeq) + 1;
      // Twenty events exist; after them the stream only sends heartbeats, like a quiet portfolio.
      while (!context.signal.aborted) {
        if (seq <= 20) {
          yield {
            frame: {
              $case: "event",
              value: {
                portfolioId: request.portfolioId,
                seq: String(seq),
                orderId: `ord-${seq}`,
                orderVersion: 1,
                type: OrderEventType.ORDER_EVENT_TYPE_ACCEPTED,
                fromStatus: OrderStatus.ORDER_STATUS_PENDING_NEW,
                toStatus: OrderStatus.ORDER_STATUS_NEW,
                reasonCode: "",
                reasonMessage: "",
                eventTime: new Date(),
              },
            },
          };
          seq++;
        } else {
          yield { frame: { $case: "heartbeat", value: { latestSeq: "20", serverTime: new Date() } } };
        }
        await sleep(tickMs, context.signal);
      }
    },
  };

  return async (runtime) => {
    runtime.grpc.add(MarketDataServiceDefinition, withUnimplemented<MarketDataServiceImplementation>(MarketDataServiceDefinition, marketData) as never);
    runtime.grpc.add(OrderServiceDefinition, withUnimplemented<OrderServiceImplementation>(OrderServiceDefinition, orders) as never);
  };
}

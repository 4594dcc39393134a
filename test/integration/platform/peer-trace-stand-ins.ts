// The stand-ins of the peer trace tests (peer-trace.test.ts, and peer-trace-exporting.ts in a process of its own):
// an accounting service whose GetBalance calls market data through `runtime.client`, and a market data service that
// records and logs what it was asked.
import { randomBytes } from "node:crypto";
import { trace } from "@opentelemetry/api";
import { Metadata } from "nice-grpc";
import type { CallContext } from "nice-grpc-common";
import { AccountingServiceDefinition } from "../../../generated/tradeplane/accounting/v1/accounting_service";
import { MarketDataServiceDefinition } from "../../../generated/tradeplane/marketdata/v1/market_data_service";
import type { TradeplaneCallContext } from "../../../services/platform/grpc-server";
import type { RegisterService } from "../../../services/platform/runtime";
import { unimplementedService } from "../../../services/platform/unimplemented";

type Context = CallContext & TradeplaneCallContext;

/** What accounting's handler saw of its own call: its server span. */
export interface CallerSeen {
  traceId: string;
  spanId: string;
}

/** What market data's handler saw: the `traceparent` header it received and the trace id of its server span. */
export interface CalleeSeen {
  traceparent: string | undefined;
  traceId: string;
  spanId: string;
}

export const hex = (bytes: number) => randomBytes(bytes).toString("hex");
export const traceparentOf = (traceId: string, spanId: string) => `00-${traceId}-${spanId}-01`;
const activeSpan = () => trace.getActiveSpan()!.spanContext();

export class StandIns {
  readonly caller = new Map<string, CallerSeen>();
  readonly callee = new Map<string, CalleeSeen>();
  /** Market data's log lines, as JSON records. */
  readonly calleeLog: Record<string, unknown>[] = [];

  /** Market data: GetQuote and StreamQuotes record what they saw and log a line in the call's trace. */
  marketData(): RegisterService {
    return async (runtime) => {
      const record = (symbol: string, context: Context) => {
        const { traceId, spanId } = activeSpan();
        this.callee.set(symbol, { traceparent: context.metadata.get("traceparent"), traceId, spanId });
        runtime.logger.info("quote asked", { symbol });
      };
      runtime.grpc.add(MarketDataServiceDefinition, {
        ...unimplementedService(MarketDataServiceDefinition, "marketdata"),
        getQuote: async (request, context: Context) => {
          record(request.symbol, context);
          return {};
        },
        streamQuotes: async function* (request, context: Context) {
          record(request.symbols[0]!, context);
          yield { streamId: "s1", streamEpoch: "1", resumeToken: "", frame: undefined };
        },
      });
    };
  }

  /**
   * Accounting: GetBalance asks market data about `portfolioId` as its symbol, with GetQuote, or with StreamQuotes
   * when `securityId` is `STREAM`; with `securityId` `EXPLICIT <traceparent>` it sends that traceparent itself.
   */
  accounting(): RegisterService {
    return async (runtime) => {
      const market = runtime.client(MarketDataServiceDefinition, "marketdata");
      runtime.grpc.add(AccountingServiceDefinition, {
        ...unimplementedService(AccountingServiceDefinition, "accounting"),
        getBalance: async (request, _context: Context) => {
          const { traceId, spanId } = activeSpan();
          this.caller.set(request.portfolioId, { traceId, spanId });
          if (request.securityId === "STREAM") {
            for await (const _ of market.streamQuotes({ symbols: [request.portfolioId] })) break;
          } else if (request.securityId.startsWith("EXPLICIT ")) {
            const traceparent = request.securityId.slice("EXPLICIT ".length);
            const metadata = Metadata({ authorization: `Bearer ${runtime.serviceToken}`, traceparent });
            await market.getQuote({ symbol: request.portfolioId }, { metadata });
          } else {
            await market.getQuote({ symbol: request.portfolioId });
          }
          return {};
        },
      });
    };
  }

  loggedTraceIds(symbol: string): unknown[] {
    return this.calleeLog.filter((line) => line.msg === "quote asked" && line.symbol === symbol).map((line) => line.trace_id);
  }
}


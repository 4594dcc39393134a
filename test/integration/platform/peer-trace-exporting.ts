// Run by peer-trace.test.ts in a process of its own (the OpenTelemetry tracer provider is process-wide, and the
// test process runs without an exporter): the peer trace stand-ins with OTEL_TRACES_EXPORTER=console, split across
// two runtimes and in one runtime. It makes one call per case with a known traceparent, stops the runtimes (which
// flushes the spans), and sends the parent the exported spans as the console exporter printed them, and what the
// stand-ins saw.
import { createChannel, Metadata } from "nice-grpc";
import { createServiceClient } from "../../../clients/node";
import { AccountingServiceDefinition } from "../../../generated/tradeplane/accounting/v1/accounting_service";
import { createLogger } from "../../../services/platform/logger";
import { startServices, type RunningService } from "../../../services/platform/runtime";
import { StandIns } from "./peer-trace-stand-ins";

/** A span as the parent reads it. */
export interface ExportedSpan {
  name: string;
  kind: number;
  traceId: string;
  spanId: string;
  parentSpanId: string | undefined;
}

/** One call the parent asks for: the symbol accounting passes on, `securityId` (STREAM), and the traceparent sent. */
export interface TracedCall {
  setup: "split" | "local";
  symbol: string;
  securityId: string;
  traceparent: string;
}

export interface ExportingResult {
  spans: ExportedSpan[];
  caller: Record<string, { traceId: string; spanId: string }>;
  callee: Record<string, { traceparent: string | undefined; traceId: string; spanId: string }>;
}

// The console exporter prints each span with console.dir; keep them instead.
const spans: ExportedSpan[] = [];
console.dir = (item: { name: string; kind: number; traceId: string; id: string; parentSpanContext?: { spanId: string } }) => {
  spans.push({ name: item.name, kind: item.kind, traceId: item.traceId, spanId: item.id, parentSpanId: item.parentSpanContext?.spanId });
};

async function main(calls: TracedCall[]): Promise<ExportingResult> {
  const standIns = new StandIns();
  const silent = createLogger({ name: "test", level: "silent" });
  const running: RunningService[] = [];
  try {
    const marketData = await startServices([standIns.marketData()], process.env, { logger: silent });
    running.push(marketData);
    const split = await startServices([standIns.accounting()], { ...process.env, MARKETDATA_ADDRESS: `127.0.0.1:${marketData.ports.grpc}` }, { logger: silent });
    running.push(split);
    const local = await startServices([standIns.marketData(), standIns.accounting()], process.env, { logger: silent });
    running.push(local);
    const token = await split.runtime.issueToken({ sub: "test-trader", roles: ["trader"], portfolios: ["*"] }, 3600);
    for (const call of calls) {
      const channel = createChannel(`127.0.0.1:${(call.setup === "split" ? split : local).ports.grpc}`);
      try {
        const accounting = createServiceClient(AccountingServiceDefinition, channel, { token });
        const metadata = Metadata({ authorization: `Bearer ${token}`, traceparent: call.traceparent });
        await accounting.getBalance({ id: "", portfolioId: call.symbol, securityId: call.securityId }, { metadata });
      } finally {
        channel.close();
      }
    }
  } finally {
    for (const service of running.reverse()) await service.stop();
  }
  return { spans, caller: Object.fromEntries(standIns.caller), callee: Object.fromEntries(standIns.callee) };
}

process.once("message", (calls: TracedCall[]) => {
  main(calls).then(
    (result) => process.send!({ result }, () => process.exit(0)),
    (error: unknown) => process.send!({ error: String(error instanceof Error ? error.stack : error) }, () => process.exit(1)),
  );
});

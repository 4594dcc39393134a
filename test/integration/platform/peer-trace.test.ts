// A call between services continues the caller's trace: the callee's SERVER span (and so every log line it writes)
// has the trace id of the call being handled by the caller, whichever way the peer call travels. Each setup runs
// the same two stand-ins, an accounting service whose GetBalance calls market data through `runtime.client`, and a
// market data service that logs what it was asked:
//   - split: two runtimes, market data reached through MARKETDATA_ADDRESS over a real gRPC channel, as in a
//     deployment with a process per service;
//   - in-process: one runtime, the peer call goes through `invokeUnary` (IN_PROCESS_CALLS default);
//   - own port: one runtime with IN_PROCESS_CALLS=false, the peer call goes over gRPC to the process's own port.
// The test client sends a known `traceparent` to accounting; market data must log that trace id and see, in the
// `traceparent` it received, the span id of accounting's server span as the parent.
import { fork } from "node:child_process";
import * as path from "node:path";
import { SpanKind } from "@opentelemetry/api";
import { expect } from "chai";
import { createChannel, Metadata, type Channel } from "nice-grpc";
import { createServiceClient, type TradeplaneClient } from "../../../clients/node";
import { AccountingServiceDefinition } from "../../../generated/tradeplane/accounting/v1/accounting_service";
import { createLogger } from "../../../services/platform/logger";
import { startServices, type RunningService } from "../../../services/platform/runtime";
import { testEnv } from "../../support/system";
import type { ExportingResult, TracedCall } from "./peer-trace-exporting";
import { hex, StandIns, traceparentOf } from "./peer-trace-stand-ins";

interface Setup {
  name: string;
  /** Starts the stand-ins; returns the address of accounting and what to stop. */
  start(standIns: StandIns): Promise<{ address: string; running: RunningService[] }>;
}

const calleeLogger = (standIns: StandIns) =>
  createLogger({ name: "test", level: "info", stream: { write: (line: string) => standIns.calleeLog.push(JSON.parse(line)) } });
const silent = createLogger({ name: "test", level: "silent" });

const setups: Setup[] = [
  {
    name: "split across two runtimes (MARKETDATA_ADDRESS, a real gRPC channel)",
    async start(standIns) {
      const marketData = await startServices([standIns.marketData()], testEnv(), { logger: calleeLogger(standIns) });
      try {
        const env = testEnv({ env: { MARKETDATA_ADDRESS: `127.0.0.1:${marketData.ports.grpc}` } });
        const accounting = await startServices([standIns.accounting()], env, { logger: silent });
        return { address: `127.0.0.1:${accounting.ports.grpc}`, running: [accounting, marketData] };
      } catch (error) {
        await marketData.stop();
        throw error;
      }
    },
  },
  {
    name: "one runtime, peer call in-process",
    async start(standIns) {
      const running = await startServices([standIns.marketData(), standIns.accounting()], testEnv(), { logger: calleeLogger(standIns) });
      return { address: `127.0.0.1:${running.ports.grpc}`, running: [running] };
    },
  },
  {
    name: "one runtime, IN_PROCESS_CALLS=false (gRPC to its own port)",
    async start(standIns) {
      const env = testEnv({ env: { IN_PROCESS_CALLS: "false" } });
      const running = await startServices([standIns.marketData(), standIns.accounting()], env, { logger: calleeLogger(standIns) });
      return { address: `127.0.0.1:${running.ports.grpc}`, running: [running] };
    },
  },
];

for (const setup of setups) {
  describe(`peer calls carry the caller's trace: ${setup.name}`, () => {
    const standIns = new StandIns();
    let running: RunningService[] = [];
    let channel: Channel;
    let accounting: TradeplaneClient<typeof AccountingServiceDefinition>;
    let token: string;

    before(async () => {
      const started = await setup.start(standIns);
      running = started.running;
      token = await running[0]!.runtime.issueToken({ sub: "test-trader", roles: ["trader", "admin"], portfolios: ["*"] }, 3600);
      channel = createChannel(started.address);
      accounting = createServiceClient(AccountingServiceDefinition, channel, { token, deadlineMs: 10_000 });
    });

    after(async () => {
      channel?.close();
      for (const service of running) await service.stop();
    });

    const withTraceparent = (traceparent: string) => ({ metadata: Metadata({ authorization: `Bearer ${token}`, traceparent }) });

    it("continues the trace the outside caller sent, with the caller's server span as the callee's parent", async () => {
      const symbol = `Q${hex(4)}`;
      const traceId = hex(16);
      const clientSpanId = hex(8);
      await accounting.getBalance({ id: "", portfolioId: symbol, securityId: "" }, withTraceparent(traceparentOf(traceId, clientSpanId)));

      const caller = standIns.caller.get(symbol)!;
      expect(caller.traceId).to.equal(traceId);
      const callee = standIns.callee.get(symbol)!;
      expect(callee.traceparent).to.equal(traceparentOf(traceId, caller.spanId));
      expect(callee.traceId).to.equal(traceId);
      expect(callee.spanId).not.to.be.oneOf([caller.spanId, clientSpanId]);
      expect(standIns.loggedTraceIds(symbol)).to.deep.equal([traceId]);
    });

    it("carries a trace the caller started itself when the outside caller sent none", async () => {
      const symbol = `N${hex(4)}`;
      await accounting.getBalance({ id: "", portfolioId: symbol, securityId: "" });

      const caller = standIns.caller.get(symbol)!;
      expect(caller.traceId).to.match(/^[0-9a-f]{32}$/);
      expect(standIns.callee.get(symbol)!.traceparent).to.equal(traceparentOf(caller.traceId, caller.spanId));
      expect(standIns.loggedTraceIds(symbol)).to.deep.equal([caller.traceId]);
    });

    it("carries the trace into a server-streaming peer call", async () => {
      const symbol = `S${hex(4)}`;
      const traceId = hex(16);
      await accounting.getBalance({ id: "", portfolioId: symbol, securityId: "STREAM" }, withTraceparent(traceparentOf(traceId, hex(8))));

      const caller = standIns.caller.get(symbol)!;
      expect(standIns.callee.get(symbol)!.traceparent).to.equal(traceparentOf(traceId, caller.spanId));
      expect(standIns.loggedTraceIds(symbol)).to.deep.equal([traceId]);
    });

    it("sends a traceparent the calling service set itself unchanged", async () => {
      const symbol = `E${hex(4)}`;
      const explicit = traceparentOf(hex(16), hex(8));
      await accounting.getBalance({ id: "", portfolioId: symbol, securityId: `EXPLICIT ${explicit}` }, withTraceparent(traceparentOf(hex(16), hex(8))));

      expect(standIns.callee.get(symbol)!.traceparent).to.equal(explicit);
      expect(standIns.loggedTraceIds(symbol)).to.deep.equal([explicit.split("-")[1]]);
    });
  });
}

/** Runs peer-trace-exporting.ts in a child process with OTEL_TRACES_EXPORTER=console and returns what it reports. */
function runExporting(calls: TracedCall[]): Promise<ExportingResult> {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const [key, value] of Object.entries(testEnv({ env: { OTEL_TRACES_EXPORTER: "console" } }))) {
    if (value === undefined) delete env[key];
    else env[key] = value;
  }
  const child = fork(path.join(__dirname, "peer-trace-exporting.ts"), [], { env, execArgv: ["--import", "tsx"], stdio: ["ignore", "ignore", "inherit", "ipc"] });
  return new Promise((resolve, reject) => {
    child.once("message", (message: { result?: ExportingResult; error?: string }) => {
      if (message.result !== undefined) resolve(message.result);
      else reject(new Error(`the exporting process failed: ${message.error}`));
    });
    child.once("exit", (code) => reject(new Error(`the exporting process exited (${code}) without a report`)));
    child.send(calls);
  });
}

describe("peer calls carry the caller's trace: with spans exported", () => {
  const calls: TracedCall[] = [
    { setup: "split", symbol: "SPLIT", securityId: "", traceparent: traceparentOf(hex(16), hex(8)) },
    { setup: "local", symbol: "LOCAL", securityId: "", traceparent: traceparentOf(hex(16), hex(8)) },
    { setup: "split", symbol: "STREAM", securityId: "STREAM", traceparent: traceparentOf(hex(16), hex(8)) },
  ];
  let result: ExportingResult;

  before(async function () {
    this.timeout(60_000);
    result = await runExporting(calls);
  });

  const spansOf = (traceparent: string) => {
    const [, traceId, clientSpanId] = traceparent.split("-");
    return { traceId: traceId!, clientSpanId: clientSpanId!, spans: result.spans.filter((span) => span.traceId === traceId) };
  };
  const only = <T>(items: T[]): T => {
    expect(items).to.have.length(1);
    return items[0]!;
  };

  for (const call of calls.filter((c) => c.securityId === "")) {
    it(`exports caller SERVER → CLIENT → callee SERVER spans in one trace (${call.setup === "split" ? "over a gRPC channel" : "in-process"})`, () => {
      const { traceId, clientSpanId, spans } = spansOf(call.traceparent);
      const callerServer = only(spans.filter((s) => s.kind === SpanKind.SERVER && s.name.endsWith("AccountingService/GetBalance")));
      const client = only(spans.filter((s) => s.kind === SpanKind.CLIENT));
      const calleeServer = only(spans.filter((s) => s.kind === SpanKind.SERVER && s.name.endsWith("MarketDataService/GetQuote")));
      expect(client.name).to.equal("tradeplane.marketdata.v1.MarketDataService/GetQuote");
      expect(callerServer.parentSpanId).to.equal(clientSpanId);
      expect(client.parentSpanId).to.equal(callerServer.spanId);
      expect(calleeServer.parentSpanId).to.equal(client.spanId);
      expect(result.callee[call.symbol]).to.deep.include({ traceparent: traceparentOf(traceId, client.spanId), traceId, spanId: calleeServer.spanId });
    });
  }

  it("parents a streaming peer call's SERVER span to the caller's span, without a CLIENT span", () => {
    const call = calls.find((c) => c.securityId === "STREAM")!;
    const { traceId, spans } = spansOf(call.traceparent);
    expect(spans.filter((s) => s.kind === SpanKind.CLIENT)).to.deep.equal([]);
    const callerServer = only(spans.filter((s) => s.name.endsWith("AccountingService/GetBalance")));
    const calleeServer = only(spans.filter((s) => s.name.endsWith("MarketDataService/StreamQuotes")));
    expect(calleeServer.parentSpanId).to.equal(callerServer.spanId);
    expect(result.callee[call.symbol]!.traceparent).to.equal(traceparentOf(traceId, callerServer.spanId));
  });
});

// What the platform costs per call: MarketDataService/GetQuote answered by a fixed quote through the full
// tradeplane server (telemetry, metrics, error mapping, deadline check, auth with JWT verification, rate limiting)
// versus a raw grpc-js server answering the same bytes. Both are loaded by h2load in the same run, in interleaved
// rounds so drift in the machine's state hits both alike. Targets (issue 2): throughput ≥ 0.75× raw, p99 ≤ 1.5× raw.
// Throughput and latency swing with whatever else runs on the machine, so the benchmark also measures the CPU time
// each server spends per request, which other load barely moves, and holds raw/platform CPU time to the same 0.75
// target. Each server runs in a child process of its own (this file, started with `serve <kind>`), so its CPU time
// (process.cpuUsage() read over IPC around each measured h2load run) holds nothing but serving, and the two servers
// do not share a heap. The platform server runs with the process telemetry set up as the runtime does it.
import { fork, type ChildProcess } from "node:child_process";
import * as grpc from "@grpc/grpc-js";
import {
  GetQuoteRequest,
  GetQuoteResponse,
  MarketDataServiceDefinition,
  type MarketDataServiceImplementation,
} from "../../generated/tradeplane/marketdata/v1/market_data_service";
import { issueToken } from "../../services/platform/auth";
import { createGrpcServer } from "../../services/platform/grpc-server";
import { createLogger } from "../../services/platform/logger";
import { grpcServerOptionsOf, platformConfigSpec } from "../../services/platform/platform-config";
import { loadConfig } from "../../services/platform/config";
import { setupTelemetry } from "../../services/platform/telemetry";
import { unimplementedService } from "../../services/platform/unimplemented";
import { h2load, medianResult, type H2loadResult } from "./support/h2load";
import { percentile, report } from "./support/report";

// Overridable for quick local comparisons; the reported verdict uses the defaults.
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const REQUESTS_PER_ROUND = Number(process.env.BENCH_REQUESTS ?? 40_000);
const WARMUP_REQUESTS = 5_000;
const CLIENTS = 8;
const STREAMS_PER_CLIENT = 16;
const SECRET = "bench-secret-0123456789abcdef0123456789";

const response: GetQuoteResponse = GetQuoteResponse.fromPartial({
  quote: {
    symbol: "AAPL",
    securityId: "AAPL00000000000000000001",
    bid: "189.9900",
    ask: "190.0100",
    last: "190.0000",
    bidSize: "300",
    askSize: "200",
    volume: "1250000",
    timestamp: new Date("2026-11-20T15:30:00Z"),
    seq: "123456",
  },
});

interface RunningServer {
  port: number;
  stop(): Promise<void>;
}

async function startRawServer(): Promise<RunningServer> {
  const method = MarketDataServiceDefinition.methods.getQuote;
  const server = new grpc.Server();
  server.addService(
    {
      getQuote: {
        path: `/${MarketDataServiceDefinition.fullName}/GetQuote`,
        requestStream: false,
        responseStream: false,
        requestSerialize: (value: GetQuoteRequest) => Buffer.from(method.requestType.encode(value).finish()),
        requestDeserialize: (bytes: Buffer) => method.requestType.decode(bytes),
        // The raw server encodes the same message object per call, as any server answering it must.
        responseSerialize: (value: GetQuoteResponse) => Buffer.from(GetQuoteResponse.encode(value).finish()),
        responseDeserialize: (bytes: Buffer) => GetQuoteResponse.decode(bytes),
      },
    },
    {
      getQuote: (_call: grpc.ServerUnaryCall<GetQuoteRequest, GetQuoteResponse>, callback: grpc.sendUnaryData<GetQuoteResponse>) =>
        callback(null, response),
    },
  );
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (error, bound) => (error ? reject(error) : resolve(bound))),
  );
  return { port, stop: () => new Promise((resolve) => server.tryShutdown(() => resolve())) };
}

async function startPlatformServer(): Promise<RunningServer> {
  // As in the runtime: a registered tracer provider, no exporter (the default OTEL_TRACES_EXPORTER=none).
  const telemetry = setupTelemetry({ serviceName: "bench", exporter: "none" });
  const config = loadConfig(platformConfigSpec, {
    JWT_SECRET: SECRET,
    RATE_LIMIT_PER_SECOND: "1000000",
    RATE_LIMIT_BURST: "1000000",
  });
  const logger = createLogger({ name: "bench", level: "silent" });
  const server = createGrpcServer(grpcServerOptionsOf(config, logger, SECRET));
  const implementation: MarketDataServiceImplementation = {
    ...unimplementedService(MarketDataServiceDefinition, MarketDataServiceDefinition.fullName),
    async getQuote() {
      return response;
    },
  };
  server.add(MarketDataServiceDefinition, implementation);
  const port = await server.listen("127.0.0.1", 0);
  return {
    port,
    async stop() {
      await server.shutdown({ graceMs: 1_000 });
      await telemetry.shutdown();
    },
  };
}

type ServerKind = "raw" | "platform";
type ToServer = { type: "cpu" } | { type: "stop" };
type FromServer = { type: "listening"; port: number } | { type: "cpu"; micros: number } | { type: "stopped" };

/** The child side: serves one kind of server and answers the parent's questions about its CPU time. */
async function serve(kind: ServerKind): Promise<void> {
  const server = kind === "raw" ? await startRawServer() : await startPlatformServer();
  const send = (message: FromServer) => process.send!(message);
  process.on("message", (message: ToServer) => {
    if (message.type === "cpu") {
      const used = process.cpuUsage();
      send({ type: "cpu", micros: used.user + used.system });
    } else {
      void server.stop().then(() => {
        send({ type: "stopped" });
        process.disconnect();
      });
    }
  });
  send({ type: "listening", port: server.port });
}

/** A server in a child process, with its CPU time (user + system, µs) on request. */
interface ServerProcess {
  port: number;
  cpuMicros(): Promise<number>;
  stop(): Promise<void>;
}

function next(child: ChildProcess, type: FromServer["type"]): Promise<FromServer> {
  return new Promise((resolve, reject) => {
    const onMessage = (message: FromServer) => {
      if (message.type !== type) return;
      child.off("message", onMessage).off("exit", onExit);
      resolve(message);
    };
    const onExit = (code: number | null) => reject(new Error(`the ${type} server process exited (${code})`));
    child.on("message", onMessage).once("exit", onExit);
  });
}

async function startServerProcess(kind: ServerKind): Promise<ServerProcess> {
  const child = fork(__filename, ["serve", kind], { stdio: "inherit" });
  const listening = (await next(child, "listening")) as { port: number };
  return {
    port: listening.port,
    async cpuMicros() {
      const answer = next(child, "cpu");
      child.send({ type: "cpu" } satisfies ToServer);
      return ((await answer) as { micros: number }).micros;
    },
    async stop() {
      const stopped = next(child, "stopped");
      child.send({ type: "stop" } satisfies ToServer);
      await stopped;
    },
  };
}

interface Run extends H2loadResult {
  /** CPU time (user + system) of the server process per measured request, in microseconds. */
  cpuMicrosPerRequest: number;
}

async function main(): Promise<void> {
  const raw = await startServerProcess("raw");
  const platform = await startServerProcess("platform");
  const token = await issueToken(
    { secret: SECRET, issuer: "tradeplane", audience: "tradeplane" },
    { sub: "bench", roles: ["trader"], portfolios: ["*"] },
    3600,
  );
  const message = GetQuoteRequest.encode(GetQuoteRequest.fromPartial({ symbol: "AAPL" })).finish();
  const load = async (server: ServerProcess): Promise<Run> => {
    const options = {
      baseUrl: `http://127.0.0.1:${server.port}`,
      method: `/${MarketDataServiceDefinition.fullName}/GetQuote`,
      message,
      headers: { authorization: `Bearer ${token}` },
      clients: CLIENTS,
      streams: STREAMS_PER_CLIENT,
    };
    await h2load({ ...options, requests: WARMUP_REQUESTS });
    const before = await server.cpuMicros();
    const result = await h2load({ ...options, requests: REQUESTS_PER_ROUND });
    const used = (await server.cpuMicros()) - before;
    return { ...result, cpuMicrosPerRequest: used / (result.succeeded + result.failed) };
  };
  const rawRuns: Run[] = [];
  const platformRuns: Run[] = [];
  try {
    for (let round = 0; round < ROUNDS; round++) {
      rawRuns.push(await load(raw));
      platformRuns.push(await load(platform));
      const describe = (run: Run) =>
        `${run.requestsPerSecond.toFixed(0)} req/s p99 ${run.latencyMs.p99.toFixed(2)} ms cpu ${run.cpuMicrosPerRequest.toFixed(1)} µs/req`;
      console.log(`  round ${round + 1}: raw ${describe(rawRuns[round]!)}; platform ${describe(platformRuns[round]!)}`);
    }
  } finally {
    await platform.stop();
    await raw.stop();
  }
  const rawResult = medianResult(rawRuns);
  const platformResult = medianResult(platformRuns);
  const medianCpu = (runs: Run[]) => percentile(runs.map((run) => run.cpuMicrosPerRequest), 50);
  const rawCpu = medianCpu(rawRuns);
  const platformCpu = medianCpu(platformRuns);
  if (rawResult.failed > 0 || platformResult.failed > 0) throw new Error("some requests failed; the comparison is void");
  report({
    name: "platform-overhead",
    checks: [
      { label: "throughput, full middleware stack vs raw grpc-js", value: platformResult.requestsPerSecond / rawResult.requestsPerSecond, target: 0.75, kind: "min" },
      { label: "p99 latency, full middleware stack vs raw grpc-js", value: platformResult.latencyMs.p99 / rawResult.latencyMs.p99, target: 1.5, kind: "max" },
      { label: "server CPU time per request, raw grpc-js / full middleware stack", value: rawCpu / platformCpu, target: 0.75, kind: "min" },
    ],
    measurements: {
      raw: { ...rawResult, cpuMicrosPerRequest: rawCpu },
      platform: { ...platformResult, cpuMicrosPerRequest: platformCpu },
      rounds: ROUNDS,
      requestsPerRound: REQUESTS_PER_ROUND,
      clients: CLIENTS,
      streamsPerClient: STREAMS_PER_CLIENT,
    },
  });
}

const entry = process.argv[2] === "serve" ? serve(process.argv[3] as ServerKind) : main();
entry.catch((error) => {
  console.error(error);
  process.exit(1);
});

// GetQuote through the HTTP/JSON bridge (GET /api/v1/quotes/AAPL: HTTP/1.1, routing, binding, proto3 JSON both
// ways, the caller's token checked by market data) versus the same RPC of the same service called directly over
// gRPC, both loaded by h2load in interleaved rounds of the same run with the same number of requests in flight.
// Targets (issue 7): throughput ≥ 0.7× direct; added p50 latency ≤ 1 ms, measured one request at a time so
// queueing does not hide it.
//
// Two deployments, each compared with direct gRPC to the very process that serves GetQuote:
// - in-process (checked against the targets): market data and the bridge in one process, as `npm start` runs
//   them; the bridge calls GetQuote through the gRPC server's in-process pipeline (same auth, same handler).
// - remote (for the record): the bridge in its own process in front of market data (MARKETDATA_ADDRESS), calling
//   it over gRPC, as when they are deployed apart.
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { createInterface } from "node:readline";
import { createChannel, createClient, Metadata } from "nice-grpc";
import { GetQuoteRequest, MarketDataServiceDefinition } from "../../generated/tradeplane/marketdata/v1/market_data_service";
import { register as registerGateway } from "../../services/gateway/main";
import { register as registerMarketData } from "../../services/marketdata/main";
import { createLogger } from "../../services/platform/logger";
import { startServices } from "../../services/platform/runtime";
import { BENCH_SECRET, startMarketDataForBench, type BenchServer } from "./marketdata-server";
import { h2load, medianResult, requireH2load, type H2loadResult } from "./support/h2load";
import { percentile, report } from "./support/report";

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const REMOTE_ROUNDS = Number(process.env.BENCH_REMOTE_ROUNDS ?? 1);
const REQUESTS_PER_ROUND = Number(process.env.BENCH_REQUESTS ?? 20_000);
const SEQUENTIAL_REQUESTS = 2_000;
const WARMUP_REQUESTS = 3_000;
const IN_FLIGHT = 16;

/** h2load over HTTP/1.1 keep-alive connections, one request in flight per connection. */
function h1load(url: string, headers: Record<string, string>, requests: number, clients: number): Promise<H2loadResult> {
  const dir = mkdtempSync(path.join(os.tmpdir(), "tradeplane-h1load-"));
  const logFile = path.join(dir, "log.tsv");
  const args = ["--h1", "-n", String(requests), "-c", String(clients), "-m", "1", "-t", "1", "--log-file", logFile];
  for (const [k, v] of Object.entries(headers)) args.push("-H", `${k}: ${v}`);
  args.push(url);
  return new Promise((resolve, reject) => {
    const child = spawn("h2load", args, { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    child.stdout.on("data", (d) => (out += d));
    child.stderr.on("data", (d) => (out += d));
    child.on("error", reject);
    child.on("close", () => {
      try {
        const rps = /finished in [\d.]+\w+, ([\d.]+) req\/s/.exec(out);
        const counts = /requests: \d+ total, \d+ started, \d+ done, (\d+) succeeded, (\d+) failed/.exec(out);
        const status2xx = /status codes: (\d+) 2xx/.exec(out);
        if (!rps || !counts || !status2xx) throw new Error(`could not read h2load output:\n${out}`);
        const latencies = readFileSync(logFile, "utf8")
          .split("\n")
          .filter((line) => line.trim() !== "")
          .map((line) => Number(line.split("\t")[2]) / 1000);
        resolve({
          requestsPerSecond: Number(rps[1]),
          succeeded: Number(status2xx[1]),
          failed: Number(counts[2]) + Number(counts[1]) - Number(status2xx[1]),
          latencyMs: { p50: percentile(latencies, 50), p90: percentile(latencies, 90), p99: percentile(latencies, 99), max: percentile(latencies, 100) },
        });
      } catch (error) {
        reject(error);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  });
}

async function startGateway(marketDataPort: number): Promise<{ port: number; child: ChildProcess }> {
  const child = spawn(process.execPath, [...(process.env.BENCH_GATEWAY_PROFILE ? ["--cpu-prof", "--cpu-prof-dir=/tmp/gwprof"] : []), "--import", "tsx", path.join(__dirname, "gateway-server.ts")], {
    stdio: ["pipe", "pipe", "inherit"],
    env: { ...process.env, JWT_SECRET: BENCH_SECRET, MARKETDATA_ADDRESS: `127.0.0.1:${marketDataPort}` },
  });
  const line = await new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout! }).once("line", resolve);
    child.once("exit", (code) => reject(new Error(`the gateway exited with ${code}`)));
  });
  return { port: (JSON.parse(line) as { httpPort: number }).httpPort, child };
}

/** Market data and the bridge on one runtime in this process, with the settings of startMarketDataForBench. */
async function startMarketDataWithBridge(): Promise<BenchServer> {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), "tradeplane-bench-"));
  const env: NodeJS.ProcessEnv = {
    GRPC_PORT: "0",
    HTTP_PORT: "0",
    DATA_DIR: dataDir,
    JWT_SECRET: BENCH_SECRET,
    RATE_LIMIT_PER_SECOND: "0",
    LOG_LEVEL: "silent",
    SHUTDOWN_GRACE: "1000",
    MARKETDATA_SIMULATOR_RATE: "0",
    MARKETDATA_BUS_NAMESPACE: `bench-${process.pid}-${Date.now()}:`,
    GATEWAY_ACCESS_LOG: "false",
    ...(process.env.DATABASE_URL ? { DATABASE_URL: process.env.DATABASE_URL } : {}),
    ...(process.env.REDIS_URL ? { REDIS_URL: process.env.REDIS_URL } : {}),
  };
  const running = await startServices([registerMarketData, registerGateway], env, { logger: createLogger({ name: "bench", level: "silent" }) });
  const token = await running.runtime.issueToken({ sub: "bench", roles: ["admin", "feed", "trader"], portfolios: ["*"] }, 3600);
  return {
    grpcPort: running.ports.grpc,
    httpPort: running.ports.http,
    token,
    async stop() {
      await running.stop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** Publishes the quote GetQuote answers, and checks that both paths answer it. */
async function seedQuote(service: BenchServer, bridgeUrl: string): Promise<void> {
  const channel = createChannel(`127.0.0.1:${service.grpcPort}`);
  const client = createClient(MarketDataServiceDefinition, channel, { "*": { metadata: new Metadata({ authorization: `Bearer ${service.token}` }) } });
  const now = Date.now();
  async function* feed() {
    yield { ticks: [{ symbol: "AAPL", bid: "175.49", ask: "175.51", last: "175.50", bidSize: "300", askSize: "200", lastSize: "100", timestamp: new Date(now) }] };
  }
  await client.publishQuotes(feed());
  await client.getQuote({ symbol: "AAPL" });
  channel.close();
  const check = await fetch(bridgeUrl, { headers: { authorization: `Bearer ${service.token}` } });
  if (check.status !== 200) throw new Error(`the bridge answered ${check.status}: ${await check.text()}`);
  await check.text();
}

interface PathResult {
  direct: H2loadResult;
  bridge: H2loadResult;
  sequentialDirect: H2loadResult;
  sequentialBridge: H2loadResult;
  /** Median CPU µs per request: of the process serving GetQuote, loaded directly and through the bridge, and of a separate bridge process. */
  cpuMicrosPerRequest: { serviceDirect: number; serviceViaBridge: number; bridgeProcess?: number };
  rounds: number;
}

/**
 * Interleaved rounds of direct gRPC and the bridge against the same GetQuote. `service` serves GetQuote (and, for the
 * in-process path, the bridge too); `bridgeProcessPid` is the separate bridge process of the remote path.
 */
async function measure(label: string, service: BenchServer, bridgeUrl: string, rounds: number, bridgeProcessPid?: number): Promise<PathResult> {
  const headers = { authorization: `Bearer ${service.token}` };
  const grpcOptions = {
    baseUrl: `http://127.0.0.1:${service.grpcPort}`,
    method: `/${MarketDataServiceDefinition.fullName}/GetQuote`,
    message: GetQuoteRequest.encode(GetQuoteRequest.fromPartial({ symbol: "AAPL" })).finish(),
    headers,
  };
  const direct = (requests: number, inFlight: number) => h2load({ ...grpcOptions, requests, clients: inFlight, streams: 1 });
  const bridge = (requests: number, inFlight: number) => h1load(bridgeUrl, headers, requests, inFlight);

  // CPU time per request of each process, which moves less with machine noise than throughput does.
  const bridgeProcessCpuMicros = () => {
    if (bridgeProcessPid === undefined) return 0;
    const fields = readFileSync(`/proc/${bridgeProcessPid}/stat`, "utf8").split(") ")[1]!.split(" ");
    return ((Number(fields[11]) + Number(fields[12])) * 1_000_000) / 100; // utime + stime, in clock ticks of 10 ms
  };
  const cpu = { serviceDirect: [] as number[], serviceViaBridge: [] as number[], bridgeProcess: [] as number[] };
  const measured = async (kind: "direct" | "bridge", run: () => Promise<H2loadResult>) => {
    const before = process.cpuUsage();
    const bridgeBefore = bridgeProcessCpuMicros();
    const result = await run();
    const used = process.cpuUsage(before);
    const requests = result.succeeded + result.failed;
    if (kind === "direct") cpu.serviceDirect.push((used.user + used.system) / requests);
    else {
      cpu.serviceViaBridge.push((used.user + used.system) / requests);
      cpu.bridgeProcess.push((bridgeProcessCpuMicros() - bridgeBefore) / requests);
    }
    return result;
  };
  const loaded = { direct: [] as H2loadResult[], bridge: [] as H2loadResult[] };
  const sequential = { direct: [] as H2loadResult[], bridge: [] as H2loadResult[] };
  await direct(WARMUP_REQUESTS, IN_FLIGHT);
  await bridge(WARMUP_REQUESTS, IN_FLIGHT);
  console.log(`  ${label}:`);
  for (let round = 0; round < rounds; round++) {
    loaded.direct.push(await measured("direct", () => direct(REQUESTS_PER_ROUND, IN_FLIGHT)));
    loaded.bridge.push(await measured("bridge", () => bridge(REQUESTS_PER_ROUND, IN_FLIGHT)));
    sequential.direct.push(await direct(SEQUENTIAL_REQUESTS, 1));
    sequential.bridge.push(await bridge(SEQUENTIAL_REQUESTS, 1));
    const line = (r: H2loadResult) => `${r.requestsPerSecond.toFixed(0)} req/s p50 ${r.latencyMs.p50.toFixed(2)} ms p99 ${r.latencyMs.p99.toFixed(2)} ms`;
    console.log(`    round ${round + 1}: direct ${line(loaded.direct[round]!)}; bridge ${line(loaded.bridge[round]!)}`);
    console.log(`             one at a time: direct p50 ${sequential.direct[round]!.latencyMs.p50.toFixed(3)} ms; bridge p50 ${sequential.bridge[round]!.latencyMs.p50.toFixed(3)} ms`);
    const bridgeCpu = bridgeProcessPid === undefined ? "" : `; bridge process ${cpu.bridgeProcess[round]!.toFixed(0)} µs`;
    console.log(`             CPU per request of the GetQuote process: ${cpu.serviceDirect[round]!.toFixed(0)} µs direct, ${cpu.serviceViaBridge[round]!.toFixed(0)} µs via the bridge${bridgeCpu}`);
  }
  const result: PathResult = {
    direct: medianResult(loaded.direct),
    bridge: medianResult(loaded.bridge),
    sequentialDirect: medianResult(sequential.direct),
    sequentialBridge: medianResult(sequential.bridge),
    cpuMicrosPerRequest: {
      serviceDirect: percentile(cpu.serviceDirect, 50),
      serviceViaBridge: percentile(cpu.serviceViaBridge, 50),
      ...(bridgeProcessPid === undefined ? {} : { bridgeProcess: percentile(cpu.bridgeProcess, 50) }),
    },
    rounds,
  };
  if (result.direct.failed + result.bridge.failed + result.sequentialDirect.failed + result.sequentialBridge.failed > 0) {
    throw new Error(`${label}: some requests failed; the comparison is void`);
  }
  console.log(`    ${label}: bridge ${(result.bridge.requestsPerSecond / result.direct.requestsPerSecond).toFixed(2)}× direct, added p50 ${(result.sequentialBridge.latencyMs.p50 - result.sequentialDirect.latencyMs.p50).toFixed(2)} ms`);
  return result;
}

async function main(): Promise<void> {
  requireH2load();

  // In-process: the one-process mode, the path the targets apply to.
  const combined = await startMarketDataWithBridge();
  let inProcess: PathResult;
  try {
    const bridgeUrl = `http://127.0.0.1:${combined.httpPort}/api/v1/quotes/AAPL`;
    await seedQuote(combined, bridgeUrl);
    inProcess = await measure("in-process path (market data and the bridge in one process)", combined, bridgeUrl, ROUNDS);
  } finally {
    await combined.stop();
  }

  // Remote: the bridge in its own process calling market data over gRPC, kept for the record.
  let remote: PathResult | undefined;
  if (REMOTE_ROUNDS > 0) {
    const service = await startMarketDataForBench();
    let gateway: { port: number; child: ChildProcess } | undefined;
    try {
      gateway = await startGateway(service.grpcPort);
      const bridgeUrl = `http://127.0.0.1:${gateway.port}/api/v1/quotes/AAPL`;
      await seedQuote(service, bridgeUrl);
      remote = await measure("remote path (the bridge in its own process, over gRPC)", service, bridgeUrl, REMOTE_ROUNDS, gateway.child.pid);
    } finally {
      if (gateway !== undefined) {
        gateway.child.stdin!.end();
        await new Promise((resolve) => gateway!.child.once("exit", resolve));
      }
      await service.stop();
    }
  }

  report({
    name: "gateway-unary",
    checks: [
      { label: "bridge throughput vs direct gRPC (in-process path)", value: inProcess.bridge.requestsPerSecond / inProcess.direct.requestsPerSecond, target: 0.7, kind: "min" },
      {
        label: "added p50 latency, one request at a time (in-process path)",
        value: inProcess.sequentialBridge.latencyMs.p50 - inProcess.sequentialDirect.latencyMs.p50,
        target: 1,
        kind: "max",
        unit: " ms",
      },
    ],
    measurements: {
      measuredPath: "in-process",
      inProcess,
      ...(remote === undefined
        ? {}
        : {
            remote: {
              ...remote,
              throughputRatio: remote.bridge.requestsPerSecond / remote.direct.requestsPerSecond,
              addedP50Ms: remote.sequentialBridge.latencyMs.p50 - remote.sequentialDirect.latencyMs.p50,
            },
          }),
      cores: os.cpus().length,
      requestsPerRound: REQUESTS_PER_ROUND,
      inFlight: IN_FLIGHT,
    },
  });
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});

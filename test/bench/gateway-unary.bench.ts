// GetQuote through the HTTP/JSON bridge (GET /api/v1/quotes/AAPL: HTTP/1.1, routing, binding, proto3 JSON both
// ways, a gRPC call to market data with the caller's token) versus the same RPC called directly over gRPC, both
// loaded by h2load in interleaved rounds of the same run with the same number of requests in flight. The bridge
// runs in its own process in front of market data, as deployed. Targets (issue 7): throughput ≥ 0.7× direct;
// added p50 latency ≤ 1 ms, measured one request at a time so queueing does not hide it.
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { createInterface } from "node:readline";
import { createChannel, createClient, Metadata } from "nice-grpc";
import { GetQuoteRequest, MarketDataServiceDefinition } from "../../generated/tradeplane/marketdata/v1/market_data_service";
import { BENCH_SECRET, startMarketDataForBench } from "./marketdata-server";
import { h2load, medianResult, requireH2load, type H2loadResult } from "./support/h2load";
import { percentile, report } from "./support/report";

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
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

async function main(): Promise<void> {
  requireH2load();
  const service = await startMarketDataForBench();
  const channel = createChannel(`127.0.0.1:${service.grpcPort}`);
  const client = createClient(MarketDataServiceDefinition, channel, { "*": { metadata: new Metadata({ authorization: `Bearer ${service.token}` }) } });
  const now = Date.now();
  async function* feed() {
    yield { ticks: [{ symbol: "AAPL", bid: "175.49", ask: "175.51", last: "175.50", bidSize: "300", askSize: "200", lastSize: "100", timestamp: new Date(now) }] };
  }
  await client.publishQuotes(feed());
  await client.getQuote({ symbol: "AAPL" });
  channel.close();
  const gateway = await startGateway(service.grpcPort);
  const headers = { authorization: `Bearer ${service.token}` };
  const bridgeUrl = `http://127.0.0.1:${gateway.port}/api/v1/quotes/AAPL`;
  const check = await fetch(bridgeUrl, { headers });
  if (check.status !== 200) throw new Error(`the bridge answered ${check.status}: ${await check.text()}`);
  await check.text();

  const grpcOptions = {
    baseUrl: `http://127.0.0.1:${service.grpcPort}`,
    method: `/${MarketDataServiceDefinition.fullName}/GetQuote`,
    message: GetQuoteRequest.encode(GetQuoteRequest.fromPartial({ symbol: "AAPL" })).finish(),
    headers,
  };
  const direct = (requests: number, inFlight: number) => h2load({ ...grpcOptions, requests, clients: inFlight, streams: 1 });
  const bridge = (requests: number, inFlight: number) => h1load(bridgeUrl, headers, requests, inFlight);

  // CPU time per request of each process, which moves less with machine noise than throughput does.
  const gatewayCpuMicros = () => {
    const fields = readFileSync(`/proc/${gateway.child.pid}/stat`, "utf8").split(") ")[1]!.split(" ");
    return ((Number(fields[11]) + Number(fields[12])) * 1_000_000) / 100; // utime + stime, in clock ticks of 10 ms
  };
  const cpu = { marketDataDirect: [] as number[], marketDataBridge: [] as number[], gateway: [] as number[] };
  const measured = async (path: "direct" | "bridge", run: () => Promise<H2loadResult>) => {
    const before = process.cpuUsage();
    const gatewayBefore = gatewayCpuMicros();
    const result = await run();
    const used = process.cpuUsage(before);
    const requests = result.succeeded + result.failed;
    if (path === "direct") cpu.marketDataDirect.push((used.user + used.system) / requests);
    else {
      cpu.marketDataBridge.push((used.user + used.system) / requests);
      cpu.gateway.push((gatewayCpuMicros() - gatewayBefore) / requests);
    }
    return result;
  };
  const loaded = { direct: [] as H2loadResult[], bridge: [] as H2loadResult[] };
  const sequential = { direct: [] as H2loadResult[], bridge: [] as H2loadResult[] };
  try {
    await direct(WARMUP_REQUESTS, IN_FLIGHT);
    await bridge(WARMUP_REQUESTS, IN_FLIGHT);
    for (let round = 0; round < ROUNDS; round++) {
      loaded.direct.push(await measured("direct", () => direct(REQUESTS_PER_ROUND, IN_FLIGHT)));
      loaded.bridge.push(await measured("bridge", () => bridge(REQUESTS_PER_ROUND, IN_FLIGHT)));
      sequential.direct.push(await direct(SEQUENTIAL_REQUESTS, 1));
      sequential.bridge.push(await bridge(SEQUENTIAL_REQUESTS, 1));
      const line = (r: H2loadResult) => `${r.requestsPerSecond.toFixed(0)} req/s p50 ${r.latencyMs.p50.toFixed(2)} ms p99 ${r.latencyMs.p99.toFixed(2)} ms`;
      console.log(`  round ${round + 1}: direct ${line(loaded.direct[round]!)}; bridge ${line(loaded.bridge[round]!)}`);
      console.log(`           one at a time: direct p50 ${sequential.direct[round]!.latencyMs.p50.toFixed(3)} ms; bridge p50 ${sequential.bridge[round]!.latencyMs.p50.toFixed(3)} ms`);
      console.log(`           CPU per request: market data ${cpu.marketDataDirect[round]!.toFixed(0)} µs direct, ${cpu.marketDataBridge[round]!.toFixed(0)} µs via bridge; gateway ${cpu.gateway[round]!.toFixed(0)} µs`);
    }
  } finally {
    gateway.child.stdin!.end();
    await new Promise((resolve) => gateway.child.once("exit", resolve));
    await service.stop();
  }
  const d = medianResult(loaded.direct);
  const b = medianResult(loaded.bridge);
  const sd = medianResult(sequential.direct);
  const sb = medianResult(sequential.bridge);
  if (d.failed + b.failed + sd.failed + sb.failed > 0) throw new Error("some requests failed; the comparison is void");
  report({
    name: "gateway-unary",
    checks: [
      { label: "bridge throughput vs direct gRPC", value: b.requestsPerSecond / d.requestsPerSecond, target: 0.7, kind: "min" },
      { label: "added p50 latency, one request at a time", value: sb.latencyMs.p50 - sd.latencyMs.p50, target: 1, kind: "max", unit: " ms" },
    ],
    measurements: {
      direct: d,
      bridge: b,
      sequentialDirect: sd,
      sequentialBridge: sb,
      cpuMicrosPerRequest: {
        marketDataDirect: percentile(cpu.marketDataDirect, 50),
        marketDataViaBridge: percentile(cpu.marketDataBridge, 50),
        gateway: percentile(cpu.gateway, 50),
      },
      cores: os.cpus().length,
      rounds: ROUNDS,
      requestsPerRound: REQUESTS_PER_ROUND,
      inFlight: IN_FLIGHT,
    },
  });
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});

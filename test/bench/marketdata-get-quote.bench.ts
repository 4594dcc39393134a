// GetQuote through the real market data service (auth, metrics, error mapping, symbol check, cache-aside
// read of quote:{SYMBOL}, proto mapping) versus a raw grpc-js server returning the same response bytes,
// both loaded by h2load in interleaved rounds of the same run. Targets (issue 3): throughput ≥ 0.75× raw,
// p99 ≤ 1.5× raw. The cache is Redis when REDIS_URL is set, the in-process LRU otherwise; the verdict
// JSON records which. Server CPU time per request is reported too, since it moves less with machine noise.
import * as grpc from "@grpc/grpc-js";
import { createChannel, createClient, Metadata } from "nice-grpc";
import {
  GetQuoteRequest,
  GetQuoteResponse,
  MarketDataServiceDefinition,
} from "../../generated/tradeplane/marketdata/v1/market_data_service";
import { startMarketDataForBench } from "./marketdata-server";
import { h2load, medianResult, type H2loadResult } from "./support/h2load";
import { percentile, report } from "./support/report";

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const REQUESTS_PER_ROUND = Number(process.env.BENCH_REQUESTS ?? 30_000);
const WARMUP_REQUESTS = 5_000;
const CLIENTS = 8;
const STREAMS_PER_CLIENT = 16;

async function startRawServer(responseBytes: Buffer): Promise<{ port: number; stop(): Promise<void> }> {
  const server = new grpc.Server();
  server.addService(
    {
      getQuote: {
        path: `/${MarketDataServiceDefinition.fullName}/GetQuote`,
        requestStream: false,
        responseStream: false,
        requestSerialize: (value: GetQuoteRequest) => Buffer.from(GetQuoteRequest.encode(value).finish()),
        requestDeserialize: (bytes: Buffer) => GetQuoteRequest.decode(bytes),
        // Decoded and re-encoded per call, as any server answering the message must.
        responseSerialize: (value: GetQuoteResponse) => Buffer.from(GetQuoteResponse.encode(value).finish()),
        responseDeserialize: (bytes: Buffer) => GetQuoteResponse.decode(bytes),
      },
    },
    {
      getQuote: (_call: grpc.ServerUnaryCall<GetQuoteRequest, GetQuoteResponse>, callback: grpc.sendUnaryData<GetQuoteResponse>) =>
        callback(null, GetQuoteResponse.decode(responseBytes)),
    },
  );
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (error, bound) => (error ? reject(error) : resolve(bound))),
  );
  return { port, stop: () => new Promise((resolve) => server.tryShutdown(() => resolve())) };
}

interface Run extends H2loadResult {
  cpuMicrosPerRequest: number;
}

async function main(): Promise<void> {
  const service = await startMarketDataForBench();
  const channel = createChannel(`127.0.0.1:${service.grpcPort}`);
  const client = createClient(MarketDataServiceDefinition, channel, { "*": { metadata: new Metadata({ authorization: `Bearer ${service.token}` }) } });
  const now = Date.now();
  async function* feed() {
    yield { ticks: [{ symbol: "AAPL", bid: "175.49", ask: "175.51", last: "175.50", bidSize: "300", askSize: "200", lastSize: "100", timestamp: new Date(now) }] };
  }
  await client.publishQuotes(feed());
  // The real answer, so the raw server sends exactly the same bytes.
  const real = await client.getQuote({ symbol: "AAPL" });
  channel.close();
  const raw = await startRawServer(Buffer.from(GetQuoteResponse.encode(GetQuoteResponse.fromPartial(real)).finish()));

  const message = GetQuoteRequest.encode(GetQuoteRequest.fromPartial({ symbol: "AAPL" })).finish();
  const load = async (port: number): Promise<Run> => {
    const options = {
      baseUrl: `http://127.0.0.1:${port}`,
      method: `/${MarketDataServiceDefinition.fullName}/GetQuote`,
      message,
      headers: { authorization: `Bearer ${service.token}` },
      clients: CLIENTS,
      streams: STREAMS_PER_CLIENT,
    };
    await h2load({ ...options, requests: WARMUP_REQUESTS });
    const before = process.cpuUsage();
    const result = await h2load({ ...options, requests: REQUESTS_PER_ROUND });
    const used = process.cpuUsage(before);
    return { ...result, cpuMicrosPerRequest: (used.user + used.system) / (result.succeeded + result.failed) };
  };

  const rawRuns: Run[] = [];
  const serviceRuns: Run[] = [];
  try {
    for (let round = 0; round < ROUNDS; round += 1) {
      rawRuns.push(await load(raw.port));
      serviceRuns.push(await load(service.grpcPort));
      const describe = (run: Run) => `${run.requestsPerSecond.toFixed(0)} req/s p99 ${run.latencyMs.p99.toFixed(2)} ms cpu ${run.cpuMicrosPerRequest.toFixed(1)} µs/req`;
      console.log(`  round ${round + 1}: raw ${describe(rawRuns[round]!)}; GetQuote ${describe(serviceRuns[round]!)}`);
    }
  } finally {
    await raw.stop();
    await service.stop();
  }
  const rawResult = medianResult(rawRuns);
  const serviceResult = medianResult(serviceRuns);
  if (rawResult.failed > 0 || serviceResult.failed > 0) throw new Error("some requests failed; the comparison is void");
  const medianCpu = (runs: Run[]) => percentile(runs.map((run) => run.cpuMicrosPerRequest), 50);
  report({
    name: "marketdata-get-quote",
    checks: [
      { label: "GetQuote throughput vs raw grpc-js", value: serviceResult.requestsPerSecond / rawResult.requestsPerSecond, target: 0.75, kind: "min" },
      { label: "GetQuote p99 latency vs raw grpc-js", value: serviceResult.latencyMs.p99 / rawResult.latencyMs.p99, target: 1.5, kind: "max" },
      { label: "server CPU time per request, raw grpc-js / GetQuote", value: medianCpu(rawRuns) / medianCpu(serviceRuns), target: 0.75, kind: "min" },
    ],
    measurements: {
      cache: process.env.REDIS_URL ? "redis" : "in-process",
      raw: { ...rawResult, cpuMicrosPerRequest: medianCpu(rawRuns) },
      getQuote: { ...serviceResult, cpuMicrosPerRequest: medianCpu(serviceRuns) },
      rounds: ROUNDS,
      requestsPerRound: REQUESTS_PER_ROUND,
      clients: CLIENTS,
      streamsPerClient: STREAMS_PER_CLIENT,
    },
  });
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});

// What the platform costs per call: MarketDataService/GetQuote answered by a fixed quote through the full
// tradeplane server (telemetry, metrics, error mapping, deadline check, auth with JWT verification, rate limiting)
// versus a raw grpc-js server answering the same bytes. Both are loaded by h2load in the same run, in interleaved
// rounds so drift in the machine's state hits both alike. Targets (issue 2): throughput ≥ 0.75× raw, p99 ≤ 1.5× raw.
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
import { unimplementedService } from "../../services/platform/unimplemented";
import { h2load, medianResult, type H2loadResult } from "./support/h2load";
import { report } from "./support/report";

const ROUNDS = 5;
const REQUESTS_PER_ROUND = 40_000;
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

async function startRawServer(): Promise<{ port: number; stop(): Promise<void> }> {
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

async function startPlatformServer(): Promise<{ port: number; stop(): Promise<void> }> {
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
  return { port, stop: () => server.shutdown({ graceMs: 1_000 }) };
}

async function main(): Promise<void> {
  const raw = await startRawServer();
  const platform = await startPlatformServer();
  const token = await issueToken(
    { secret: SECRET, issuer: "tradeplane", audience: "tradeplane" },
    { sub: "bench", roles: ["trader"], portfolios: ["*"] },
    3600,
  );
  const message = GetQuoteRequest.encode(GetQuoteRequest.fromPartial({ symbol: "AAPL" })).finish();
  const load = (port: number) =>
    h2load({
      baseUrl: `http://127.0.0.1:${port}`,
      method: `/${MarketDataServiceDefinition.fullName}/GetQuote`,
      message,
      headers: { authorization: `Bearer ${token}` },
      requests: REQUESTS_PER_ROUND,
      clients: CLIENTS,
      streams: STREAMS_PER_CLIENT,
      warmupRequests: 5_000,
    });
  const rawRuns: H2loadResult[] = [];
  const platformRuns: H2loadResult[] = [];
  try {
    for (let round = 0; round < ROUNDS; round++) {
      rawRuns.push(await load(raw.port));
      platformRuns.push(await load(platform.port));
      const last = (runs: H2loadResult[]) => runs[runs.length - 1]!;
      console.log(
        `  round ${round + 1}: raw ${last(rawRuns).requestsPerSecond.toFixed(0)} req/s p99 ${last(rawRuns).latencyMs.p99.toFixed(2)} ms; ` +
          `platform ${last(platformRuns).requestsPerSecond.toFixed(0)} req/s p99 ${last(platformRuns).latencyMs.p99.toFixed(2)} ms`,
      );
    }
  } finally {
    await platform.stop();
    await raw.stop();
  }
  const rawResult = medianResult(rawRuns);
  const platformResult = medianResult(platformRuns);
  if (rawResult.failed > 0 || platformResult.failed > 0) throw new Error("some requests failed; the comparison is void");
  report({
    name: "platform-overhead",
    checks: [
      { label: "throughput, full middleware stack vs raw grpc-js", value: platformResult.requestsPerSecond / rawResult.requestsPerSecond, target: 0.75, kind: "min" },
      { label: "p99 latency, full middleware stack vs raw grpc-js", value: platformResult.latencyMs.p99 / rawResult.latencyMs.p99, target: 1.5, kind: "max" },
    ],
    measurements: { raw: rawResult, platform: platformResult, rounds: ROUNDS, requestsPerRound: REQUESTS_PER_ROUND, clients: CLIENTS, streamsPerClient: STREAMS_PER_CLIENT },
  });
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});

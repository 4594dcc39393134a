// Calls between co-located services: `runtime.client` calling a peer in this process in-process (through the
// server's unary pipeline on message objects) versus the same client over loopback gRPC, which is what
// IN_PROCESS_CALLS=false gives: `createServiceClient` on this process's own port with the service token and the
// default deadline, the very line runtime.ts runs for a client when in-process calls are off. Both are measured in
// the same run on the same runtime (accounting and a market data stand-in, on the configured backends), in
// interleaved rounds so drift in the machine's state hits both alike.
//
// Two methods: CreateReservation, the call orders makes for every order (a Postgres function call behind it), and
// GetQuote answered by the stand-in from memory, which shows what the transport alone costs. The figure held to a
// target is the process's CPU time per call (client and server sides are both in this process), which the other
// benchmarks sharing the machine barely move; calls per second are kept for the record. Targets: gRPC costs at least
// 2× the CPU of an in-process CreateReservation and 4× for GetQuote (first runs on the shared 2-core machine: about
// 4.8× and 9×).
import { randomBytes } from "node:crypto";
import { performance } from "node:perf_hooks";
import { createChannel } from "nice-grpc";
import { createServiceClient, type TradeplaneClient } from "../../clients/node";
import { AccountingServiceDefinition } from "../../generated/tradeplane/accounting/v1/accounting_service";
import { MarketDataServiceDefinition } from "../../generated/tradeplane/marketdata/v1/market_data_service";
import { register as registerAccounting } from "../../services/accounting/main";
import { createTestDatabase } from "../../services/platform/database";
import { createLogger } from "../../services/platform/logger";
import { startServices } from "../../services/platform/runtime";
import { createIsolatedVhost } from "../chaos/isolated-vhost";
import { FakeMarket } from "../integration/orders/fake-market-data";
import { report } from "./support/report";

// Overridable for quick local comparisons; the reported verdict uses the defaults.
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 4);
const RESERVATIONS_PER_ROUND = Number(process.env.BENCH_RESERVATIONS ?? 1_500);
const QUOTES_PER_ROUND = Number(process.env.BENCH_QUOTES ?? 6_000);
const CONCURRENCY = 16;
const PORTFOLIOS = 64;
const SECRET = "bench-secret-0123456789abcdef0123456789";

type Mode = "in-process" | "grpc";

interface Sample {
  calls: number;
  cpuMicros: number;
  wallMs: number;
}

const id24 = (prefix: string): string => (prefix + randomBytes(12).toString("hex")).slice(0, 24);

/** Runs `count` calls, `CONCURRENCY` at a time, and measures this process's CPU time and the wall time they take. */
async function measure(count: number, call: (i: number) => Promise<unknown>): Promise<Sample> {
  let next = 0;
  const cpu = process.cpuUsage();
  const start = performance.now();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      for (let i = next++; i < count; i = next++) await call(i);
    }),
  );
  const used = process.cpuUsage(cpu);
  return { calls: count, cpuMicros: used.user + used.system, wallMs: performance.now() - start };
}

function total(samples: readonly Sample[]): { cpuMicrosPerCall: number; callsPerSecond: number } {
  const calls = samples.reduce((sum, s) => sum + s.calls, 0);
  const cpu = samples.reduce((sum, s) => sum + s.cpuMicros, 0);
  const wall = samples.reduce((sum, s) => sum + s.wallMs, 0);
  return { cpuMicrosPerCall: cpu / calls, callsPerSecond: (calls / wall) * 1000 };
}

async function main(): Promise<void> {
  const db = await createTestDatabase();
  // Its own vhost, so other runs on the broker cannot consume this run's messages.
  const vhost = process.env.AMQP_URL ? createIsolatedVhost(process.env.AMQP_URL, "bench") : null;
  const market = new FakeMarket();
  market.addInstrument("BENCH", id24("sec"));
  market.setQuote("BENCH", { bid: "99.95", ask: "100.05", last: "100" });
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    GRPC_PORT: "0",
    HTTP_PORT: "0",
    JWT_SECRET: SECRET,
    DATABASE_URL: db.url,
    ...(vhost ? { AMQP_URL: vhost.url } : {}),
    ACCOUNTING_DAILY_DEPOSIT_LIMIT: "1000000000000",
    ACCOUNTING_DB_POOL_MAX: "20",
    RATE_LIMIT_PER_SECOND: "0",
    IN_PROCESS_CALLS: "true",
  };
  const running = await startServices([market.register(), registerAccounting], env, { logger: createLogger({ name: "bench", level: "error" }) });
  const { runtime } = running;
  const channel = createChannel(`127.0.0.1:${running.ports.grpc}`);
  const overGrpc = <D extends typeof AccountingServiceDefinition | typeof MarketDataServiceDefinition>(definition: D): TradeplaneClient<D> =>
    createServiceClient(definition, channel, { token: runtime.serviceToken, deadlineMs: runtime.config.clientDeadlineMs });
  const accounting: Record<Mode, TradeplaneClient<typeof AccountingServiceDefinition>> = {
    "in-process": runtime.client(AccountingServiceDefinition, "accounting"),
    grpc: overGrpc(AccountingServiceDefinition),
  };
  const marketData: Record<Mode, TradeplaneClient<typeof MarketDataServiceDefinition>> = {
    "in-process": runtime.client(MarketDataServiceDefinition, "marketdata"),
    grpc: overGrpc(MarketDataServiceDefinition),
  };

  try {
    const portfolios = Array.from({ length: PORTFOLIOS }, () => id24("pf"));
    for (const portfolioId of portfolios) {
      await accounting.grpc.deposit({ portfolioId, amount: "1000000", idempotencyKey: `fund-${portfolioId}` });
    }

    const reserve = async (mode: Mode, count: number): Promise<Sample> => {
      const run = randomBytes(4).toString("hex");
      const ids: string[] = [];
      const sample = await measure(count, async (i) => {
        const { reservation } = await accounting[mode].createReservation({
          portfolioId: portfolios[i % PORTFOLIOS]!,
          orderId: `o-${run}-${i}`,
          securityId: "",
          amount: "10.00",
        });
        ids.push(reservation!.reservationId);
      });
      // Untimed: the holds are released so every round reserves against the same open holds.
      await measure(ids.length, (i) => accounting["in-process"].releaseReservation({ reservationId: ids[i]! }));
      return sample;
    };
    const quote = (mode: Mode, count: number): Promise<Sample> => measure(count, () => marketData[mode].getQuote({ symbol: "BENCH" }));

    // Warm-up: connections, prepared plans, JIT of both paths.
    for (const mode of ["in-process", "grpc"] as const) {
      await reserve(mode, 300);
      await quote(mode, 2_000);
    }

    const samples = { reserve: { "in-process": [] as Sample[], grpc: [] as Sample[] }, quote: { "in-process": [] as Sample[], grpc: [] as Sample[] } };
    for (let round = 0; round < ROUNDS; round += 1) {
      const order: Mode[] = round % 2 === 0 ? ["in-process", "grpc"] : ["grpc", "in-process"];
      for (const mode of order) samples.reserve[mode].push(await reserve(mode, RESERVATIONS_PER_ROUND));
      for (const mode of order) samples.quote[mode].push(await quote(mode, QUOTES_PER_ROUND));
    }

    const reserveInProcess = total(samples.reserve["in-process"]);
    const reserveGrpc = total(samples.reserve.grpc);
    const quoteInProcess = total(samples.quote["in-process"]);
    const quoteGrpc = total(samples.quote.grpc);
    const line = (label: string, t: { cpuMicrosPerCall: number; callsPerSecond: number }) =>
      console.log(`  ${label}: ${t.cpuMicrosPerCall.toFixed(1)} µs CPU/call, ${t.callsPerSecond.toFixed(0)} calls/s`);
    line("CreateReservation in-process", reserveInProcess);
    line("CreateReservation over gRPC ", reserveGrpc);
    line("GetQuote in-process         ", quoteInProcess);
    line("GetQuote over gRPC          ", quoteGrpc);

    report({
      name: "platform-in-process-calls",
      checks: [
        {
          label: "CreateReservation CPU per call, gRPC / in-process",
          value: reserveGrpc.cpuMicrosPerCall / reserveInProcess.cpuMicrosPerCall,
          target: 2,
          kind: "min",
        },
        {
          label: "GetQuote CPU per call, gRPC / in-process",
          value: quoteGrpc.cpuMicrosPerCall / quoteInProcess.cpuMicrosPerCall,
          target: 4,
          kind: "min",
        },
      ],
      measurements: {
        rounds: ROUNDS,
        concurrency: CONCURRENCY,
        reservationsPerRound: RESERVATIONS_PER_ROUND,
        quotesPerRound: QUOTES_PER_ROUND,
        database: process.env.DATABASE_URL ? "postgres" : "embedded",
        createReservation: { inProcess: reserveInProcess, grpc: reserveGrpc },
        getQuote: { inProcess: quoteInProcess, grpc: quoteGrpc },
        samples,
      },
    });
  } finally {
    channel.close();
    await running.stop();
    vhost?.drop();
    await db.drop();
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});

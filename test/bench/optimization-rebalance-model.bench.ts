// RebalanceModel over 1,000 portfolios × 100 positions through the real optimization service: holdings are read
// over gRPC (an in-process accounting peer serving ListBalances from memory), prices and instruments over gRPC
// (the fake market of the integration tests), every solve runs in the solver's worker threads, every proposal is
// stored in Postgres. Meanwhile the event loop's delay is sampled. Targets (issue 6): the whole run ≤ 10 s and the
// event-loop delay p99 ≤ 50 ms. The same-run baseline is the bare reading of the same holdings and prices with
// nothing solved or stored, so the ratio says what solving and storing add.
import Decimal from "decimal.js";
import { randomBytes } from "node:crypto";
import { monitorEventLoopDelay } from "node:perf_hooks";
import { AccountingServiceDefinition } from "../../generated/tradeplane/accounting/v1/accounting_service";
import type { Balance } from "../../generated/tradeplane/accounting/v1/accounting";
import { register } from "../../services/optimization/main";
import type { RegisterService } from "../../services/platform/runtime";
import { unimplementedService } from "../../services/platform/unimplemented";
import { FakeMarket } from "../integration/optimization/fake-market";
import { dropRunDatabase, openRunDatabase } from "../support/backends";
import { startSystem } from "../support/system";
import { report } from "./support/report";

const PORTFOLIOS = Number(process.env.BENCH_PORTFOLIOS ?? 1000);
const POSITIONS = 100;
// Portfolios in flight at once; 0 = the server default (the number of cores).
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 0);

function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

async function main(): Promise<void> {
  await openRunDatabase();
  const rnd = random(7);
  const int = (lo: number, hi: number) => lo + Math.floor(rnd() * (hi - lo + 1));
  const market = new FakeMarket();
  const securities = Array.from({ length: POSITIONS }, (_, i) => `SEC${String(i).padStart(21, "0")}`);
  securities.forEach((id, i) => market.add(`B${i}`, id, new Decimal(int(500, 50000)).div(100).toFixed()));
  const portfolios = Array.from({ length: PORTFOLIOS }, () => `PF${randomBytes(11).toString("hex")}`);
  const balances = new Map<string, Balance[]>();
  const row = (portfolioId: string, securityId: string, quantityLong: string): Balance => ({
    id: "0", portfolioId, securityId, quantityLong, quantityShort: "0", version: 1, lastUpdated: new Date(), quantityReserved: "0", quantityAvailable: quantityLong,
  });
  for (const portfolioId of portfolios) {
    balances.set(portfolioId, [
      row(portfolioId, "", new Decimal(int(100_000, 5_000_000)).div(100).toFixed()),
      ...securities.map((id) => row(portfolioId, id, String(int(0, 500)))),
    ]);
  }
  const accounting: RegisterService = async (runtime) => {
    runtime.grpc.add(AccountingServiceDefinition, {
      ...unimplementedService(AccountingServiceDefinition, "accounting"),
      listBalances: async (request) => ({ balances: balances.get(request.portfolioId) ?? [], nextPageToken: "", totalSize: 0 }),
    });
  };

  const system = await startSystem([market.register(), accounting, register]);
  try {
    const { model } = await system.clients.models.createModel({
      name: `bench-${randomBytes(4).toString("hex")}`,
      positions: securities.map((securityId, i) => ({ securityId, target: i < 90 ? "0.01" : "0.005", lowDrift: "0.005", highDrift: "0.005" })),
      portfolios,
    });

    // Baseline: the same reads (holdings per portfolio, one instruments + one quotes batch) with nothing else.
    const baselineStarted = performance.now();
    const symbols = securities.map((_, i) => `B${i}`);
    for (let i = 0; i < portfolios.length; i += 8) {
      await Promise.all(
        portfolios.slice(i, i + 8).map(async (portfolioId) => {
          await system.clients.accounting.listBalances({ portfolioId, nonZeroOnly: true, pageSize: 1000 });
          await system.clients.marketData.batchGetQuotes({ symbols });
        }),
      );
    }
    const baselineMs = performance.now() - baselineStarted;

    const delay = monitorEventLoopDelay({ resolution: 10 });
    delay.enable();
    const started = performance.now();
    let results = 0;
    let failed = 0;
    let summary: { elapsedMs: string; succeeded: number } | undefined;
    const stream = system.clients.rebalance.rebalanceModel({ modelId: model!.modelId, concurrency: CONCURRENCY }, { deadline: 300_000 });
    for await (const frame of stream) {
      if (frame.frame?.$case === "portfolioResult") {
        results++;
        if (frame.frame.value.outcome?.$case === "error") failed++;
      } else if (frame.frame?.$case === "summary") summary = frame.frame.value;
    }
    const elapsedMs = performance.now() - started;
    delay.disable();
    const p99DelayMs = delay.percentile(99) / 1e6;

    report({
      name: "optimization-rebalance-model",
      checks: [
        { label: `RebalanceModel ${PORTFOLIOS} portfolios × ${POSITIONS} positions, wall time`, value: elapsedMs / 1000, target: 10, kind: "max", unit: " s" },
        { label: "event-loop delay p99 during the run", value: p99DelayMs, target: 50, kind: "max", unit: " ms" },
      ],
      measurements: {
        portfolios: PORTFOLIOS,
        positions: POSITIONS,
        concurrency: CONCURRENCY,
        results,
        failed,
        serverElapsedMs: summary ? Number(summary.elapsedMs) : null,
        succeeded: summary?.succeeded ?? null,
        baselineReadsMs: baselineMs,
        ratioToBareReads: elapsedMs / baselineMs,
        eventLoopDelayMs: { p50: delay.percentile(50) / 1e6, p99: p99DelayMs, max: delay.max / 1e6 },
        database: process.env.DATABASE_URL ? "postgres" : "embedded",
      },
    });
  } finally {
    await system.stop();
    await dropRunDatabase();
  }
}

main().then(
  () => process.exit(0),
  (error) => {
    console.error(error);
    process.exit(1);
  },
);

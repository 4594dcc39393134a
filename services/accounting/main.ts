// Composition root of the accounting service (AccountingService, AllocationService and the position worker):
// the only place that reads configuration and constructs things.
import { randomUUID } from "node:crypto";
import { mkdir, rm, writeFile } from "node:fs/promises";
import * as path from "node:path";
import { AccountingServiceDefinition } from "../../generated/tradeplane/accounting/v1/accounting_service";
import { AllocationServiceDefinition } from "../../generated/tradeplane/accounting/v1/allocation_service";
import { MarketDataServiceDefinition } from "../../generated/tradeplane/marketdata/v1/market_data_service";
import { startServices, type RunningService, type Runtime } from "../platform/runtime";
import { readTransactionCsv } from "./adapters/csv-file";
import { createExecutionStore } from "./adapters/execution-store";
import { createLedgerQueries } from "./adapters/ledger-queries";
import { createLedgerStore } from "./adapters/ledger-store";
import { createReservationHolds } from "./adapters/reservation-holds";
import { loadAccountingConfig } from "./config";
import { importTransactions } from "./domain/import-transactions";
import { dec } from "./domain/money";
import type { PricePoint } from "./domain/portfolio-valuation";
import { postFills } from "./domain/post-fill";
import { postTransactionBatches } from "./domain/post-transactions";
import { createAccountingService } from "./grpc/accounting-service";
import { createAllocationService } from "./grpc/allocation-service";
import { startPositionWorker } from "./workers/position-worker";

/** Unknown securities resolved against market data per summary, at most (the rest stay unpriced). */
const MAX_SYMBOL_LOOKUPS = 100;

/** Adds the accounting and allocation services and the position worker to a runtime. */
export async function register(runtime: Runtime): Promise<void> {
  const config = loadAccountingConfig(runtime.env);
  const logger = runtime.logger.child({ component: "accounting" });
  const db = await runtime.openDatabase("accounting", path.join(__dirname, "migrations"), config.poolMax);
  const withLedgerSession = createLedgerStore(db.knex, db.schema, db.prepared);
  const queries = createLedgerQueries(db.knex, db.schema);
  const executions = createExecutionStore(db.knex, db.schema);
  const marketData = runtime.client(MarketDataServiceDefinition, "marketdata");
  const now = () => new Date();
  const ledger = { withLedgerSession };

  const prices = async (securities: { securityId: string; symbol: string }[]): Promise<Map<string, PricePoint>> => {
    const result = new Map<string, PricePoint>();
    if (securities.length === 0) return result;
    try {
      const response = await marketData.batchGetQuotes({ symbols: [...new Set(securities.map((s) => s.symbol))] });
      const bySymbol = new Map(response.quotes.map((q) => [q.symbol.toUpperCase(), q]));
      for (const s of securities) {
        const quote = bySymbol.get(s.symbol.toUpperCase());
        if (quote && quote.last) result.set(s.securityId, { price: dec(quote.last), time: quote.timestamp ?? now() });
      }
    } catch (error) {
      // A summary without prices is still a useful answer; the prices are listed as missing.
      logger.warn("market data unavailable for a portfolio summary", { err: error });
    }
    return result;
  };

  const resolveSymbols = async (securityIds: string[]): Promise<Map<string, string>> => {
    const found = new Map<string, string>();
    await Promise.all(
      securityIds.slice(0, MAX_SYMBOL_LOOKUPS).map(async (securityId) => {
        try {
          const { instrument } = await marketData.getInstrument({ securityId, symbol: "" });
          if (instrument) found.set(securityId, instrument.symbol);
        } catch {
          // Unknown to market data: the security is reported without a price.
        }
      }),
    );
    await queries.rememberSymbols([...found].map(([securityId, symbol]) => ({ securityId, symbol })));
    return found;
  };

  const outputDir = path.resolve(config.allocationOutputDir);
  const limits = { deposit: dec(config.dailyDepositLimit), withdrawal: dec(config.dailyWithdrawalLimit) };
  const importFile = async (fileName: string) => {
    const content = await readTransactionCsv(path.join(outputDir, fileName));
    const result = await importTransactions(
      { postBatches: (batches) => postTransactionBatches(ledger, batches), now: () => Date.now(), concurrency: config.importConcurrency },
      content.rows,
    );
    return { ...result, totalRows: result.totalRows + content.failed.length, failedRows: [...content.failed, ...result.failedRows] };
  };

  const probe = () => db.probe();
  runtime.grpc.add(
    AccountingServiceDefinition,
    createAccountingService({
      withLedgerSession,
      reservationHolds: createReservationHolds(db.knex, db.schema, db.prepared),
      queries,
      limits,
      prices,
      resolveSymbols,
      now,
      newId: randomUUID,
      importConcurrency: config.importConcurrency,
      maxImportRows: config.maxImportRows,
    }),
    { probe },
  );
  runtime.grpc.add(
    AllocationServiceDefinition,
    createAllocationService({
      executions,
      now,
      send: {
        claimWindow: (at, staleBefore) => executions.claimWindow(at, staleBefore),
        completeWindow: (batchId) => executions.completeWindow(batchId),
        executionsInWindow: (start, end) => executions.executionsInWindow(start, end),
        writeFile: async (name, content) => {
          await mkdir(outputDir, { recursive: true });
          await writeFile(path.join(outputDir, name), content, "utf8");
        },
        deleteFile: (name) => rm(path.join(outputDir, name), { force: true }),
        importFile,
        now,
        cleanupFiles: config.allocationFileCleanup,
      },
    }),
    { probe },
  );

  const worker = await startPositionWorker({
    broker: runtime.broker,
    logger: logger.child({ component: "position-worker" }),
    postFills: (fills) => postFills({ withLedgerSession, now }, fills),
    prefetch: config.fillPrefetch,
    deliveryLimit: config.fillDeliveryLimit,
  });
  runtime.onStop(() => worker.close());
}

/** Runs the accounting service alone. */
export function start(env: NodeJS.ProcessEnv = process.env): Promise<RunningService> {
  return startServices([register], env);
}

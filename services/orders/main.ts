// The order service's composition root: the only place that reads config and builds things, wired by hand.
import * as path from "node:path";
import { AccountingServiceDefinition } from "../../generated/tradeplane/accounting/v1/accounting_service";
import { MarketDataServiceDefinition } from "../../generated/tradeplane/marketdata/v1/market_data_service";
import { OrderServiceDefinition } from "../../generated/tradeplane/orders/v1/order_service";
import { startOutboxRelay } from "../platform/outbox";
import { startServices, type RunningService, type Runtime } from "../platform/runtime";
import { createAccountingClient } from "./adapters/accounting-client";
import { createChangeSignal } from "./adapters/change-signal";
import { createDeadLetterDesk } from "./adapters/dead-letter-desk";
import { createPgIdempotencyKeys } from "./adapters/idempotency-keys";
import { createMarketDataClient } from "./adapters/market-data-client";
import { ORDER_WORK_QUEUES } from "./adapters/order-messages";
import { createPgOrderStore } from "./adapters/order-store";
import { loadOrdersConfig, orderRulesOf, retryDelaysOf } from "./config";
import type { ExecuteOrderDeps } from "./domain/execute-order";
import type { SubmitOrderDeps } from "./domain/submit-order";
import { createOrderService } from "./grpc/order-service";
import { startExecutionWorker } from "./workers/execution-worker";
import { startClaimReaper } from "./workers/claim-reaper";
import { startOrderSweeper, symbolsWithWorkingOrders } from "./workers/order-sweeper";
import { startQuoteWatcher } from "./workers/quote-watcher";
import { startReleaseWorker } from "./workers/release-worker";

/** Adds the order service, its outbox relay and its workers to a runtime. */
export async function register(runtime: Runtime): Promise<void> {
  const config = loadOrdersConfig(runtime.env);
  const rules = orderRulesOf(config);
  const logger = runtime.logger.child({ service: "orders" });
  const db = await runtime.openDatabase("orders", path.join(__dirname, "migrations"), config.poolMax);
  const { knex, schema } = db;

  const relay = startOutboxRelay({
    knex,
    schema,
    broker: runtime.broker,
    logger: logger.child({ component: "outbox-relay" }),
    batchSize: 100,
    pollIntervalMs: 200,
    publishTimeoutMs: 5_000,
    maxBackoffMs: 10_000,
  });
  runtime.onStop(() => relay.stop());

  const changes = createChangeSignal();
  const store = createPgOrderStore({
    knex,
    schema,
    prepared: db.prepared,
    relay,
    onCommitted: () => changes.notify(),
  });
  const keys = createPgIdempotencyKeys({ knex, schema, leaseMs: config.idempotencyLeaseMs, prepared: db.prepared });
  const marketDataClient = runtime.client(MarketDataServiceDefinition, "marketdata");
  const marketData = createMarketDataClient({ client: marketDataClient, instrumentTtlMs: config.instrumentTtlMs });
  const accounting = createAccountingClient(runtime.client(AccountingServiceDefinition, "accounting"));
  const clock = { now: () => new Date() };

  const submitDeps: SubmitOrderDeps = {
    marketData,
    accounting,
    keys,
    store,
    clock,
    rules,
    newOrderId: () => crypto.randomUUID(),
    sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
    inFlightWaitMs: config.inFlightWaitMs,
    inFlight: new Map(),
  };
  const executeDeps: ExecuteOrderDeps = { marketData, store, clock, rules };

  runtime.grpc.add(
    OrderServiceDefinition,
    createOrderService({
      submit: submitDeps,
      store,
      deadLetters: createDeadLetterDesk({
        admin: runtime.broker,
        knex,
        schema,
        queues: ORDER_WORK_QUEUES,
      }),
      changes,
      heartbeatMs: config.heartbeatMs,
      watchPollMs: config.watchPollMs,
    }),
    { probe: () => db.probe() },
  );

  const queueSettings = {
    prefetch: config.executePrefetch,
    deliveryLimit: config.deliveryLimit,
    retryDelaysMs: retryDelaysOf(config),
  };
  const execution = await startExecutionWorker({
    broker: runtime.broker,
    deps: executeDeps,
    settings: queueSettings,
    logger: logger.child({ component: "execution-worker" }),
  });
  runtime.onStop(() => execution.close());
  const release = await startReleaseWorker({ broker: runtime.broker, accounting, settings: queueSettings });
  runtime.onStop(() => release.close());

  const symbolsOfWorkingOrders = () => symbolsWithWorkingOrders(knex, schema);
  const stopSweeper = startOrderSweeper({
    knex,
    schema,
    deps: executeDeps,
    intervalMs: config.sweepIntervalMs,
    logger: logger.child({ component: "order-sweeper" }),
    symbolsOfWorkingOrders,
  });
  runtime.onStop(stopSweeper);
  const stopReaper = startClaimReaper({
    knex,
    schema,
    accounting,
    abandonAfterMs: config.abandonedClaimAfterMs,
    intervalMs: config.sweepIntervalMs,
    logger: logger.child({ component: "claim-reaper" }),
  });
  runtime.onStop(stopReaper);
  const stopWatcher = startQuoteWatcher({
    client: marketDataClient,
    knex,
    schema,
    deps: executeDeps,
    toQuote: marketData.toQuote,
    symbolsOfWorkingOrders,
    refreshMs: config.sweepIntervalMs,
    logger: logger.child({ component: "quote-watcher" }),
  });
  runtime.onStop(stopWatcher);
}

/** Runs the order service alone (its own gRPC port), e.g. against real backends given their URLs. */
export function start(env: NodeJS.ProcessEnv = process.env): Promise<RunningService> {
  return startServices([register], env);
}

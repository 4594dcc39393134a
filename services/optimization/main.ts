// The optimization service's composition root: the only place that reads config and builds things, wired by hand.
import { randomBytes } from "node:crypto";
import * as path from "node:path";
import { AccountingServiceDefinition } from "../../generated/tradeplane/accounting/v1/accounting_service";
import { MarketDataServiceDefinition } from "../../generated/tradeplane/marketdata/v1/market_data_service";
import { ModelServiceDefinition } from "../../generated/tradeplane/optimization/v1/model_service";
import { RebalanceServiceDefinition } from "../../generated/tradeplane/optimization/v1/rebalance_service";
import { OrderServiceDefinition } from "../../generated/tradeplane/orders/v1/order_service";
import { startServices, type RunningService, type Runtime } from "../platform/runtime";
import { createAccountingPortfolios } from "./adapters/accounting-portfolios";
import { createMarketData } from "./adapters/market-data";
import { createModelStore } from "./adapters/model-store";
import { createOrderSubmitter } from "./adapters/order-submitter";
import { createProposalStore } from "./adapters/proposal-store";
import { loadOptimizationConfig } from "./config";
import type { ExecuteDeps } from "./domain/execute-proposal";
import type { ModelDeps } from "./domain/manage-models";
import type { RebalanceDeps } from "./domain/rebalance-portfolio";
import { createModelService } from "./grpc/model-service";
import { createRebalanceService } from "./grpc/rebalance-service";
import { createSolverPool } from "./solver/solver-pool";

/** Ids of models, proposals and runs: 24 lower-case hex characters, as the contract (and GlobeCo) has them. */
const newHexId = () => randomBytes(12).toString("hex");

/** Adds ModelService and RebalanceService (and the solver's worker threads) to a runtime. */
export async function register(runtime: Runtime): Promise<void> {
  const config = loadOptimizationConfig(runtime.env);
  const logger = runtime.logger.child({ service: "optimization" });
  const db = await runtime.openDatabase("optimization", path.join(__dirname, "migrations"), config.poolMax);
  const models = createModelStore(db.knex, db.schema);
  const proposals = createProposalStore(db.knex, db.schema);
  const market = createMarketData(runtime.client(MarketDataServiceDefinition, "marketdata"), { instrumentTtlMs: config.instrumentTtlMs });
  const portfolios = createAccountingPortfolios(runtime.client(AccountingServiceDefinition, "accounting"));
  const orders = createOrderSubmitter(runtime.client(OrderServiceDefinition, "orders"), { pollMs: config.orderPollMs });
  const solver = createSolverPool(config.solverWorkers);
  runtime.onStop(() => solver.close());
  const now = () => new Date();

  const modelDeps: ModelDeps = { models, knownSecurities: market.knownSecurities, newModelId: newHexId, now };
  const rebalanceDeps: RebalanceDeps = { models, portfolios, market, solver, proposals, newId: newHexId, now };
  const executeDeps: ExecuteDeps = { proposals, orders, now };

  const probe = () => db.probe();
  runtime.grpc.add(ModelServiceDefinition, createModelService({ ...modelDeps, store: models }), { probe });
  runtime.grpc.add(
    RebalanceServiceDefinition,
    createRebalanceService({ rebalance: rebalanceDeps, execute: executeDeps, proposals, config, logger }),
    { probe },
  );
}

/** Runs the optimization service alone (its own gRPC port), e.g. against real backends given their URLs. */
export function start(env: NodeJS.ProcessEnv = process.env): Promise<RunningService> {
  return startServices([register], env);
}

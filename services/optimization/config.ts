// The optimization service's own settings, read once at start-up, validated together and frozen.
import { availableParallelism } from "node:os";
import { durationMs, int, loadConfig, str, type ConfigOf } from "../platform/config";

const DECIMAL = /^\d+(\.\d+)?$/;
const CORES = availableParallelism();

export const optimizationConfigSpec = {
  minCash: str({ env: "OPTIMIZATION_MIN_CASH", default: "0", pattern: DECIMAL, description: "default cash that must remain after a rebalance, portfolio currency" }),
  minTradeNotional: str({ env: "OPTIMIZATION_MIN_TRADE_NOTIONAL", default: "0", pattern: DECIMAL, description: "default smallest trade notional; smaller trades are not proposed (closing a position is exempt)" }),
  solverWorkers: int({ env: "OPTIMIZATION_SOLVER_WORKERS", default: CORES, min: 0, max: 64, description: "worker threads running the solver; 0 solves on the event loop" }),
  solverTimeLimitMs: durationMs({ env: "OPTIMIZATION_SOLVER_TIME_LIMIT", default: 2_000, description: "default time budget of the cash-binding branch and bound per portfolio" }),
  maxSolverTimeLimitMs: durationMs({ env: "OPTIMIZATION_MAX_SOLVER_TIME_LIMIT", default: 30_000, description: "largest solver_time_limit_ms a request may ask for" }),
  // Solving is bounded by the worker threads; more portfolios in flight than cores overlaps their reads and lets
  // the proposal store write them in groups.
  concurrency: int({ env: "OPTIMIZATION_CONCURRENCY", default: 8 * CORES, min: 1, max: 256, description: "portfolios RebalanceModel works on at once by default (reads and writes in flight; solves are bounded by the workers)" }),
  maxConcurrency: int({ env: "OPTIMIZATION_MAX_CONCURRENCY", default: 64, min: 1, max: 1024, description: "cap on a request's concurrency" }),
  maxWaitForSellsMs: durationMs({ env: "OPTIMIZATION_MAX_WAIT_FOR_SELLS", default: 30_000, description: "cap on ExecuteProposal's wait_for_sells_ms" }),
  orderPollMs: durationMs({ env: "OPTIMIZATION_ORDER_POLL", default: 200, description: "how often ExecuteProposal checks whether sells have filled" }),
  instrumentTtlMs: durationMs({ env: "OPTIMIZATION_INSTRUMENT_TTL", default: 30_000, description: "how long instrument facts (ticker, lot) are reused" }),
  poolMax: int({ env: "OPTIMIZATION_DB_POOL_MAX", default: 10, min: 1, max: 100, description: "database connections" }),
};

export type OptimizationConfig = ConfigOf<typeof optimizationConfigSpec>;

/** Reads the optimization keys from the environment (every problem reported at once). */
export function loadOptimizationConfig(env: NodeJS.ProcessEnv): OptimizationConfig {
  return loadConfig(optimizationConfigSpec, env);
}

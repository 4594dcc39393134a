// The order service's own settings, read once at start-up, validated together and frozen.
import Decimal from "decimal.js";
import { durationMs, int, loadConfig, str, type ConfigOf } from "../platform/config";
import type { OrderRules } from "./domain/order-rules";

const DECIMAL = /^\d+(\.\d+)?$/;

export const ordersConfigSpec = {
  priceBandFraction: str({ env: "ORDERS_PRICE_BAND_FRACTION", default: "0.10", pattern: DECIMAL, description: "limit/stop prices must be within market × (1 ± this)" }),
  maxOrderValue: str({ env: "ORDERS_MAX_ORDER_VALUE", default: "1000000", pattern: DECIMAL, description: "largest order value accepted, instrument currency" }),
  minOrderValue: str({ env: "ORDERS_MIN_ORDER_VALUE", default: "0", pattern: DECIMAL, description: "smallest order value accepted; 0 disables the check" }),
  priceMovedLimit: str({ env: "ORDERS_PRICE_MOVED_LIMIT", default: "0.05", pattern: DECIMAL, description: "market orders are rejected when the fill price moved more than this fraction since submission (Hub: 5%)" }),
  marketBuyBuffer: str({ env: "ORDERS_MARKET_BUY_BUFFER", default: "0.05", pattern: DECIMAL, description: "extra cash held for market and stop buys" }),
  cashScale: int({ env: "ORDERS_CASH_SCALE", default: 2, min: 0, max: 8, description: "decimal places of reserved cash" }),
  poolMax: int({ env: "ORDERS_DB_POOL_MAX", default: 10, min: 1, max: 100, description: "database connections" }),
  idempotencyLeaseMs: durationMs({ env: "ORDERS_IDEMPOTENCY_LEASE", default: 10_000, description: "how long a submit's key claim holds before a retry may take it over" }),
  inFlightWaitMs: durationMs({ env: "ORDERS_IN_FLIGHT_WAIT", default: 3_000, description: "how long a duplicate submit waits for the original before ABORTED" }),
  executePrefetch: int({ env: "ORDERS_EXECUTE_PREFETCH", default: 128, min: 1, max: 1000, description: "orders.execute deliveries one worker holds at once" }),
  deliveryLimit: int({ env: "ORDERS_DELIVERY_LIMIT", default: 5, min: 1, max: 100, description: "deliveries before a message is dead-lettered" }),
  retryDelaysMs: str({ env: "ORDERS_RETRY_DELAYS_MS", default: "200,1000,5000,15000", pattern: /^\d+(,\d+)*$/, description: "waits before retries 1, 2, ... (the last repeats)" }),
  heartbeatMs: durationMs({ env: "ORDERS_WATCH_HEARTBEAT", default: 5_000, description: "WatchOrderEvents heartbeat interval" }),
  watchPollMs: durationMs({ env: "ORDERS_WATCH_POLL", default: 200, description: "how often a watch stream looks for commits of other instances" }),
  abandonedClaimAfterMs: durationMs({ env: "ORDERS_ABANDONED_CLAIM_AFTER", default: 15 * 60_000, description: "how long after its lease a submit that never wrote its order counts as abandoned: its hold is released and its key freed" }),
  sweepIntervalMs: durationMs({ env: "ORDERS_SWEEP_INTERVAL", default: 1_000, description: "how often DAY expiries and stale working orders are checked" }),
  instrumentTtlMs: durationMs({ env: "ORDERS_INSTRUMENT_TTL", default: 5_000, description: "how long an instrument lookup is reused" }),
};

export type OrdersConfig = ConfigOf<typeof ordersConfigSpec>;

/** Reads the orders keys from the environment (every problem reported at once). */
export function loadOrdersConfig(env: NodeJS.ProcessEnv): OrdersConfig {
  return loadConfig(ordersConfigSpec, env);
}

/** The business rules the config describes. */
export function orderRulesOf(config: OrdersConfig): OrderRules {
  return Object.freeze({
    priceBandFraction: new Decimal(config.priceBandFraction),
    maxOrderValue: new Decimal(config.maxOrderValue),
    minOrderValue: new Decimal(config.minOrderValue),
    priceMovedLimit: new Decimal(config.priceMovedLimit),
    marketBuyBuffer: new Decimal(config.marketBuyBuffer),
    cashScale: config.cashScale,
  });
}

/** The retry delays as numbers. */
export function retryDelaysOf(config: OrdersConfig): number[] {
  return config.retryDelaysMs.split(",").map(Number);
}

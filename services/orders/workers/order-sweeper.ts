// The order sweeper: once per interval it expires DAY orders past their session close and re-evaluates working
// orders against the current market, so a resting order fills even if no quote stream reached this process (the
// quote watcher handles the low-latency path). Each order goes through executeOrder, whose version check makes a
// sweep racing the execution worker or a cancel harmless.
import type { Knex } from "knex";
import type { Logger } from "../../platform/logger";
import { startPeriodic, type Periodic } from "../../platform/periodic";
import { expiredOrderIds, workingOrderIds } from "../adapters/order-store";
import { executeOrder, type ExecuteOrderDeps } from "../domain/execute-order";

/** Orders looked at per sweep, so one sweep stays short. */
const SWEEP_BATCH = 500;

/** Starts the periodic sweep; returns its stop function. */
export function startOrderSweeper(options: {
  knex: Knex;
  schema: string;
  deps: ExecuteOrderDeps;
  intervalMs: number;
  logger: Logger;
  /** Symbols to re-evaluate; all working orders when it returns null. */
  symbolsOfWorkingOrders: () => Promise<string[]>;
}): () => Promise<void> {
  const { knex, schema, deps, logger } = options;

  async function sweep(periodic: Periodic): Promise<void> {
    const stopped = () => periodic.stopped();
    const expired = await expiredOrderIds(knex, schema, deps.clock.now(), SWEEP_BATCH);
    for (const orderId of expired) {
      if (stopped()) return;
      await executeOrder(deps, orderId).catch((error: unknown) =>
        logger.warn("sweep could not expire an order; the next sweep retries", { orderId, err: error }),
      );
    }
    // Working orders, one market lookup per symbol.
    for (const symbol of await options.symbolsOfWorkingOrders()) {
      if (stopped()) return;
      try {
        const market = await deps.marketData.snapshot({ symbol });
        if (market === null) continue;
        for (const orderId of await workingOrderIds(knex, schema, [symbol], SWEEP_BATCH)) {
          if (stopped()) return;
          await executeOrder(deps, orderId, market);
        }
      } catch (error) {
        logger.warn("sweep could not re-evaluate working orders; the next sweep retries", { symbol, err: error });
      }
    }
  }

  const periodic = startPeriodic({
    intervalMs: options.intervalMs,
    round: sweep,
    onError: (error) => logger.warn("order sweep failed", { err: error }),
  });
  return () => periodic.stop();
}

/** Distinct symbols with working orders (NEW or PARTIALLY_FILLED). */
export async function symbolsWithWorkingOrders(knex: Knex, schema: string): Promise<string[]> {
  const result = await knex.raw<{ rows: { symbol: string }[] }>(
    "select distinct symbol from ?? where status in ('NEW', 'PARTIALLY_FILLED')",
    [`${schema}.orders`],
  );
  return result.rows.map((row) => row.symbol);
}

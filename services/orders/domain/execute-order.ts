import type { Order, OrderEvent } from "./order";
import { OrderError } from "./order-error";
import type { OrderRules } from "./order-rules";
import { transitionAll } from "./order-state-machine";
import { instrumentSession, type MarketSnapshot } from "./market-snapshot";
import { planExecution } from "./plan-execution";
import type { Clock, MarketDataPort, OrderStore } from "./ports";

/** What executeOrder needs. */
export interface ExecuteOrderDeps {
  marketData: MarketDataPort;
  store: OrderStore;
  clock: Clock;
  rules: OrderRules;
}

/** The order after this execution attempt and the events it wrote (empty when nothing changed). */
export interface ExecuteOrderResult {
  order: Order;
  events: OrderEvent[];
}

const MAX_ATTEMPTS = 5;

/**
 * Executes one order against the current market: the execution worker calls it for every `orders.execute`
 * message, and the quote watcher for resting orders when their symbol ticks. Safe to run twice for the same
 * message: a terminal order is left alone, and the write only succeeds if the order is still at the version the
 * plan was made from (a concurrent cancel or fill makes us re-read and re-plan).
 * `market` may be passed when the caller already holds the snapshot (the quote watcher with a streamed tick, the
 * sweeper with one lookup per symbol); otherwise it is looked up.
 */
export async function executeOrder(
  deps: ExecuteOrderDeps,
  orderId: string,
  known?: MarketSnapshot,
): Promise<ExecuteOrderResult> {
  for (let attempt = 1; ; attempt++) {
    const order = await deps.store.find(orderId);
    if (order === null) throw new OrderError("ORDER_NOT_FOUND", "order not found", [], { orderId });
    // A snapshot handed in is used on the first attempt only: after a conflict the market is looked up again.
    const market = known !== undefined && attempt === 1 ? known : await deps.marketData.snapshot({ symbol: order.symbol });
    if (market === null) {
      throw new OrderError("DEPENDENCY_UNAVAILABLE", `market data has no snapshot for ${order.symbol}`, [], { orderId });
    }
    const now = deps.clock.now();
    const plan = planExecution(order, {
      quote: market.quote,
      tradable: market.instrument.tradable,
      sessionOpen: instrumentSession(market.instrument, now).open,
      now,
      rules: deps.rules,
    });
    if (plan.steps.length === 0) {
      if (plan.rememberStopTrigger) await deps.store.markStopTriggered(order.id, order.version);
      return { order, events: [] };
    }
    const { order: next, events } = transitionAll(order, plan.steps);
    const written = await deps.store.transition(order.version, next, events);
    if (written !== null) return { order: next, events: written };
    if (attempt >= MAX_ATTEMPTS) {
      throw new OrderError("DEPENDENCY_UNAVAILABLE", "the order kept changing while executing it", [], { orderId });
    }
  }
}

import { mayActOn, orderNotFound } from "./authorize-portfolio";
import { OrderError } from "./order-error";
import type { Order } from "./order";
import { CANCELLABLE_STATUSES, transition } from "./order-state-machine";
import type { Caller, Clock, OrderStore } from "./ports";

/** What cancelOrder needs. */
export interface CancelOrderDeps {
  store: OrderStore;
  clock: Clock;
}

/** How often a cancel re-reads the order when an execution moved it at the same moment. */
const MAX_ATTEMPTS = 5;

/**
 * CancelOrder: PENDING_NEW, NEW and PARTIALLY_FILLED orders move to CANCELED (USER_REQUESTED); anything else is
 * ORDER_NOT_CANCELLABLE. The event's outbox row releases what is left of the reservation (a terminal event without
 * a closing fill always does). Cancelling an already cancelled order returns it unchanged, so a retried cancel is
 * safe. Unlike Hub there is no 30 s "processing" window: fills and cancels race on the order version instead.
 */
export async function cancelOrder(deps: CancelOrderDeps, caller: Caller, orderId: string): Promise<Order> {
  for (let attempt = 1; ; attempt++) {
    const order = await deps.store.find(orderId);
    if (order === null || !mayActOn(caller, order.portfolioId)) throw orderNotFound(orderId);
    if (order.status === "CANCELED" && order.lastReason === "USER_REQUESTED") return order;
    if (!CANCELLABLE_STATUSES.includes(order.status)) {
      throw new OrderError("ORDER_NOT_CANCELLABLE", `order in status '${order.status}' cannot be cancelled`, [], {
        orderId,
        status: order.status,
      });
    }
    const step = transition(order, { to: "CANCELED", reason: "USER_REQUESTED", at: deps.clock.now() });
    const written = await deps.store.transition(order.version, step.order, [step.event]);
    if (written !== null) return step.order;
    if (attempt >= MAX_ATTEMPTS) {
      throw new OrderError("DEPENDENCY_UNAVAILABLE", "the order kept changing while cancelling it; retry", [], { orderId });
    }
  }
}

import { createHash } from "node:crypto";
import Decimal from "decimal.js";
import { OrderError } from "./order-error";
import type { Order, OrderEvent, OrderFill, OrderReason, OrderStatus } from "./order";

/**
 * The published transition table (the same as in orders.proto). An order that fills or leaves at once goes
 * straight from PENDING_NEW to its outcome; one that has to wait for the market becomes NEW (working) first.
 * PARTIALLY_FILLED → PARTIALLY_FILLED is a further partial fill.
 */
export const ORDER_TRANSITIONS: Readonly<Record<OrderStatus, readonly OrderStatus[]>> = {
  PENDING_NEW: ["NEW", "PARTIALLY_FILLED", "FILLED", "CANCELED", "REJECTED", "EXPIRED"],
  NEW: ["PARTIALLY_FILLED", "FILLED", "CANCELED", "EXPIRED"],
  PARTIALLY_FILLED: ["PARTIALLY_FILLED", "FILLED", "CANCELED", "EXPIRED"],
  FILLED: [],
  CANCELED: [],
  REJECTED: [],
  EXPIRED: [],
};

/** Statuses a user may cancel from. */
export const CANCELLABLE_STATUSES: readonly OrderStatus[] = ["PENDING_NEW", "NEW", "PARTIALLY_FILLED"];

/** True when no transition leaves the status. */
export function isTerminal(status: OrderStatus): boolean {
  return ORDER_TRANSITIONS[status].length === 0;
}

/** True when the table allows `from → to`. */
export function canTransition(from: OrderStatus, to: OrderStatus): boolean {
  return ORDER_TRANSITIONS[from].includes(to);
}

/** The order after a transition and the event that records it. */
export interface Transitioned {
  order: Order;
  event: OrderEvent;
}

/** One requested transition, optionally recording a fill. */
export interface TransitionInput {
  to: OrderStatus;
  reason: OrderReason;
  at: Date;
  /** A fill to record; its quantity and amount are added to the order's filled totals. */
  fill?: { quantity: Decimal; price: Decimal };
  /** Marks a STOP / STOP_LIMIT order as triggered (kept for good). */
  stopTriggered?: boolean;
}

/**
 * Applies one transition, bumping the version and producing the event (seq 0: the store assigns it).
 * Throws INVALID_TRANSITION for anything the table does not allow, so a stale or duplicated command can never
 * move an order backwards. Fills must be positive and never exceed the ordered quantity.
 */
export function transition(order: Order, input: TransitionInput): Transitioned {
  if (!canTransition(order.status, input.to)) {
    throw new OrderError("INVALID_TRANSITION", `order ${order.id} cannot move from ${order.status} to ${input.to}`, [], {
      orderId: order.id,
      from: order.status,
      to: input.to,
    });
  }
  const version = order.version + 1;
  let fill: OrderFill | null = null;
  let filledQuantity = order.filledQuantity;
  let filledAmount = order.filledAmount;
  if (input.fill) {
    const amount = input.fill.quantity.times(input.fill.price);
    filledQuantity = filledQuantity.plus(input.fill.quantity);
    filledAmount = filledAmount.plus(amount);
    const overfilled = order.quantity !== null && filledQuantity.gt(order.quantity);
    const overspent = order.notional !== null && filledAmount.gt(order.notional);
    if (!input.fill.quantity.gt(0) || !input.fill.price.gt(0) || overfilled || overspent) {
      throw new OrderError("INVALID_TRANSITION", `fill of ${input.fill.quantity.toFixed()} does not fit order ${order.id}`);
    }
    fill = {
      fillId: fillIdOf(order.id, version),
      orderId: order.id,
      portfolioId: order.portfolioId,
      symbol: order.symbol,
      securityId: order.securityId,
      side: order.side,
      quantity: input.fill.quantity,
      price: input.fill.price,
      amount,
      currency: order.currency,
      reservationId: order.id,
      executedAt: input.at,
    };
  }
  const next: Order = {
    ...order,
    status: input.to,
    version,
    filledQuantity,
    filledAmount,
    stopTriggered: order.stopTriggered || input.stopTriggered === true,
    lastReason: input.reason,
    updatedAt: input.at,
    doneAt: isTerminal(input.to) ? input.at : null,
  };
  const event: OrderEvent = {
    seq: 0,
    orderId: order.id,
    portfolioId: order.portfolioId,
    orderVersion: version,
    fromStatus: order.status,
    toStatus: input.to,
    reason: input.reason,
    fill,
    filledQuantityAfter: filledQuantity,
    filledAmountAfter: filledAmount,
    occurredAt: input.at,
  };
  return { order: next, event };
}

/** Applies transitions in order, returning the final order and every event. */
export function transitionAll(
  order: Order,
  inputs: readonly TransitionInput[],
): { order: Order; events: OrderEvent[] } {
  const events: OrderEvent[] = [];
  let current = order;
  for (const input of inputs) {
    const step = transition(current, input);
    current = step.order;
    events.push(step.event);
  }
  return { order: current, events };
}

/**
 * The fill id: a name-based UUID (version 5 layout over sha-1) of "orderId:version". A redelivered execution
 * message that recomputes the same fill gets the same id, so accounting posts it once.
 */
export function fillIdOf(orderId: string, orderVersion: number): string {
  const hash = createHash("sha1").update(`tradeplane.fill:${orderId}:${orderVersion}`).digest();
  hash[6] = (hash[6] & 0x0f) | 0x50;
  hash[8] = (hash[8] & 0x3f) | 0x80;
  const hex = hash.subarray(0, 16).toString("hex");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** The kind of an event, as published: derived from its transition. */
export type OrderEventType = "CREATED" | "ACCEPTED" | "FILLED" | "CANCELED" | "REJECTED" | "EXPIRED";

/** Derives the event type from the transition it records. */
export function eventTypeOf(event: OrderEvent): OrderEventType {
  if (event.fromStatus === null) return "CREATED";
  if (event.fill !== null) return "FILLED";
  switch (event.toStatus) {
    case "CANCELED":
    case "REJECTED":
    case "EXPIRED":
      return event.toStatus;
    case "FILLED":
      // A notional order whose remaining cash cannot buy another lot ends FILLED without a fill of its own.
      return "FILLED";
    default:
      return "ACCEPTED";
  }
}

import Decimal from "decimal.js";
import { OrderError } from "./order-error";
import type { Order, OrderEvent, OrderFill, OrderReason, OrderStatus } from "./order";

/**
 * The published transition table. Every order walks PENDING_NEW → NEW → (PARTIALLY_FILLED)* → FILLED on the
 * happy path; an order always passes through NEW before any fill so that consumers of the event log see one
 * shape of history. PARTIALLY_FILLED → PARTIALLY_FILLED is a further partial fill.
 */
export const ORDER_TRANSITIONS: Readonly<Record<OrderStatus, readonly OrderStatus[]>> = {
  PENDING_NEW: ["NEW", "REJECTED", "CANCELED"],
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

/** Options of a transition: the fill it records, if any. */
export interface TransitionInput {
  to: OrderStatus;
  reason: OrderReason;
  at: Date;
  /** A fill to record; its quantity and amount are added to the order's filled totals. */
  fill?: { quantity: Decimal; price: Decimal; closesReservation: boolean };
  /** Marks a STOP / STOP_LIMIT order as triggered (kept for good). */
  stopTriggered?: boolean;
}

/**
 * Applies one transition, bumping the version and producing the event (seq 0: the store assigns it).
 * Throws INVALID_TRANSITION for anything the table does not allow, so a stale or duplicated command can never
 * move an order backwards.
 */
export function transition(order: Order, input: TransitionInput): Transitioned {
  if (!canTransition(order.status, input.to)) {
    throw new OrderError(
      "INVALID_TRANSITION",
      `order ${order.id} cannot move from ${order.status} to ${input.to}`,
      [],
      { orderId: order.id, from: order.status, to: input.to },
    );
  }
  const version = order.version + 1;
  let fill: OrderFill | null = null;
  let filledQuantity = order.filledQuantity;
  let filledAmount = order.filledAmount;
  if (input.fill) {
    const amount = input.fill.quantity.times(input.fill.price);
    fill = {
      fillId: `${order.id}:${version}`,
      orderId: order.id,
      portfolioId: order.portfolioId,
      symbol: order.symbol,
      side: order.side,
      quantity: input.fill.quantity,
      price: input.fill.price,
      amount,
      currency: order.currency,
      reservationId: order.reservation.id,
      closesReservation: input.fill.closesReservation,
      executedAt: input.at,
    };
    filledQuantity = filledQuantity.plus(input.fill.quantity);
    filledAmount = filledAmount.plus(amount);
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
    occurredAt: input.at,
  };
  return { order: next, event };
}

/** Applies transitions in order, returning the final order and every event. */
export function transitionAll(order: Order, inputs: readonly TransitionInput[]): { order: Order; events: OrderEvent[] } {
  const events: OrderEvent[] = [];
  let current = order;
  for (const input of inputs) {
    const step = transition(current, input);
    current = step.order;
    events.push(step.event);
  }
  return { order: current, events };
}

import Decimal from "decimal.js";

/** Buy or sell. */
export type OrderSide = "BUY" | "SELL";
/** How the order is priced: at the market, at a limit, triggered at a stop, or triggered then limited. */
export type OrderType = "MARKET" | "LIMIT" | "STOP" | "STOP_LIMIT";
/** How long an order works: the trading day, until cancelled, immediate-or-cancel, fill-or-kill. */
export type TimeInForce = "DAY" | "GTC" | "IOC" | "FOK";
/** The published order states; see order-state-machine.ts for the transition table. */
export type OrderStatus =
  | "PENDING_NEW"
  | "NEW"
  | "PARTIALLY_FILLED"
  | "FILLED"
  | "CANCELED"
  | "REJECTED"
  | "EXPIRED";

export const ORDER_SIDES: readonly OrderSide[] = ["BUY", "SELL"];
export const ORDER_TYPES: readonly OrderType[] = ["MARKET", "LIMIT", "STOP", "STOP_LIMIT"];
export const TIMES_IN_FORCE: readonly TimeInForce[] = ["DAY", "GTC", "IOC", "FOK"];
export const ORDER_STATUSES: readonly OrderStatus[] = [
  "PENDING_NEW",
  "NEW",
  "PARTIALLY_FILLED",
  "FILLED",
  "CANCELED",
  "REJECTED",
  "EXPIRED",
];

/**
 * Why a transition happened. Stable codes: clients and the event log match on them.
 * SUBMITTED/ACCEPTED/FILL/PARTIAL_FILL are the happy path; the rest explain an exit.
 */
export type OrderReason =
  | "SUBMITTED"
  | "ACCEPTED"
  | "PARTIAL_FILL"
  | "FILL"
  | "USER_REQUESTED"
  | "PRICE_MOVED"
  | "MARKET_CLOSED"
  | "SYMBOL_NOT_TRADABLE"
  | "IOC_REMAINDER_CANCELED"
  | "FOK_NOT_FILLABLE"
  | "DAY_EXPIRED"
  | "NOTIONAL_EXHAUSTED";

/** What an order reserved in accounting: cash for buys, the security for sells. */
export interface Reservation {
  /** Id of the hold in accounting; equal to the order id so a retried reserve is a no-op. */
  id: string;
  /** "CASH" or the symbol whose quantity is held. */
  asset: "CASH" | "SECURITY";
  /** Currency amount for CASH, security quantity for SECURITY. */
  amount: Decimal;
}

/** The order aggregate as stored. Prices and quantities are Decimal; nothing here is a JS number. */
export interface Order {
  id: string;
  portfolioId: string;
  /** Upper-cased instrument symbol. */
  symbol: string;
  side: OrderSide;
  type: OrderType;
  timeInForce: TimeInForce;
  /** Units to trade; null for notional market buys. */
  quantity: Decimal | null;
  /** Cash to spend for a notional market buy; null otherwise. */
  notional: Decimal | null;
  limitPrice: Decimal | null;
  stopPrice: Decimal | null;
  status: OrderStatus;
  /** Starts at 1 with PENDING_NEW and grows by one per event. */
  version: number;
  filledQuantity: Decimal;
  /** Sum of quantity × price over all fills, in the instrument currency. */
  filledAmount: Decimal;
  /** True once a STOP / STOP_LIMIT order's trigger was hit; it then behaves as MARKET / LIMIT for good. */
  stopTriggered: boolean;
  /** Side-relevant price seen at submission (ask for buys, bid for sells): the base of the price-moved check. */
  marketPriceAtSubmission: Decimal;
  /** Lot size of the instrument at submission; fills are rounded down to it. */
  lotSize: Decimal;
  currency: string;
  reservation: Reservation;
  /** When a DAY order expires (the session close); null for GTC. */
  expiresAt: Date | null;
  idempotencyKey: string;
  clientTag: string;
  /** Reason code of the latest transition. */
  lastReason: OrderReason;
  createdAt: Date;
  updatedAt: Date;
}

/** One execution against the market; the fill event accounting's position worker consumes is built from it. */
export interface OrderFill {
  /** `${orderId}:${orderVersion}`: stable across redeliveries, so applying it twice is detectable. */
  fillId: string;
  orderId: string;
  portfolioId: string;
  symbol: string;
  side: OrderSide;
  quantity: Decimal;
  price: Decimal;
  /** quantity × price, unrounded. */
  amount: Decimal;
  currency: string;
  reservationId: string;
  /** True on the order's last fill, or when it leaves the book: accounting releases what is left of the hold. */
  closesReservation: boolean;
  executedAt: Date;
}

/** One transition of the state machine, as appended to the per-portfolio event log. */
export interface OrderEvent {
  /** Per-portfolio, contiguous, assigned by the store when the event is appended; 0 before that. */
  seq: number;
  orderId: string;
  portfolioId: string;
  orderVersion: number;
  fromStatus: OrderStatus | null;
  toStatus: OrderStatus;
  reason: OrderReason;
  fill: OrderFill | null;
  occurredAt: Date;
}

/** Quantity still to fill; null for notional orders, whose remainder is cash. */
export function remainingQuantity(order: Order): Decimal | null {
  return order.quantity === null ? null : order.quantity.minus(order.filledQuantity);
}

/** Cash still to spend on a notional order; null for quantity orders. */
export function remainingNotional(order: Order): Decimal | null {
  return order.notional === null ? null : order.notional.minus(order.filledAmount);
}

/** Volume-weighted average fill price, or null before the first fill. */
export function averageFillPrice(order: Order): Decimal | null {
  if (order.filledQuantity.isZero()) return null;
  return order.filledAmount.div(order.filledQuantity);
}

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
 * SUBMITTED, RESTING, MARKETABLE and PARTIAL_LIQUIDITY are the working path; the rest explain an exit.
 */
export type OrderReason =
  | "SUBMITTED"
  | "RESTING"
  | "MARKETABLE"
  | "PARTIAL_LIQUIDITY"
  | "USER_REQUESTED"
  | "PRICE_MOVED"
  | "MARKET_CLOSED"
  | "INSTRUMENT_NOT_TRADABLE"
  | "IOC_REMAINDER"
  | "FOK_NOT_FILLED"
  | "SESSION_CLOSED"
  | "NOTIONAL_EXHAUSTED";

/** Human-readable detail of each reason code, as published with events and orders. */
export const REASON_MESSAGES: Readonly<Record<OrderReason, string>> = {
  SUBMITTED: "order accepted and waiting for execution",
  RESTING: "order is working and waits for a marketable quote",
  MARKETABLE: "filled at the quote",
  PARTIAL_LIQUIDITY: "partially filled: the quote size was smaller than the order",
  USER_REQUESTED: "canceled at the owner's request",
  PRICE_MOVED: "the market price moved beyond the allowed limit since submission",
  MARKET_CLOSED: "the market is closed for this instrument",
  INSTRUMENT_NOT_TRADABLE: "the instrument is not tradable",
  IOC_REMAINDER: "immediate-or-cancel: the unfilled remainder was canceled",
  FOK_NOT_FILLED: "fill-or-kill: the order could not be filled completely at once",
  SESSION_CLOSED: "day order expired at the session close",
  NOTIONAL_EXHAUSTED: "the remaining notional cannot buy one more lot",
};

/** What an order reserved in accounting: cash for buys, the security for sells. */
export interface Reservation {
  /** Accounting's id of the hold. Accounting keys holds by order id, so a retried reserve returns the same one. */
  id: string;
  /** Cash, or the order's security. */
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
  /** The instrument's 24-character security id (what accounting keys balances by). */
  securityId: string;
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
  /** Market price (last, else mid) seen at submission: the base of the price-moved check. */
  marketPriceAtSubmission: Decimal;
  /** Lot size of the instrument at submission; fills are rounded down to it. */
  lotSize: Decimal;
  currency: string;
  reservation: Reservation;
  /** When a DAY order expires (the session close); null for GTC. */
  expiresAt: Date | null;
  idempotencyKey: string;
  /** Reason code of the latest transition. */
  lastReason: OrderReason;
  createdAt: Date;
  updatedAt: Date;
  /** When the order reached a terminal status; null while working. */
  doneAt: Date | null;
}

/** One execution against the market; the fill event accounting's position worker consumes is built from it. */
export interface OrderFill {
  /** A UUID derived from (order id, order version): the same on every redelivery, so it posts once downstream. */
  fillId: string;
  orderId: string;
  portfolioId: string;
  symbol: string;
  securityId: string;
  side: OrderSide;
  quantity: Decimal;
  price: Decimal;
  /** quantity × price, unrounded. */
  amount: Decimal;
  currency: string;
  /** The hold this fill consumes, named the way accounting's fill event names it: by the order id. */
  reservationId: string;
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
  /** The order's filled totals right after this event (what the event log replays the order's progress from). */
  filledQuantityAfter: Decimal;
  filledAmountAfter: Decimal;
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

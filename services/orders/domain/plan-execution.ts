import Decimal from "decimal.js";
import type { Order, OrderReason } from "./order";
import type { OrderRules } from "./order-rules";
import type { TransitionInput } from "./order-state-machine";
import { isTerminal } from "./order-state-machine";
import { sidePrice, sideSize, type QuoteInfo } from "./market-snapshot";

/** What the execution rules see when they look at one order. */
export interface ExecutionContext {
  quote: QuoteInfo;
  /** Session open for this instrument now (crypto: always true). */
  sessionOpen: boolean;
  now: Date;
  rules: OrderRules;
}

/** The transitions to apply, in order, and whether a stop trigger must be remembered without a transition. */
export interface ExecutionPlan {
  steps: TransitionInput[];
  /** True when a STOP_LIMIT triggered but could not fill yet: the trigger is stored so it holds if prices revert. */
  rememberStopTrigger: boolean;
}

const NOTHING: ExecutionPlan = Object.freeze({ steps: [], rememberStopTrigger: false }) as ExecutionPlan;

/**
 * Execution rules as a pure function of the order and the current quote:
 * - DAY orders past their expiry (the session close) expire;
 * - with the session closed, market and IOC/FOK orders are rejected, resting orders wait;
 * - market orders (and triggered stops) fill at the ask (buy) / bid (sell), unless the price moved more than
 *   `priceMovedLimit` from the submission price (the stop price for stops): then rejected, or cancelled once working;
 * - limit orders (and triggered stop-limits) fill at the touch when it is at or better than the limit, else rest;
 * - a fill takes at most the quote size at the touch, rounded down to the lot size: the rest waits for more quotes;
 * - IOC cancels whatever is left after the immediate fill, FOK fills completely at once or is cancelled.
 * A PENDING_NEW order is first accepted (NEW) before it fills, expires or is cancelled.
 */
export function planExecution(order: Order, ctx: ExecutionContext): ExecutionPlan {
  if (isTerminal(order.status)) return NOTHING;
  const steps: TransitionInput[] = [];
  const at = ctx.now;
  const accept = (): void => {
    if (order.status === "PENDING_NEW" && steps.length === 0) steps.push({ to: "NEW", reason: "ACCEPTED", at });
  };
  const exit = (to: "CANCELED" | "EXPIRED", reason: OrderReason): ExecutionPlan => {
    accept();
    steps.push({ to, reason, at });
    return { steps, rememberStopTrigger: false };
  };
  const reject = (reason: OrderReason): ExecutionPlan => {
    if (order.status === "PENDING_NEW") return { steps: [{ to: "REJECTED", reason, at }], rememberStopTrigger: false };
    return exit("CANCELED", reason);
  };
  const immediate = order.timeInForce === "IOC" || order.timeInForce === "FOK";
  const restOrCancel = (stopJustTriggered: boolean): ExecutionPlan => {
    if (order.timeInForce === "IOC") return exit("CANCELED", "IOC_REMAINDER_CANCELED");
    if (order.timeInForce === "FOK") return exit("CANCELED", "FOK_NOT_FILLABLE");
    accept();
    if (steps.length > 0 && stopJustTriggered) steps[0] = { ...steps[0], stopTriggered: true };
    return { steps, rememberStopTrigger: stopJustTriggered && steps.length === 0 };
  };

  if (order.timeInForce === "DAY" && order.expiresAt !== null && at.getTime() >= order.expiresAt.getTime()) {
    return exit("EXPIRED", "DAY_EXPIRED");
  }
  if (!ctx.sessionOpen) {
    if (order.type === "MARKET" || immediate) return reject("MARKET_CLOSED");
    return restOrCancel(false);
  }

  const side = order.side;
  const touch = sidePrice(ctx.quote, side);
  if (!touch.gt(0)) return restOrCancel(false);

  let stopJustTriggered = false;
  if ((order.type === "STOP" || order.type === "STOP_LIMIT") && !order.stopTriggered) {
    const stop = order.stopPrice as Decimal;
    const triggered = side === "BUY" ? touch.gte(stop) : touch.lte(stop);
    if (!triggered) return restOrCancel(false);
    stopJustTriggered = true;
  }

  const actsAsMarket = order.type === "MARKET" || order.type === "STOP";
  if (actsAsMarket) {
    const base = order.type === "MARKET" ? order.marketPriceAtSubmission : (order.stopPrice as Decimal);
    if (touch.minus(base).abs().div(base).gt(ctx.rules.priceMovedLimit)) return reject("PRICE_MOVED");
  } else {
    const limit = order.limitPrice as Decimal;
    const marketable = side === "BUY" ? touch.lte(limit) : touch.gte(limit);
    if (!marketable) return restOrCancel(stopJustTriggered);
  }

  const sizing = fillSize(order, touch, sideSize(ctx.quote, side));
  if (sizing === null) {
    // Notional too small to buy one lot at this price.
    if (order.filledQuantity.isZero()) return reject("NOTIONAL_EXHAUSTED");
    accept();
    steps.push({ to: "FILLED", reason: "NOTIONAL_EXHAUSTED", at });
    return { steps, rememberStopTrigger: false };
  }
  if (sizing.quantity.isZero() || (order.timeInForce === "FOK" && !sizing.completes)) {
    return restOrCancel(stopJustTriggered);
  }

  accept();
  const fill = { quantity: sizing.quantity, price: touch, closesReservation: sizing.completes };
  steps.push(
    sizing.completes
      ? { to: "FILLED", reason: "FILL", at, fill, stopTriggered: stopJustTriggered || undefined }
      : { to: "PARTIALLY_FILLED", reason: "PARTIAL_FILL", at, fill, stopTriggered: stopJustTriggered || undefined },
  );
  if (!sizing.completes && order.timeInForce === "IOC") {
    steps.push({ to: "CANCELED", reason: "IOC_REMAINDER_CANCELED", at });
  }
  return { steps, rememberStopTrigger: false };
}

/** Quantity to fill now and whether that completes the order; null when a notional order cannot buy one lot. */
function fillSize(
  order: Order,
  price: Decimal,
  available: Decimal | null,
): { quantity: Decimal; completes: boolean } | null {
  const wanted =
    order.notional !== null
      ? roundDownToLot(order.notional.minus(order.filledAmount).div(price), order.lotSize)
      : (order.quantity as Decimal).minus(order.filledQuantity);
  if (order.notional !== null && wanted.isZero()) return null;
  if (available === null || available.gte(wanted)) return { quantity: wanted, completes: true };
  return { quantity: roundDownToLot(available, order.lotSize), completes: false };
}

/** Largest multiple of the lot size not above the value (ROUND_DOWN: a fill never exceeds what is available). */
export function roundDownToLot(value: Decimal, lotSize: Decimal): Decimal {
  if (!lotSize.gt(0)) return value;
  return value.div(lotSize).toDecimalPlaces(0, Decimal.ROUND_DOWN).times(lotSize);
}

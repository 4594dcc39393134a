import Decimal from "decimal.js";
import type { Order, OrderReason } from "./order";
import type { OrderRules } from "./order-rules";
import { isTerminal, type TransitionInput } from "./order-state-machine";
import { referencePrice, sidePrice, sideSize, type QuoteInfo } from "./market-snapshot";

/** What the execution rules see when they look at one order. */
export interface ExecutionContext {
  quote: QuoteInfo;
  /** False while the instrument is halted or delisted. */
  tradable: boolean;
  /** Session open for this instrument now (crypto: always). */
  sessionOpen: boolean;
  now: Date;
  rules: OrderRules;
}

/** The transitions to apply, in order, and whether a stop trigger must be remembered without a transition. */
export interface ExecutionPlan {
  steps: TransitionInput[];
  /** True when a working STOP_LIMIT triggered but cannot fill yet: the trigger is stored so it holds if the price
   * comes back. */
  rememberStopTrigger: boolean;
}

/**
 * Execution rules as a pure function of the order and the current quote:
 * - a DAY order at or past its expiry (the session close) expires (SESSION_CLOSED);
 * - a new order for a halted instrument is rejected; with the session closed, new market and IOC/FOK orders are
 *   rejected (MARKET_CLOSED) and limit/stop orders wait;
 * - market orders (and triggered stops) fill at the ask (buy) / bid (sell), unless that price moved more than
 *   `priceMovedLimit` from the market price at submission (the stop price for stops): then REJECTED, or CANCELED
 *   once partly filled (PRICE_MOVED);
 * - stops trigger on the market price (buy: last ≥ stop, sell: last ≤ stop);
 * - limit orders (and triggered stop-limits) fill at the touch when it is at or better than the limit, else rest;
 * - a fill takes at most the quote size at the touch, rounded down to the lot size; the rest waits for quotes;
 * - IOC cancels what is left after the immediate fill (IOC_REMAINDER); FOK fills completely at once or expires
 *   (FOK_NOT_FILLED).
 * An order that has to wait moves PENDING_NEW → NEW (RESTING); one that fills or leaves at once goes straight to
 * its outcome.
 */
export function planExecution(order: Order, ctx: ExecutionContext): ExecutionPlan {
  const at = ctx.now;
  const plan = (...steps: TransitionInput[]): ExecutionPlan => ({ steps, rememberStopTrigger: false });
  if (isTerminal(order.status)) return plan();

  const isNew = order.status === "PENDING_NEW";
  const leave = (reason: OrderReason): ExecutionPlan =>
    plan({ to: isNew ? "REJECTED" : "CANCELED", reason, at });
  const cannotFillNow = (stopJustTriggered: boolean): ExecutionPlan => {
    if (order.timeInForce === "IOC") return plan({ to: "CANCELED", reason: "IOC_REMAINDER", at });
    if (order.timeInForce === "FOK") return plan({ to: "EXPIRED", reason: "FOK_NOT_FILLED", at });
    if (isNew) return plan({ to: "NEW", reason: "RESTING", at, stopTriggered: stopJustTriggered || undefined });
    return { steps: [], rememberStopTrigger: stopJustTriggered };
  };

  if (order.timeInForce === "DAY" && order.expiresAt !== null && at.getTime() >= order.expiresAt.getTime()) {
    return plan({ to: "EXPIRED", reason: "SESSION_CLOSED", at });
  }
  const immediate = order.type === "MARKET" || order.timeInForce === "IOC" || order.timeInForce === "FOK";
  if (!ctx.tradable) return isNew ? leave("INSTRUMENT_NOT_TRADABLE") : plan();
  if (!ctx.sessionOpen) return isNew && immediate ? leave("MARKET_CLOSED") : cannotFillNow(false);

  const touch = sidePrice(ctx.quote, order.side);
  if (!touch.gt(0)) return cannotFillNow(false);

  let stopJustTriggered = false;
  if ((order.type === "STOP" || order.type === "STOP_LIMIT") && !order.stopTriggered) {
    const stop = order.stopPrice as Decimal;
    const last = referencePrice(ctx.quote);
    const triggered = order.side === "BUY" ? last.gte(stop) : last.lte(stop);
    if (!triggered) return cannotFillNow(false);
    stopJustTriggered = true;
  }

  if (order.type === "MARKET" || order.type === "STOP") {
    const base = order.type === "MARKET" ? order.marketPriceAtSubmission : (order.stopPrice as Decimal);
    if (touch.minus(base).abs().div(base).gt(ctx.rules.priceMovedLimit)) return leave("PRICE_MOVED");
  } else {
    const limit = order.limitPrice as Decimal;
    const marketable = order.side === "BUY" ? touch.lte(limit) : touch.gte(limit);
    if (!marketable) return cannotFillNow(stopJustTriggered);
  }

  const sizing = fillSize(order, touch, sideSize(ctx.quote, order.side));
  if (sizing === null) {
    // The remaining notional cannot buy one lot at this price: done if something was bought, else refused.
    if (order.filledQuantity.isZero()) return leave("NOTIONAL_EXHAUSTED");
    return plan({ to: "FILLED", reason: "NOTIONAL_EXHAUSTED", at });
  }
  if (sizing.quantity.isZero() || (order.timeInForce === "FOK" && !sizing.completes)) {
    return cannotFillNow(stopJustTriggered);
  }

  const fill = { quantity: sizing.quantity, price: touch };
  const stopTriggered = stopJustTriggered || undefined;
  const steps: TransitionInput[] = [
    sizing.completes
      ? { to: "FILLED", reason: "MARKETABLE", at, fill, stopTriggered }
      : { to: "PARTIALLY_FILLED", reason: "PARTIAL_LIQUIDITY", at, fill, stopTriggered },
  ];
  if (!sizing.completes && order.timeInForce === "IOC") steps.push({ to: "CANCELED", reason: "IOC_REMAINDER", at });
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

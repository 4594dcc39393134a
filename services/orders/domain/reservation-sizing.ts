import Decimal from "decimal.js";
import type { OrderRules } from "./order-rules";
import type { SubmitCommand } from "./submit-command";
import type { MarketAcceptance } from "./validate-against-market";

/** What to hold in accounting before the order is accepted. */
export interface ReservationSize {
  asset: "CASH" | "SECURITY";
  /** Cash (rounded up to cashScale) for buys, security quantity for sells. */
  amount: Decimal;
}

/**
 * Sizes the hold so that every fill the execution rules allow is covered:
 * - sells hold the quantity itself;
 * - notional buys hold exactly the notional (fills never spend more);
 * - limit and stop-limit buys hold quantity × limit (they never fill above it);
 * - market and stop buys fill at a future ask, so they hold quantity × base × (1 + buffer), where base is the
 *   highest of the submission ask, the market price and the stop. The price-moved check (fill within
 *   priceMovedLimit of the market price, or of the stop for stops) keeps every accepted fill within the hold.
 * Cash is rounded up (ROUND_UP) to the currency scale: a hold may over-reserve a fraction of a cent, never under.
 */
export function sizeReservation(
  command: SubmitCommand,
  acceptance: Pick<MarketAcceptance, "marketPrice" | "touchPrice">,
  rules: OrderRules,
): ReservationSize {
  if (command.side === "SELL") {
    return { asset: "SECURITY", amount: command.quantity as Decimal };
  }
  if (command.notional !== null) {
    return { asset: "CASH", amount: command.notional.toDecimalPlaces(rules.cashScale, Decimal.ROUND_UP) };
  }
  const quantity = command.quantity as Decimal;
  let cash: Decimal;
  if (command.type === "LIMIT" || command.type === "STOP_LIMIT") {
    cash = quantity.times(command.limitPrice as Decimal);
  } else {
    const base = Decimal.max(acceptance.touchPrice, acceptance.marketPrice, command.stopPrice ?? 0);
    cash = quantity.times(base).times(new Decimal(1).plus(rules.marketBuyBuffer));
  }
  return { asset: "CASH", amount: cash.toDecimalPlaces(rules.cashScale, Decimal.ROUND_UP) };
}

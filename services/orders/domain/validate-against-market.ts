import Decimal from "decimal.js";
import { OrderError } from "./order-error";
import type { OrderRules } from "./order-rules";
import type { SubmitCommand } from "./submit-command";
import { isSessionOpen, referencePrice, sidePrice, type MarketSnapshot } from "./market-snapshot";

/** Prices the accepted order is based on. */
export interface MarketAcceptance {
  /** Price the band was measured against (last trade or mid). */
  referencePrice: Decimal;
  /** Ask for buys, bid for sells: stored as the order's market price at submission. */
  submissionPrice: Decimal;
  /** Value the limits were checked against: notional, or quantity × (limit | stop | submission price). */
  orderValue: Decimal;
}

/**
 * The market-dependent submit checks, in the reference's order: tradable, session open (crypto always), price band
 * (±priceBandFraction), lot size, minimum quantity, order value limits. Messages keep the Hub wording where Hub
 * has one ("symbol X is not valid or not tradeable", "market is closed for symbol X", "order price $X is outside
 * acceptable range ($min - $max) based on current market price $cur", "Order value X exceeds maximum allowed Y")
 * and CNOP's for the minimum quantity.
 */
export function validateAgainstMarket(
  command: SubmitCommand,
  market: MarketSnapshot,
  rules: OrderRules,
): MarketAcceptance {
  const { instrument, quote, session } = market;
  const reference = referencePrice(quote);
  if (!instrument.tradable || !reference.gt(0)) {
    throw new OrderError("SYMBOL_NOT_TRADABLE", `symbol ${command.symbol} is not valid or not tradeable`, [
      { field: "symbol", description: `symbol ${command.symbol} is not valid or not tradeable` },
    ]);
  }
  if (!isSessionOpen(instrument, session)) {
    throw new OrderError("MARKET_CLOSED", `market is closed for symbol ${command.symbol}`, [], {
      symbol: command.symbol,
    });
  }

  const low = reference.times(new Decimal(1).minus(rules.priceBandFraction));
  const high = reference.times(new Decimal(1).plus(rules.priceBandFraction));
  for (const [field, price] of [
    ["limit_price", command.limitPrice],
    ["stop_price", command.stopPrice],
  ] as const) {
    if (price !== null && (price.lt(low) || price.gt(high))) {
      const message =
        `order price $${money(price)} is outside acceptable range ($${money(low)} - $${money(high)}) ` +
        `based on current market price $${money(reference)}`;
      throw new OrderError("PRICE_OUT_OF_BAND", message, [{ field, description: message }]);
    }
  }

  if (command.notional !== null && !instrument.fractionable) {
    const message = `notional orders are not accepted for ${command.symbol}: it does not trade in fractions`;
    throw new OrderError("INVALID_ORDER", message, [{ field: "notional", description: message }]);
  }
  if (command.quantity !== null) {
    if (instrument.lotSize.gt(0) && !command.quantity.mod(instrument.lotSize).isZero()) {
      const message = `quantity ${command.quantity.toFixed()} is not a multiple of the lot size ${instrument.lotSize.toFixed()}`;
      throw new OrderError("LOT_SIZE_VIOLATION", message, [{ field: "quantity", description: message }]);
    }
    if (command.quantity.lt(instrument.minQuantity)) {
      const message = `Order quantity below minimum threshold (${instrument.minQuantity.toFixed()})`;
      throw new OrderError("QUANTITY_BELOW_MINIMUM", message, [{ field: "quantity", description: message }]);
    }
  }

  const submissionPrice = sidePrice(quote, command.side);
  const orderValue =
    command.notional ?? (command.quantity as Decimal).times(command.limitPrice ?? command.stopPrice ?? submissionPrice);
  if (orderValue.gt(rules.maxOrderValue)) {
    const message = `Order value ${orderValue.toFixed(2, Decimal.ROUND_HALF_EVEN)} exceeds maximum allowed ${rules.maxOrderValue.toFixed(2)}`;
    throw new OrderError("ORDER_VALUE_TOO_HIGH", message, [{ field: "quantity", description: message }]);
  }
  if (orderValue.lt(rules.minOrderValue)) {
    const message = `Order value ${orderValue.toFixed(2, Decimal.ROUND_HALF_EVEN)} is below minimum allowed ${rules.minOrderValue.toFixed(2)}`;
    throw new OrderError("ORDER_VALUE_TOO_LOW", message, [{ field: "quantity", description: message }]);
  }
  return { referencePrice: reference, submissionPrice, orderValue };
}

/** Cents for ordinary prices; enough significant digits for sub-dollar ones (crypto fractions, penny stocks). */
function money(value: Decimal): string {
  return value.gte(1) ? value.toFixed(2, Decimal.ROUND_HALF_EVEN) : value.toSignificantDigits(6).toFixed();
}

import Decimal from "decimal.js";
import { OrderError } from "./order-error";
import type { OrderRules } from "./order-rules";
import type { SubmitCommand } from "./submit-command";
import { instrumentSession, referencePrice, sidePrice, type MarketSnapshot } from "./market-snapshot";
import type { SessionState } from "./trading-session";

/** Prices the accepted order is based on. */
export interface MarketAcceptance {
  /** Market price (last, else mid): the band's centre and the base of the price-moved check. */
  marketPrice: Decimal;
  /** Ask for buys, bid for sells at submission. */
  touchPrice: Decimal;
  /** Value the limits were checked against: notional, or quantity × (limit | stop | touch price). */
  orderValue: Decimal;
  session: SessionState;
}

/**
 * The market-dependent submit checks, in the reference's order: tradable, session open (crypto always), price band
 * (±priceBandFraction), tick grid, lot size, minimum quantity, order value limits. Messages keep the Hub wording
 * where Hub has one ("symbol X is not valid or not tradeable", "market is closed for symbol X", "order price $X is
 * outside acceptable range ($min - $max) based on current market price $cur", "Order value X exceeds maximum
 * allowed Y") and CNOP's for the minimum quantity ("Order quantity below minimum threshold (X)").
 * Hub's extra asymmetric ±5 % overlay is not applied: the band is the ±10 % the platform publishes.
 */
export function validateAgainstMarket(
  command: SubmitCommand,
  market: MarketSnapshot,
  rules: OrderRules,
  now: Date,
): MarketAcceptance {
  const { instrument, quote } = market;
  const symbol = instrument.symbol;
  const marketPrice = referencePrice(quote);
  if (!instrument.tradable || !marketPrice.gt(0)) {
    const message = `symbol ${symbol} is not valid or not tradeable`;
    throw new OrderError("INSTRUMENT_NOT_TRADABLE", message, [{ field: "symbol", description: message }], { symbol });
  }
  const session = instrumentSession(instrument, now);
  if (!session.open) {
    throw new OrderError("MARKET_CLOSED", `market is closed for symbol ${symbol}`, [], { symbol });
  }

  const low = marketPrice.times(new Decimal(1).minus(rules.priceBandFraction));
  const high = marketPrice.times(new Decimal(1).plus(rules.priceBandFraction));
  for (const [field, price] of [
    ["limit_price", command.limitPrice],
    ["stop_price", command.stopPrice],
  ] as const) {
    if (price === null) continue;
    if (price.lt(low) || price.gt(high)) {
      const [lowest, highest] = acceptableRange(low, high, instrument.tickSize);
      const message =
        `order price $${money(price)} is outside acceptable range ($${lowest} - $${highest}) ` +
        `based on current market price $${money(marketPrice)}`;
      throw new OrderError("PRICE_OUT_OF_BAND", message, [{ field, description: message }], {
        low: low.toFixed(),
        high: high.toFixed(),
      });
    }
    if (instrument.tickSize.gt(0) && !price.mod(instrument.tickSize).isZero()) {
      const message = `${field} ${price.toFixed()} is not a multiple of the tick size ${instrument.tickSize.toFixed()}`;
      throw new OrderError("PRICE_NOT_ON_TICK", message, [{ field, description: message }]);
    }
  }

  if (command.notional !== null && !instrument.fractionable) {
    const message = `notional orders are not accepted for ${symbol}: it does not trade in fractions`;
    throw new OrderError("INVALID_ORDER", message, [{ field: "notional", description: message }]);
  }
  if (command.quantity !== null) {
    if (instrument.lotSize.gt(0) && !command.quantity.mod(instrument.lotSize).isZero()) {
      const message = `quantity ${command.quantity.toFixed()} is not a multiple of the lot size ${instrument.lotSize.toFixed()}`;
      throw new OrderError("QUANTITY_NOT_LOT_MULTIPLE", message, [{ field: "quantity", description: message }]);
    }
    if (command.quantity.lt(instrument.minQuantity)) {
      const message = `Order quantity below minimum threshold (${instrument.minQuantity.toFixed()})`;
      throw new OrderError("QUANTITY_BELOW_MINIMUM", message, [{ field: "quantity", description: message }]);
    }
  }

  const touchPrice = sidePrice(quote, command.side);
  const orderValue =
    command.notional ?? (command.quantity as Decimal).times(command.limitPrice ?? command.stopPrice ?? touchPrice);
  if (orderValue.gt(rules.maxOrderValue)) {
    const message = `Order value ${orderValue.toFixed(2, Decimal.ROUND_HALF_EVEN)} exceeds maximum allowed ${rules.maxOrderValue.toFixed(2)}`;
    throw new OrderError("ORDER_VALUE_TOO_LARGE", message, [{ field: "quantity", description: message }]);
  }
  if (orderValue.lt(rules.minOrderValue)) {
    const message = `Order value ${orderValue.toFixed(2, Decimal.ROUND_HALF_EVEN)} is below minimum allowed ${rules.minOrderValue.toFixed(2)}`;
    throw new OrderError("ORDER_VALUE_TOO_SMALL", message, [{ field: "quantity", description: message }]);
  }
  return { marketPrice, touchPrice, orderValue, session };
}

/** Cents for ordinary prices; enough significant digits for sub-dollar ones (crypto fractions, penny stocks). */
function money(value: Decimal, rounding: Decimal.Rounding = Decimal.ROUND_HALF_EVEN): string {
  return value.gte(1) ? value.toFixed(2, rounding) : value.toSignificantDigits(6, rounding).toFixed();
}

/**
 * The lowest and highest prices the band accepts, as the message shows them: on the tick grid and rounded into the
 * band (up at the bottom, down at the top), so a caller who resubmits at a price the message names is accepted.
 * Rounding the exact edges to the nearest cent could name a price just outside the band (100.05 ± 10 % shows as
 * 90.04 - 110.06, both refused). The error's metadata keeps the exact edges.
 */
function acceptableRange(low: Decimal, high: Decimal, tickSize: Decimal): [string, string] {
  const inward = (edge: Decimal, rounding: Decimal.Rounding) =>
    money(tickSize.gt(0) ? edge.div(tickSize).toDecimalPlaces(0, rounding).times(tickSize) : edge, rounding);
  return [inward(low, Decimal.ROUND_CEIL), inward(high, Decimal.ROUND_FLOOR)];
}

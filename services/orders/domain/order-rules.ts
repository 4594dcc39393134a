import Decimal from "decimal.js";

/** Business limits of order handling; values come from the service config, defaults from the references. */
export interface OrderRules {
  /** Limit and stop prices must lie within reference × (1 ± this). Hub: 0.10. */
  priceBandFraction: Decimal;
  /** Largest accepted order value in the instrument currency. Hub's validation service: 1,000,000. */
  maxOrderValue: Decimal;
  /** Smallest accepted order value; 0 disables the check (Hub's unwired validation service used 1). */
  minOrderValue: Decimal;
  /** A market order whose fill price moved more than this fraction from submission is rejected. Hub: 0.05. */
  priceMovedLimit: Decimal;
  /** Extra cash reserved for market (and stop) buys over the submission price; equal to priceMovedLimit by default
   * so a fill the price-moved check accepts is always covered by the hold. */
  marketBuyBuffer: Decimal;
  /** Decimal places of cash amounts reserved in accounting (2 for USD cents). */
  cashScale: number;
}

/** The reference defaults. */
export const DEFAULT_ORDER_RULES: OrderRules = Object.freeze({
  priceBandFraction: new Decimal("0.10"),
  maxOrderValue: new Decimal("1000000"),
  minOrderValue: new Decimal("0"),
  priceMovedLimit: new Decimal("0.05"),
  marketBuyBuffer: new Decimal("0.05"),
  cashScale: 2,
});

import Decimal from "decimal.js";
import { dec } from "./money";
import { sumCost, sumQuantity, type TaxLot } from "./tax-lots";

/** Averages and weights are display values: rounded half-even, the rounding that does not drift in sums. */
export const AVERAGE_COST_SCALE = 8;
export const WEIGHT_SCALE = 6;

/** One security's stored state, as the valuation needs it. */
export interface SecurityHolding {
  securityId: string;
  symbol: string;
  quantityLong: Decimal;
  quantityShort: Decimal;
  longLots: TaxLot[];
  shortLots: TaxLot[];
  realizedPnl: Decimal;
  lastUpdated: Date;
}

/** A latest price from market data. */
export interface PricePoint {
  price: Decimal;
  time: Date;
}

export interface SecurityValuation {
  holding: SecurityHolding;
  netQuantity: Decimal;
  /** Open cost of the long lots plus that of the short lots (negative: minus their proceeds). */
  costBasis: Decimal;
  price: PricePoint | null;
  marketValue: Decimal | null;
  unrealizedPnl: Decimal | null;
  weight: Decimal | null;
}

export interface PortfolioValuation {
  cashBalance: Decimal;
  cashReserved: Decimal;
  securities: SecurityValuation[];
  totalMarketValue: Decimal;
  totalValue: Decimal;
  totalCostBasis: Decimal;
  totalUnrealizedPnl: Decimal;
  totalRealizedPnl: Decimal;
  cashWeight: Decimal | null;
  missingPrices: string[];
}

/** Hub's average cost: open cost / open units, half-even to 8 decimals; null for a flat position. */
export function averageCost(lots: readonly TaxLot[]): Decimal | null {
  const units = sumQuantity(lots);
  return units.isZero() ? null : sumCost(lots).div(units).toDecimalPlaces(AVERAGE_COST_SCALE, Decimal.ROUND_HALF_EVEN);
}

/**
 * Values a portfolio (Hub's aggregation with GlobeCo's long/short rows): market value = net units × last
 * price; unrealized P&L = market value − open cost, which for a short is its proceeds minus the cost to cover;
 * weights = value / (cash + market value). A security without a price is listed as missing and left out of the
 * totals rather than valued at zero.
 */
export function valuePortfolio(
  cashBalance: Decimal,
  cashReserved: Decimal,
  holdings: readonly SecurityHolding[],
  prices: ReadonlyMap<string, PricePoint>,
): PortfolioValuation {
  const partial = holdings.map((holding) => {
    const netQuantity = holding.quantityLong.minus(holding.quantityShort);
    const costBasis = sumCost(holding.longLots).plus(sumCost(holding.shortLots));
    const price = prices.get(holding.securityId) ?? null;
    const marketValue = price ? netQuantity.times(price.price) : null;
    return { holding, netQuantity, costBasis, price, marketValue, unrealizedPnl: marketValue ? marketValue.minus(costBasis) : null };
  });
  const totalMarketValue = partial.reduce((sum, s) => sum.plus(s.marketValue ?? 0), dec(0));
  const totalValue = dec(cashBalance).plus(totalMarketValue);
  const weightOf = (value: Decimal) => (totalValue.isZero() ? null : value.div(totalValue).toDecimalPlaces(WEIGHT_SCALE, Decimal.ROUND_HALF_EVEN));
  const securities = partial.map((s) => ({ ...s, weight: s.marketValue ? weightOf(s.marketValue) : null }));
  return {
    cashBalance: dec(cashBalance),
    cashReserved: dec(cashReserved),
    securities,
    totalMarketValue,
    totalValue,
    totalCostBasis: securities.reduce((sum, s) => sum.plus(s.costBasis), dec(0)),
    totalUnrealizedPnl: securities.reduce((sum, s) => sum.plus(s.unrealizedPnl ?? 0), dec(0)),
    totalRealizedPnl: securities.reduce((sum, s) => sum.plus(s.holding.realizedPnl), dec(0)),
    cashWeight: weightOf(dec(cashBalance)),
    missingPrices: securities.filter((s) => !s.price).map((s) => s.holding.securityId),
  };
}

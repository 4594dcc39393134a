// The proposal a rebalance produces: trades (sells first, then buys, each group by security id, numbered as
// legs from 1), and per security the weights before and after. Weights are reported rounded half-even to
// 4 decimals; band membership is decided on the exact values.
import BaseDecimal from "decimal.js";
import type { RebalanceProblem, RebalanceSolution } from "./rebalance-problem";

// Products of quantities and prices can exceed decimal.js's default 20 significant digits; 60 keeps every
// notional and bound in this module exact for any realistic portfolio.
const Decimal = BaseDecimal.clone({ precision: 60, rounding: BaseDecimal.ROUND_HALF_EVEN });
type Decimal = BaseDecimal;

export const WEIGHT_DECIMALS = 4;

/** Which way a trade goes. */
export type TradeSide = "BUY" | "SELL";

/** One leg of a proposal. */
export interface ProposedTrade {
  /** 1-based; sells first. ExecuteProposal's idempotency key is `<proposal_id>:<leg>`. */
  leg: number;
  side: TradeSide;
  securityId: string;
  quantity: Decimal;
  price: Decimal;
  /** quantity × price, exact. */
  estimatedNotional: Decimal;
}

/** Weights of one security before and after the proposal. */
export interface SecurityDrift {
  securityId: string;
  target: Decimal;
  lowDrift: Decimal;
  highDrift: Decimal;
  quantityBefore: Decimal;
  quantityAfter: Decimal;
  price: Decimal;
  weightBefore: Decimal;
  weightAfter: Decimal;
  inBandBefore: boolean;
  inBandAfter: boolean;
}

/** Everything a proposal records about the solve. */
export interface ProposalContent {
  marketValue: Decimal;
  cashBefore: Decimal;
  cashAfter: Decimal;
  objective: Decimal;
  trades: ProposedTrade[];
  drifts: SecurityDrift[];
}

/** Derives trades and drifts from a solved problem. */
export function buildProposal(problem: RebalanceProblem, solution: RebalanceSolution): ProposalContent {
  const marketValue = new Decimal(solution.marketValue);
  const unnumbered: Array<Omit<ProposedTrade, "leg">> = [];
  const drifts = problem.securities.map((s, i): SecurityDrift => {
    const before = new Decimal(s.quantity);
    const after = new Decimal(solution.quantities[i]);
    const price = new Decimal(s.price);
    const target = new Decimal(s.target);
    const lower = marketValue.times(target.minus(s.lowDrift));
    const upper = marketValue.times(target.plus(s.highDrift));
    const delta = after.minus(before);
    if (!delta.isZero()) {
      const quantity = delta.abs();
      unnumbered.push({ side: delta.isNegative() ? "SELL" : "BUY", securityId: s.securityId, quantity, price, estimatedNotional: quantity.times(price) });
    }
    const inBand = (q: Decimal) => q.times(price).gte(lower) && q.times(price).lte(upper);
    return {
      securityId: s.securityId,
      target,
      lowDrift: new Decimal(s.lowDrift),
      highDrift: new Decimal(s.highDrift),
      quantityBefore: before,
      quantityAfter: after,
      price,
      weightBefore: weight(before.times(price), marketValue),
      weightAfter: weight(after.times(price), marketValue),
      inBandBefore: inBand(before),
      inBandAfter: inBand(after),
    };
  });
  const bySecurity = (a: { securityId: string }, b: { securityId: string }) => (a.securityId < b.securityId ? -1 : a.securityId > b.securityId ? 1 : 0);
  const sells = unnumbered.filter((t) => t.side === "SELL").sort(bySecurity);
  const buys = unnumbered.filter((t) => t.side === "BUY").sort(bySecurity);
  return {
    marketValue,
    cashBefore: new Decimal(solution.cashBefore),
    cashAfter: new Decimal(solution.cashAfter),
    objective: new Decimal(solution.objective),
    trades: [...sells, ...buys].map((t, i) => ({ leg: i + 1, ...t })),
    drifts: drifts.sort(bySecurity),
  };
}

function weight(value: Decimal, marketValue: Decimal): Decimal {
  return value.div(marketValue).toDecimalPlaces(WEIGHT_DECIMALS, BaseDecimal.ROUND_HALF_EVEN);
}

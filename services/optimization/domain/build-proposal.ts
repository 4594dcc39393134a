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

/** ProposalContent with every amount as its exact decimal string: what a solver worker thread sends back, since
 * Decimal objects do not survive the structured clone and building the proposal there keeps the Decimal work off
 * the event loop. */
export interface ProposalContentText {
  marketValue: string;
  cashBefore: string;
  cashAfter: string;
  objective: string;
  trades: Array<{ leg: number; side: TradeSide; securityId: string; quantity: string; price: string; estimatedNotional: string }>;
  drifts: Array<{
    securityId: string;
    target: string;
    lowDrift: string;
    highDrift: string;
    quantityBefore: string;
    quantityAfter: string;
    price: string;
    weightBefore: string;
    weightAfter: string;
    inBandBefore: boolean;
    inBandAfter: boolean;
  }>;
}

/** The text form of a proposal's content (exact: `toFixed()` without arguments never rounds). */
export function proposalContentToText(c: ProposalContent): ProposalContentText {
  return {
    marketValue: c.marketValue.toFixed(),
    cashBefore: c.cashBefore.toFixed(),
    cashAfter: c.cashAfter.toFixed(),
    objective: c.objective.toFixed(),
    trades: c.trades.map((t) => ({ leg: t.leg, side: t.side, securityId: t.securityId, quantity: t.quantity.toFixed(), price: t.price.toFixed(), estimatedNotional: t.estimatedNotional.toFixed() })),
    drifts: c.drifts.map((d) => ({
      securityId: d.securityId,
      target: d.target.toFixed(),
      lowDrift: d.lowDrift.toFixed(),
      highDrift: d.highDrift.toFixed(),
      quantityBefore: d.quantityBefore.toFixed(),
      quantityAfter: d.quantityAfter.toFixed(),
      price: d.price.toFixed(),
      weightBefore: d.weightBefore.toFixed(),
      weightAfter: d.weightAfter.toFixed(),
      inBandBefore: d.inBandBefore,
      inBandAfter: d.inBandAfter,
    })),
  };
}

/** A proposal's content back from its text form. */
export function proposalContentFromText(c: ProposalContentText): ProposalContent {
  const d = (value: string) => new Decimal(value);
  return {
    marketValue: d(c.marketValue),
    cashBefore: d(c.cashBefore),
    cashAfter: d(c.cashAfter),
    objective: d(c.objective),
    trades: c.trades.map((t) => ({ ...t, quantity: d(t.quantity), price: d(t.price), estimatedNotional: d(t.estimatedNotional) })),
    drifts: c.drifts.map((x) => ({
      ...x,
      target: d(x.target),
      lowDrift: d(x.lowDrift),
      highDrift: d(x.highDrift),
      quantityBefore: d(x.quantityBefore),
      quantityAfter: d(x.quantityAfter),
      price: d(x.price),
      weightBefore: d(x.weightBefore),
      weightAfter: d(x.weightAfter),
    })),
  };
}

// Builders and an independent Decimal checker shared by the optimization unit tests.
import BaseDecimal from "decimal.js";
import { RebalanceOptions, RebalanceProblem, SecurityInput } from "../../../services/optimization/domain/rebalance-problem";

// Enough significant digits that the checker itself never rounds (the default 20 would).
const Decimal = BaseDecimal.clone({ precision: 200 });
type Decimal = BaseDecimal;

export const FULL: RebalanceOptions = { minCash: "0", minTradeNotional: "0", mode: "FULL", onlyOutOfBand: false };

/** A security row; drifts default to ±0.02 and the lot to 1. */
export function security(
  securityId: string,
  quantity: string,
  price: string,
  target: string,
  drift: string | [string, string] = "0.02",
  lotSize = "1",
): SecurityInput {
  const [lowDrift, highDrift] = Array.isArray(drift) ? drift : [drift, drift];
  return { securityId, quantity, price, target, lowDrift, highDrift, lotSize };
}

/** Checks a candidate answer against the raw definitions with Decimal; returns the broken rules. */
export function violations(problem: RebalanceProblem, quantities: string[]): string[] {
  const broken: string[] = [];
  const cash = new Decimal(problem.cash);
  const mv = problem.securities.reduce((sum, s) => sum.plus(new Decimal(s.quantity).times(s.price)), cash);
  let cashAfter = cash;
  problem.securities.forEach((s, i) => {
    const u = new Decimal(quantities[i]);
    const c = new Decimal(s.quantity);
    const value = u.times(s.price);
    const lower = mv.times(new Decimal(s.target).minus(s.lowDrift));
    const upper = mv.times(new Decimal(s.target).plus(s.highDrift));
    const kept = u.eq(c);
    if (u.lt(0)) broken.push(`${s.securityId} negative`);
    if (value.lt(lower) || value.gt(upper)) broken.push(`${s.securityId} outside drift bounds`);
    if (!kept && !u.mod(s.lotSize).eq(0)) broken.push(`${s.securityId} off lot`);
    if (problem.options.mode === "BUY_ONLY" && u.lt(c)) broken.push(`${s.securityId} sold in BUY_ONLY`);
    if (problem.options.mode === "SELL_ONLY" && u.gt(c)) broken.push(`${s.securityId} bought in SELL_ONLY`);
    const notional = u.minus(c).abs().times(s.price);
    if (!kept && !u.eq(0) && notional.lt(problem.options.minTradeNotional)) broken.push(`${s.securityId} trade too small`);
    const currentValue = c.times(s.price);
    if (problem.options.onlyOutOfBand && c.gte(0) && currentValue.gte(lower) && currentValue.lte(upper) && !kept) {
      broken.push(`${s.securityId} traded while in band`);
    }
    cashAfter = cashAfter.minus(u.minus(c).times(s.price));
  });
  if (cashAfter.lt(problem.options.minCash)) broken.push("cash below minimum");
  return broken;
}

/** Σ |MV·t − u·p| computed with Decimal. */
export function objectiveOf(problem: RebalanceProblem, quantities: string[]): Decimal {
  const cash = new Decimal(problem.cash);
  const mv = problem.securities.reduce((sum, s) => sum.plus(new Decimal(s.quantity).times(s.price)), cash);
  return problem.securities.reduce(
    (sum, s, i) => sum.plus(mv.times(s.target).minus(new Decimal(quantities[i]).times(s.price)).abs()),
    new Decimal(0),
  );
}

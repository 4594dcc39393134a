// The same rebalancing problem written as a textbook MILP for HiGHS (WebAssembly). It is the independent
// cross-check of the exact solver and the fallback when the branch and bound runs out of its node budget.
//
// It is deliberately built from the raw definitions (drift bounds in money, u = lot·k, big-M switches for
// "keep the current holding" and for the minimum-trade hole) rather than from the exact solver's derived
// integer intervals, so that a mistake in one formulation shows up as a disagreement with the other.
// HiGHS works in binary floating point with tolerances; the exact solver is the one we ship results from.

import Decimal from "decimal.js";
import type { Highs } from "highs";
import { RebalanceProblem } from "../domain/rebalance-problem";

/** HiGHS's answer: optimal quantities and objective, or why there is none. */
export type HighsRebalanceResult =
  | { status: "OPTIMAL"; quantities: string[]; objective: number; seconds: number }
  | { status: "INFEASIBLE" | "TIME_LIMIT" | "ERROR"; detail: string; seconds: number };

/** Solves `problem` as a MILP with HiGHS within `timeLimitSeconds`. */
export function solveRebalanceWithHighs(highs: Highs, problem: RebalanceProblem, timeLimitSeconds = 10): HighsRebalanceResult {
  const text = rebalanceMilpText(problem);
  const started = process.hrtime.bigint();
  const seconds = () => Number(process.hrtime.bigint() - started) / 1e9;
  const solution = highs.solve(text, {
    output_flag: false,
    time_limit: timeLimitSeconds,
    mip_rel_gap: 0,
    mip_abs_gap: 1e-7,
    mip_feasibility_tolerance: 1e-9,
    primal_feasibility_tolerance: 1e-9,
  });
  if (solution.Status === "Infeasible") return { status: "INFEASIBLE", detail: solution.Status, seconds: seconds() };
  if (solution.Status === "Time limit reached") return { status: "TIME_LIMIT", detail: solution.Status, seconds: seconds() };
  if (solution.Status !== "Optimal") return { status: "ERROR", detail: solution.Status, seconds: seconds() };
  const columns = solution.Columns as Record<string, { Primal: number }>;
  const quantities = problem.securities.map((security, i) => {
    const lot = new Decimal(security.lotSize);
    const lots = Math.round(columns[`k${i}`]?.Primal ?? 0);
    const keep = Math.round(columns[`y${i}`]?.Primal ?? 0) === 1;
    return keep ? new Decimal(security.quantity).toFixed() : lot.times(lots).toFixed();
  });
  return { status: "OPTIMAL", quantities, objective: solution.ObjectiveValue, seconds: seconds() };
}

/** The CPLEX-LP text of the rebalancing MILP (exported for the benchmark, which times HiGHS alone). */
export function rebalanceMilpText(problem: RebalanceProblem): string {
  const { options } = problem;
  const cash = new Decimal(problem.cash);
  const marketValue = problem.securities.reduce((sum, s) => sum.plus(new Decimal(s.quantity).times(s.price)), cash);
  const minNotional = new Decimal(options.minTradeNotional);
  const rows: string[] = [];
  const generals: string[] = [];
  const binaries: string[] = [];
  const bounds: string[] = [];
  const objective: string[] = [];
  const budget: string[] = [];

  problem.securities.forEach((s, i) => {
    const price = new Decimal(s.price);
    const lot = new Decimal(s.lotSize);
    const current = new Decimal(s.quantity);
    const remainder = current.mod(lot);
    const target = marketValue.times(s.target);
    const lower = marketValue.times(new Decimal(s.target).minus(s.lowDrift));
    const upper = marketValue.times(new Decimal(s.target).plus(s.highDrift));
    // Tight variable bounds straight from the drift band keep HiGHS's big-M rows (and its search) small.
    const lowQuantity = Decimal.max(lower, 0).div(price);
    const highQuantity = Decimal.max(upper.div(price), current);
    const bigQuantity = highQuantity.minus(Decimal.min(lowQuantity, current)).plus(lot).plus(1).ceil();
    const bigMoney = bigQuantity.times(price).plus(minNotional);
    const currentValue = current.times(price);
    const inBand = options.onlyOutOfBand && current.gte(0) && currentValue.gte(lower) && currentValue.lte(upper);
    // u_i = lot·k_i + remainder·y_i: y_i = 1 means "keep the current holding" (possibly off the lot grid). The
    // switch is only needed when keeping differs from some lot multiple or is forced, or when small trades
    // are forbidden; leaving it out otherwise keeps HiGHS fast on the thousands of test instances.
    const needsKeep = !remainder.eq(0) || minNotional.gt(0) || inBand;
    const u = (scale: Decimal) =>
      needsKeep ? [term(scale.times(lot), `k${i}`), term(scale.times(remainder), `y${i}`)] : [term(scale.times(lot), `k${i}`)];
    generals.push(`k${i}`);
    const lowLots = Decimal.max(lowQuantity.minus(remainder).div(lot).floor(), 0);
    bounds.push(`${lowLots.toFixed()} <= k${i} <= ${highQuantity.div(lot).ceil().toFixed()}`);
    objective.push(`e${i}`);
    rows.push(row(`over${i}`, [`e${i}`, ...u(price.neg())], ">=", target.neg()));
    rows.push(row(`under${i}`, [`e${i}`, ...u(price)], ">=", target));
    rows.push(row(`low${i}`, u(price), ">=", Decimal.max(lower, 0)));
    rows.push(row(`high${i}`, u(price), "<=", upper));
    if (needsKeep) {
      binaries.push(`y${i}`);
      rows.push(row(`keepUp${i}`, [...u(new Decimal(1)), term(bigQuantity, `y${i}`)], "<=", current.plus(bigQuantity)));
      rows.push(row(`keepDown${i}`, [...u(new Decimal(1)), term(bigQuantity.neg(), `y${i}`)], ">=", current.minus(bigQuantity)));
    }
    if (options.mode === "BUY_ONLY") rows.push(row(`buyOnly${i}`, u(new Decimal(1)), ">=", current));
    if (options.mode === "SELL_ONLY") rows.push(row(`sellOnly${i}`, u(new Decimal(1)), "<=", current));
    if (inBand) {
      rows.push(row(`inBand${i}`, [term(new Decimal(1), `y${i}`)], "=", new Decimal(1)));
    }
    if (minNotional.gt(0)) {
      // Exactly one of: keep (y), trade up by ≥ the minimum notional (a), trade down by ≥ it (b), or close
      // the position entirely (z), which is exempt from the minimum.
      binaries.push(`a${i}`, `b${i}`, `z${i}`);
      rows.push(row(`oneOf${i}`, [`y${i}`, `a${i}`, `b${i}`, `z${i}`], "=", new Decimal(1)));
      const maxQuantity = highQuantity.plus(lot).plus(1).ceil();
      rows.push(row(`close${i}`, [...u(new Decimal(1)), term(maxQuantity, `z${i}`)], "<=", maxQuantity));
      rows.push(row(`up${i}`, [...u(price), term(bigMoney.neg(), `a${i}`)], ">=", currentValue.plus(minNotional).minus(bigMoney)));
      rows.push(row(`down${i}`, [...u(price), term(bigMoney, `b${i}`)], "<=", currentValue.minus(minNotional).plus(bigMoney)));
    }
    budget.push(...u(price));
  });
  rows.push(row("cash", budget, "<=", marketValue.minus(options.minCash)));
  return [
    "Minimize",
    ` obj: ${objective.join(" + ")}`,
    "Subject To",
    ...rows,
    "Bounds",
    ...bounds,
    "Generals",
    ` ${generals.join(" ")}`,
    "Binaries",
    ` ${binaries.join(" ")}`,
    "End",
  ].join("\n");
}

function term(coefficient: Decimal, variable: string): string {
  return `${coefficient.toFixed()} ${variable}`;
}

function row(name: string, terms: string[], sense: ">=" | "<=" | "=", rhs: Decimal): string {
  const body = terms
    .map((t, index) => {
      const text = t.startsWith("-") ? `- ${t.slice(1)}` : `+ ${t}`;
      return index === 0 && !t.startsWith("-") ? t : text;
    })
    .join(" ");
  return ` ${name}: ${body} ${sense} ${rhs.toFixed()}`;
}

// The exact integer rebalancing solver: a pure function of plain data (see rebalance-problem.ts), so it can
// run on the event loop for one portfolio or be posted to a worker thread for many.
//
//   minimise   Σ_i |MV·t_i − u_i·p_i|
//   subject to MV·(t_i − l_i) ≤ u_i·p_i ≤ MV·(t_i + h_i),  u_i ≥ 0,  u_i admissible (lot, mode, min notional,
//              only-out-of-band), and cash + Σ_i (c_i − u_i)·p_i ≥ minCash.
//
// Precision. Every input is a decimal string. With dq = max decimals of quantities and lots, dp = of prices,
// dm = max(dq + dp, decimals of cash and of the cash/notional options) and dw = max decimals of targets and
// drifts, money is held as BigInt in units of 10^-(dm + dw). In that unit every product u·p, every bound
// MV·(t ± l) and every target value MV·t is an exact integer, so each comparison and the objective itself are
// exact: there is no tolerance anywhere in the solver.
//
// Without a binding cash minimum the problem separates: each security independently takes the admissible
// quantity nearest its target value (found in O(1) from the floor and ceiling of MV·t/p), so the whole solve
// is O(N). If no quantity is admissible for a security, the problem is infeasible and that security is named.
// When the separable optimum breaks the cash minimum, the exact branch and bound of cash-branch-and-bound.ts
// decides which positions end lower.

import { AdmissibleQuantities } from "./admissible-quantities";
import { DescentItem, minimizeDescentCost } from "./cash-branch-and-bound";
import { invalidRebalanceInput, noFeasibleSolution, nonPositiveMarketValue } from "./optimization-error";
import { RebalanceProblem, RebalanceSolution, SecurityInput } from "./rebalance-problem";
import { ceilDiv, decimalPlaces, floorDiv, fromScaled, pow10, toScaled } from "./scaled-decimal";

// About a second of search on one core; real portfolios prove optimality in well under 1% of it.
const DEFAULT_NODE_LIMIT = 1_000_000;

interface Scales {
  quantity: number;
  price: number;
  weight: number;
  money: number;
}

interface SecurityState {
  input: SecurityInput;
  current: bigint;
  valuePerUnit: bigint;
  targetValue: bigint;
  domain: AdmissibleQuantities;
}

/** Solves the rebalance exactly; throws a DomainError (NO_FEASIBLE_SOLUTION, …) when there is no answer. */
export function solveRebalance(problem: RebalanceProblem): RebalanceSolution {
  const scales = scalesOf(problem);
  const moneyScale = scales.money + scales.weight;
  const cash = toScaled(problem.cash, moneyScale);
  const priceToMoney = pow10(moneyScale - scales.quantity - scales.price);

  const currents = problem.securities.map((s) => toScaled(s.quantity, scales.quantity));
  const valuesPerUnit = problem.securities.map((s) => {
    const price = toScaled(s.price, scales.price);
    if (price <= 0n) throw invalidInput(s.securityId, "price", "price must be positive");
    return price * priceToMoney;
  });
  let marketValue = cash;
  currents.forEach((current, i) => (marketValue += current * valuesPerUnit[i]));
  if (marketValue <= 0n) {
    throw nonPositiveMarketValue(fromScaled(marketValue, moneyScale));
  }
  // Every term of the market value is a multiple of 10^weight, so this division is exact.
  const marketValueAtMoney = marketValue / pow10(scales.weight);
  const minTradeNotional = toScaled(problem.options.minTradeNotional, moneyScale);
  const minCash = toScaled(problem.options.minCash, moneyScale);
  if (minTradeNotional < 0n) throw invalidOption("minTradeNotional", "must not be negative");

  const states: SecurityState[] = problem.securities.map((input, i) =>
    securityState(problem, input, currents[i], valuesPerUnit[i], marketValueAtMoney, minTradeNotional, scales),
  );
  const empty = states.filter((state) => state.domain.isEmpty()).map((state) => state.input.securityId);
  if (empty.length > 0) {
    throw noFeasibleSolution(
      `No feasible solution: no admissible quantity within the drift bounds for ${empty.join(", ")}`,
      empty,
      "EMPTY_BOUNDS",
    );
  }

  const bases = states.map(nearestToTarget);
  const budget = marketValue - minCash;
  let lowest = 0n;
  let used = 0n;
  states.forEach((state, i) => {
    lowest += (state.domain.ceil(state.domain.lo) as bigint) * state.valuePerUnit;
    used += bases[i] * state.valuePerUnit;
  });
  if (lowest > budget) {
    const reachable = fromScaled(marketValue - lowest, moneyScale);
    throw noFeasibleSolution(
      `No feasible solution: cash after trading cannot reach the minimum of ${problem.options.minCash}` +
        ` within the drift bounds (at most ${reachable} is reachable)`,
      [],
      "MIN_CASH",
      { best_reachable_cash: reachable },
    );
  }

  let quantities = bases;
  let method: RebalanceSolution["method"] = "SEPARABLE";
  let proven = true;
  let nodes = 0;
  let boundGap = 0n;
  const excess = used - budget;
  if (excess > 0n) {
    const movable: number[] = [];
    const items: DescentItem[] = [];
    states.forEach((state, i) => {
      const lowestQuantity = state.domain.ceil(state.domain.lo) as bigint;
      if (lowestQuantity >= bases[i]) return;
      const next = state.domain.floor(bases[i] - 1n) as bigint;
      const overshoot = bases[i] * state.valuePerUnit - state.targetValue;
      movable.push(i);
      items.push({
        base: bases[i],
        domain: state.domain,
        valuePerUnit: state.valuePerUnit,
        gain: overshoot > 0n ? 2n * overshoot : 0n,
        firstDescent: (bases[i] - next) * state.valuePerUnit,
        maxDescent: (bases[i] - lowestQuantity) * state.valuePerUnit,
        // Quantities below the base are lot multiples, the current holding or 0, so descents are multiples of
        // gcd(lot, base, base − current) units.
        granularity: gcdOf(gcdOf(state.domain.lot, bases[i]), bases[i] - state.current) * state.valuePerUnit,
      });
    });
    const { nodeLimit, timeLimitMs } = problem.options;
    const result = minimizeDescentCost(items, excess, nodeLimit ?? DEFAULT_NODE_LIMIT, timeLimitMs);
    if (result === null) throw new Error("cash feasibility was established but the branch and bound found no solution");
    quantities = bases.slice();
    movable.forEach((stateIndex, itemIndex) => (quantities[stateIndex] = result.quantities[itemIndex]));
    method = "BRANCH_AND_BOUND";
    proven = result.proven;
    nodes = result.nodes;
    boundGap = result.cost - result.lowerBound;
  }

  let objective = 0n;
  let cashAfter = cash;
  states.forEach((state, i) => {
    const value = quantities[i] * state.valuePerUnit;
    objective += value > state.targetValue ? value - state.targetValue : state.targetValue - value;
    cashAfter -= (quantities[i] - state.current) * state.valuePerUnit;
  });
  return {
    quantities: quantities.map((q) => fromScaled(q, scales.quantity)),
    objective: fromScaled(objective, moneyScale),
    marketValue: fromScaled(marketValue, moneyScale),
    cashBefore: fromScaled(cash, moneyScale),
    cashAfter: fromScaled(cashAfter, moneyScale),
    cashBinding: excess > 0n,
    method,
    proven,
    lowerBound: fromScaled(objective - boundGap, moneyScale),
    nodes,
  };
}

function scalesOf(problem: RebalanceProblem): Scales {
  let quantity = 0;
  let price = 0;
  let weight = 0;
  for (const s of problem.securities) {
    quantity = Math.max(quantity, decimalPlaces(s.quantity), decimalPlaces(s.lotSize));
    price = Math.max(price, decimalPlaces(s.price));
    weight = Math.max(weight, decimalPlaces(s.target), decimalPlaces(s.lowDrift), decimalPlaces(s.highDrift));
  }
  const money = Math.max(
    quantity + price,
    decimalPlaces(problem.cash),
    decimalPlaces(problem.options.minCash),
    decimalPlaces(problem.options.minTradeNotional),
  );
  return { quantity, price, weight, money };
}

function securityState(
  problem: RebalanceProblem,
  input: SecurityInput,
  current: bigint,
  valuePerUnit: bigint,
  marketValueAtMoney: bigint,
  minTradeNotional: bigint,
  scales: Scales,
): SecurityState {
  const target = toScaled(input.target, scales.weight);
  const low = toScaled(input.lowDrift, scales.weight);
  const high = toScaled(input.highDrift, scales.weight);
  const lot = toScaled(input.lotSize, scales.quantity);
  if (target < 0n || low < 0n || high < 0n) throw invalidInput(input.securityId, "target", "target and drifts must not be negative");
  if (lot <= 0n) throw invalidInput(input.securityId, "lot_size", "lot size must be positive");

  const targetValue = marketValueAtMoney * target;
  const lowerValue = marketValueAtMoney * (target - low);
  const upperValue = marketValueAtMoney * (target + high);
  let lo = ceilDiv(lowerValue, valuePerUnit);
  if (lo < 0n) lo = 0n;
  let hi = floorDiv(upperValue, valuePerUnit);
  const { mode, onlyOutOfBand } = problem.options;
  if (mode === "BUY_ONLY" && current > lo) lo = current;
  if (mode === "SELL_ONLY" && current < hi) hi = current;
  const currentValue = current * valuePerUnit;
  if (onlyOutOfBand && current >= 0n && currentValue >= lowerValue && currentValue <= upperValue) {
    lo = current;
    hi = current;
  }
  const minStep = minTradeNotional > 0n ? ceilDiv(minTradeNotional, valuePerUnit) : 0n;
  return { input, current, valuePerUnit, targetValue, domain: new AdmissibleQuantities(lo, hi, lot, current, minStep) };
}

// The admissible quantity nearest the target value; the lower one on a tie, which spends less cash.
function nearestToTarget(state: SecurityState): bigint {
  const below = state.domain.floor(floorDiv(state.targetValue, state.valuePerUnit));
  const above = state.domain.ceil(ceilDiv(state.targetValue, state.valuePerUnit));
  if (below === null) return above as bigint;
  if (above === null) return below;
  const distanceBelow = state.targetValue - below * state.valuePerUnit;
  const distanceAbove = above * state.valuePerUnit - state.targetValue;
  return distanceAbove < distanceBelow ? above : below;
}

function gcdOf(a: bigint, b: bigint): bigint {
  let x = a < 0n ? -a : a;
  let y = b < 0n ? -b : b;
  while (y !== 0n) [x, y] = [y, x % y];
  return x;
}

function invalidInput(securityId: string, field: string, description: string) {
  return invalidRebalanceInput(`${securityId}: ${description}`, [{ field, description }], [securityId]);
}

function invalidOption(field: string, description: string) {
  return invalidRebalanceInput(`${field} ${description}`, [{ field, description }]);
}

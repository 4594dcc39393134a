// Exact minimisation of the extra drift caused by a binding cash minimum.
//
// Setting. Every security i has its separable optimum b_i (the admissible quantity nearest its target
// value T_i = MV·t_i, the lower one on a tie). When Σ b_i·p_i exceeds the budget MV − minCash by E > 0,
// some positions must end lower. Three facts make the remaining problem small:
//
//  1. Some optimum has u_i ≤ b_i for all i: any u_i > b_i costs at least as much drift as b_i (b_i is the
//     lowest minimiser of |T_i − u·p_i| over the admissible set) and spends more cash.
//  2. Every admissible value strictly below b_i·p_i lies below T_i (otherwise it would be nearer to T_i
//     than b_i). So descending by a value r > 0 changes the drift of security i by exactly r − g_i, where
//     g_i = 2·max(0, b_i·p_i − T_i) is what is won back by crossing the target from above. 0 ≤ g_i ≤ r_1,i,
//     with r_1,i the smallest possible descent.
//  3. Hence: minimise Σ_{i descends} (r_i − g_i) subject to Σ r_i ≥ E, r_i in the admissible descents of i.
//     This is a knapsack (prices differ), so no greedy is exact; we use depth-first branch and bound.
//
// Lower bound. The convex envelope of item i's cost is slope ρ_i = (r_1,i − g_i)/r_1,i on [0, r_1,i] and
// slope 1 beyond. The LP relaxation over a suffix of items sorted by ρ ascending fills first pieces in that
// order, then slope-1 capacity; it is computed from prefix sums with a binary search. Costs are integers in
// the solver's money unit, so the ceiling of the LP value is still a valid bound.
//
// Granularity. Descents come in multiples of a lot's value, while the need E has the solver's finer money
// unit, so a need can rarely be met exactly. Rounding the need of a suffix up to the gcd of its items'
// granularities is exact (no combination can land in between) and is what lets the bound be reached and the
// search stop; without it the search would have to exhaust every near miss to prove the optimum.
//
// Exactness. A node is discarded only when (a) its bound is ≥ the incumbent, (b) it cannot reach E, or
// (c) the same suffix with the same remaining need was already reached at a cost no higher. None of these
// can discard a strictly better solution, and otherwise the search is exhaustive, so when it finishes within
// its node budget the incumbent is optimal. Larger descents of one item only raise that child's unrounded
// bound (its own cost grows 1:1, the suffix's LP falls by at most 1:1), so the option loop stops at the first
// descent that this bound prunes.

import { AdmissibleQuantities } from "./admissible-quantities";

/** One security that can descend below its separable optimum. */
export interface DescentItem {
  /** Separable optimum b_i (quantity units). */
  base: bigint;
  domain: AdmissibleQuantities;
  /** Money units per quantity unit (the price at the solver's scales). */
  valuePerUnit: bigint;
  /** g_i in money units. */
  gain: bigint;
  /** Smallest possible descent r_1,i in money units. */
  firstDescent: bigint;
  /** Largest possible descent in money units. */
  maxDescent: bigint;
  /** Every possible descent is a multiple of this (money units), e.g. one lot's value. */
  granularity: bigint;
}

/** Outcome of the branch and bound. */
export interface DescentResult {
  /** Post-trade quantity per item (same order as the input items). */
  quantities: bigint[];
  /** Minimal Σ (r_i − g_i) found, in money units. */
  cost: bigint;
  proven: boolean;
  /** A proven lower bound on the cost. */
  lowerBound: bigint;
  nodes: number;
}

const MEMO_LIMIT = 200_000;

/** Finds the cheapest set of descents freeing at least `excess` money units; null when impossible. */
export function minimizeDescentCost(
  items: DescentItem[],
  excess: bigint,
  nodeLimit: number,
  timeLimitMs = Number.POSITIVE_INFINITY,
): DescentResult | null {
  const deadline = performance.now() + timeLimitMs;
  const order = items.map((_, index) => index).sort((a, b) => compareRates(items[a], items[b]));
  const sorted = order.map((index) => items[index]);
  const n = sorted.length;
  const first = prefixSums(sorted.map((item) => item.firstDescent));
  const firstCost = prefixSums(sorted.map((item) => item.firstDescent - item.gain));
  const extra = prefixSums(sorted.map((item) => item.maxDescent - item.firstDescent));
  const grain = new Array<bigint>(n + 1);
  grain[n] = 0n;
  for (let j = n - 1; j >= 0; j--) grain[j] = gcd(sorted[j].granularity, grain[j + 1]);
  const capacity = (j: number) => first[n] - first[j] + extra[n] - extra[j];
  // The smallest total descent of items j.. that is ≥ need and a multiple of their common granularity.
  const roundNeed = (j: number, need: bigint) => (grain[j] > 1n && need > 0n ? ((need + grain[j] - 1n) / grain[j]) * grain[j] : need);

  // Ceil of the LP relaxation of items j..n−1 needing `need`; null when even all of them cannot free it.
  // Ceil of the LP relaxation of items j..n−1 needing `rawNeed` (rounded to their granularity when `rounded`);
  // null when even all of them cannot free it.
  const relaxation = (j: number, rawNeed: bigint, rounded = true): bigint | null => {
    if (rawNeed <= 0n) return 0n;
    const need = rounded ? roundNeed(j, rawNeed) : rawNeed;
    const firstCapacity = first[n] - first[j];
    if (firstCapacity < need) {
      const rest = need - firstCapacity;
      return rest <= extra[n] - extra[j] ? firstCost[n] - firstCost[j] + rest : null;
    }
    let lo = j;
    let hi = n - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (first[mid + 1] - first[j] >= need) hi = mid;
      else lo = mid + 1;
    }
    const item = sorted[lo];
    const remaining = need - (first[lo] - first[j]);
    const numerator = remaining * (item.firstDescent - item.gain);
    const partial = (numerator + item.firstDescent - 1n) / item.firstDescent;
    return firstCost[lo] - firstCost[j] + partial;
  };

  const rootBound = relaxation(0, excess);
  if (rootBound === null) return null;

  const chosen = sorted.map((item) => item.base);
  // A greedy first incumbent (cheapest rates first, each item freeing what is still needed or all it can)
  // guarantees an answer even if the node budget runs out; the root bound proved it can reach `excess`.
  let best: bigint[] | null = greedyIncumbent(sorted, excess);
  let bestCost = best === null ? 0n : costOf(sorted, best);
  let nodes = 0;
  let aborted = false;
  const memo = new Map<string, bigint>();

  const search = (j: number, need: bigint, cost: bigint): void => {
    if (aborted) return;
    if (need <= 0n) {
      if (best === null || cost < bestCost) {
        best = chosen.slice();
        bestCost = cost;
      }
      return;
    }
    if (j === n) return;
    if (++nodes > nodeLimit || ((nodes & 255) === 0 && performance.now() > deadline)) {
      aborted = true;
      return;
    }
    const key = `${j}:${roundNeed(j, need)}`;
    const seen = memo.get(key);
    if (seen !== undefined && seen <= cost) return;
    if (memo.size < MEMO_LIMIT) memo.set(key, cost);

    const item = sorted[j];
    // Descents so small that the items after j could not cover the rest are skipped in one jump.
    const shortfall = need - capacity(j + 1);
    const firstUnits = shortfall > 0n ? (shortfall + item.valuePerUnit - 1n) / item.valuePerUnit : 1n;
    let quantity: bigint | null = item.domain.floor(item.base - firstUnits);
    while (quantity !== null) {
      const descent = (item.base - quantity) * item.valuePerUnit;
      const childCost = cost + descent - item.gain;
      // The unrounded bound never decreases as the descent grows, so once it prunes, every larger descent is
      // pruned too; the rounded bound is tighter but can drop by a whole grain, so it only skips this child.
      const monotone = relaxation(j + 1, need - descent, false);
      if (monotone !== null) {
        if (best !== null && childCost + monotone >= bestCost) break;
        const childBound = relaxation(j + 1, need - descent);
        if (childBound !== null && (best === null || childCost + childBound < bestCost)) {
          chosen[j] = quantity;
          search(j + 1, need - descent, childCost);
          chosen[j] = item.base;
        }
      }
      if (descent >= need || aborted) break;
      quantity = item.domain.floor(quantity - 1n);
    }
    const skipBound = relaxation(j + 1, need);
    if (skipBound !== null && (best === null || cost + skipBound < bestCost)) search(j + 1, need, cost);
  };

  search(0, excess, 0n);
  if (best === null) return null;
  const found: bigint[] = best;
  const quantities = new Array<bigint>(n);
  order.forEach((originalIndex, sortedIndex) => {
    quantities[originalIndex] = found[sortedIndex];
  });
  return { quantities, cost: bestCost, proven: !aborted, lowerBound: aborted ? rootBound : bestCost, nodes };
}

function greedyIncumbent(sorted: DescentItem[], excess: bigint): bigint[] | null {
  const quantities = sorted.map((item) => item.base);
  let need = excess;
  for (let j = 0; j < sorted.length && need > 0n; j++) {
    const item = sorted[j];
    const units = (need + item.valuePerUnit - 1n) / item.valuePerUnit;
    const quantity = item.domain.floor(item.base - units) ?? item.domain.ceil(item.domain.lo);
    if (quantity === null || quantity >= item.base) continue;
    quantities[j] = quantity;
    need -= (item.base - quantity) * item.valuePerUnit;
  }
  return need <= 0n ? quantities : null;
}

function costOf(sorted: DescentItem[], quantities: bigint[]): bigint {
  let cost = 0n;
  sorted.forEach((item, j) => {
    if (quantities[j] < item.base) cost += (item.base - quantities[j]) * item.valuePerUnit - item.gain;
  });
  return cost;
}

// ρ_a < ρ_b  ⇔  (r_a − g_a)·r_b < (r_b − g_b)·r_a, kept in integers.
function compareRates(a: DescentItem, b: DescentItem): number {
  const left = (a.firstDescent - a.gain) * b.firstDescent;
  const right = (b.firstDescent - b.gain) * a.firstDescent;
  return left < right ? -1 : left > right ? 1 : 0;
}

function gcd(a: bigint, b: bigint): bigint {
  while (b !== 0n) [a, b] = [b, a % b];
  return a < 0n ? -a : a;
}

function prefixSums(values: bigint[]): bigint[] {
  const sums = new Array<bigint>(values.length + 1);
  sums[0] = 0n;
  for (let i = 0; i < values.length; i++) sums[i + 1] = sums[i] + values[i];
  return sums;
}

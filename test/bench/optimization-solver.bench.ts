// The exact rebalancing solver on one 100-position portfolio against HiGHS solving the same MILP in the same
// run. Target (issue 6): exact p50 ≤ 1 ms and ≥ 100× faster than HiGHS. Portfolios with a binding cash
// minimum (the branch-and-bound path) are measured and reported alongside, against HiGHS as well.
import Decimal from "decimal.js";
import loadHighs from "highs";
import type { RebalanceProblem, SecurityInput } from "../../services/optimization/domain/rebalance-problem";
import { solveRebalance } from "../../services/optimization/domain/solve-rebalance";
import { rebalanceMilpText } from "../../services/optimization/solver/highs-rebalance";
import { percentile, report } from "./support/report";

const POSITIONS = 100;
const PORTFOLIOS = 40;
const EXACT_REPEATS = 25;
const HIGHS_PORTFOLIOS = 8;
const HIGHS_BINDING_PORTFOLIOS = 3;

function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// 90 positions at 1% and 10 at 0.5% (Σ = 0.95), ±0.5% bands as in the GlobeCo benchmark workload, random
// holdings and prices in cents. `cashBuffer` is the cash minimum as a fraction of MV beyond the 5% the
// targets leave: 0 means the cash minimum does not bind.
function portfolio(seed: number, cashBuffer: number): RebalanceProblem {
  const rnd = random(seed);
  const int = (lo: number, hi: number) => lo + Math.floor(rnd() * (hi - lo + 1));
  const securities: SecurityInput[] = Array.from({ length: POSITIONS }, (_, i) => ({
    securityId: `SEC${String(i).padStart(21, "0")}`,
    quantity: String(int(0, 500)),
    price: new Decimal(int(500, 50000)).div(100).toFixed(),
    target: i < 90 ? "0.01" : "0.005",
    lowDrift: "0.005",
    highDrift: "0.005",
    lotSize: "1",
  }));
  const cash = new Decimal(int(100_000, 5_000_000)).div(100);
  const mv = securities.reduce((sum, s) => sum.plus(new Decimal(s.quantity).times(s.price)), cash);
  const minCash = cashBuffer === 0 ? "0" : mv.times(0.05 + cashBuffer).toDecimalPlaces(2).toFixed();
  return { cash: cash.toFixed(), securities, options: { minCash, minTradeNotional: "0", mode: "FULL", onlyOutOfBand: false } };
}

function timeExact(problems: RebalanceProblem[], repeats: number): { times: number[]; proven: number; binding: number } {
  const times: number[] = [];
  let proven = 0;
  let binding = 0;
  for (const problem of problems) {
    for (let r = 0; r < repeats; r++) {
      const started = performance.now();
      const solution = solveRebalance(problem);
      times.push(performance.now() - started);
      if (r === 0 && solution.proven) proven++;
      if (r === 0 && solution.cashBinding) binding++;
    }
  }
  return { times, proven, binding };
}

async function main(): Promise<void> {
  const highs = await loadHighs();
  // HiGHS's time per solve; a solve that hits the time limit (or fails) counts as the limit, a lower bound
  // on its real time, and is counted in `unfinished`.
  let unfinished = 0;
  const timeHighs = (problems: RebalanceProblem[], timeLimitSeconds: number) =>
    problems.map((problem) => {
      const text = rebalanceMilpText(problem);
      const started = performance.now();
      try {
        const result = highs.solve(text, { output_flag: false, mip_rel_gap: 0, time_limit: timeLimitSeconds });
        if (result.Status !== "Optimal") unfinished++;
      } catch {
        unfinished++;
        return timeLimitSeconds * 1000;
      }
      return performance.now() - started;
    });

  const separable = Array.from({ length: PORTFOLIOS }, (_, i) => portfolio(i + 1, 0));
  const binding = Array.from({ length: PORTFOLIOS }, (_, i) => portfolio(i + 1, 0.002));
  timeExact(separable.slice(0, 5), 20); // warm-up: JIT and BigInt paths
  const exactSeparable = timeExact(separable, EXACT_REPEATS);
  const exactBinding = timeExact(binding, 3);
  const highsSeparable = timeHighs(separable.slice(0, HIGHS_PORTFOLIOS), 10);
  const highsBinding = timeHighs(binding.slice(0, HIGHS_BINDING_PORTFOLIOS), 5);

  const p50 = percentile(exactSeparable.times, 50);
  const p50Binding = percentile(exactBinding.times, 50);
  report({
    name: "optimization-solver",
    checks: [
      { label: "exact solver p50, 100 positions", value: p50, target: 1, kind: "max", unit: " ms" },
      { label: "HiGHS p50 / exact p50 (same MILP)", value: percentile(highsSeparable, 50) / p50, target: 100, kind: "min" },
    ],
    measurements: {
      positions: POSITIONS,
      exactSeparableMs: { p50, p90: percentile(exactSeparable.times, 90), p99: percentile(exactSeparable.times, 99), samples: exactSeparable.times.length },
      highsSeparableMs: { p50: percentile(highsSeparable, 50), max: Math.max(...highsSeparable), samples: highsSeparable.length },
      exactCashBindingMs: {
        p50: p50Binding,
        p90: percentile(exactBinding.times, 90),
        max: Math.max(...exactBinding.times),
        provenOptimal: `${exactBinding.proven}/${binding.length}`,
        cashBinding: `${exactBinding.binding}/${binding.length}`,
      },
      highsCashBindingMs: { p50: percentile(highsBinding, 50), max: Math.max(...highsBinding), samples: highsBinding.length },
      cashBindingRatioHighsOverExact: percentile(highsBinding, 50) / p50Binding,
      highsUnfinished: unfinished,
    },
  });
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});

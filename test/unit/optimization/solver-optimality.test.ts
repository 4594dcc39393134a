// The exact solver against HiGHS on random instances: same feasibility verdict, same optimal objective, and an
// answer that passes an independent Decimal check of every rule. Each instance costs one HiGHS call (about 10 ms
// of CPU even for three securities, most of it the MILP machinery starting up), so the default run is a few
// hundred small instances, which cover every rule and the binding cash minimum many times over, plus a handful
// of model-sized ones; OPTIMALITY_INSTANCES raises the small count for a soak (thousands in a nightly run).
import { expect } from "chai";
import Decimal from "decimal.js";
import loadHighs, { Highs } from "highs";
import { DomainError } from "../../../services/optimization/domain/optimization-error";
import { RebalanceMode, RebalanceProblem, SecurityInput } from "../../../services/optimization/domain/rebalance-problem";
import { solveRebalance } from "../../../services/optimization/domain/solve-rebalance";
import { solveRebalanceWithHighs } from "../../../services/optimization/solver/highs-rebalance";
import { objectiveOf, violations } from "./rebalance-fixtures";

const INSTANCES = Number(process.env.OPTIMALITY_INSTANCES ?? 250);
// Model-sized instances (tens of securities, the cash minimum near what the targets leave over).
// Seeds chosen so that the cash minimum binds in two of them, one is separable and one infeasible.
const LARGE_SEEDS = [9, 14, 3, 1];

// mulberry32: a tiny seeded generator so a failure names a reproducible instance.
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

function instance(seed: number, size: "small" | "large" = "small"): RebalanceProblem {
  const rnd = random(seed);
  const int = (lo: number, hi: number) => lo + Math.floor(rnd() * (hi - lo + 1));
  const pick = <T>(values: T[]) => values[int(0, values.length - 1)];
  const modelSize = size === "small" ? int(1, 5) : int(20, 40);
  const securities: SecurityInput[] = [];
  let targetLeft = 190; // in steps of 0.005, Σ targets ≤ 0.95
  for (let i = 0; i < modelSize; i++) {
    const steps = int(0, Math.min(targetLeft, size === "small" ? 80 : 10));
    targetLeft -= steps;
    const lot = pick(["1", "1", "1", "5", "10"]);
    const held = rnd() < 0.5 ? int(0, size === "small" ? 150 : 600) : 0;
    const quantity = rnd() < 0.85 ? String(held - (held % Number(lot))) : String(held);
    const drift = () => (rnd() < 0.2 ? pick(["0", "0.001", "0.002"]) : new Decimal(int(0, 20)).times("0.005").toFixed());
    securities.push({
      securityId: `S${i}`,
      quantity,
      price: new Decimal(int(500, 30000)).div(100).toFixed(),
      target: new Decimal(steps).times("0.005").toFixed(),
      lowDrift: drift(),
      highDrift: drift(),
      lotSize: lot,
    });
  }
  for (let j = int(0, 2); j > 0; j--) {
    securities.push({ securityId: `H${j}`, quantity: String(int(1, 60)), price: new Decimal(int(100, 20000)).div(100).toFixed(), target: "0", lowDrift: "0", highDrift: "0", lotSize: "1" });
  }
  const cash = new Decimal(int(0, 1_000_000)).div(100);
  const mv = securities.reduce((sum, s) => sum.plus(new Decimal(s.quantity).times(s.price)), cash);
  return {
    cash: cash.toFixed(),
    securities,
    options: {
      // Near the cash the targets leave over, so that the cash minimum binds in many instances.
      minCash: rnd() < 0.3 ? "0" : Decimal.max(0, mv.times(1 - (190 - targetLeft) * 0.005 + (int(0, 60) - 30) / 1000)).toDecimalPlaces(2).toFixed(),
      minTradeNotional: rnd() < 0.7 ? "0" : String(int(1, 500)),
      mode: pick<RebalanceMode>(["FULL", "FULL", "FULL", "FULL", "BUY_ONLY", "SELL_ONLY"]),
      onlyOutOfBand: rnd() < 0.2,
    },
  };
}

/** Solves `problem` both ways and asserts they agree; returns what kind of instance it was. */
function compareWithHighs(highs: Highs, problem: RebalanceProblem, label: string): "infeasible" | "separable" | "cash binding" {
  const reference = solveRebalanceWithHighs(highs, problem, 5);
  let exact: ReturnType<typeof solveRebalance> | null = null;
  try {
    exact = solveRebalance(problem);
  } catch (error) {
    if (!(error instanceof DomainError) || error.code !== "NO_FEASIBLE_SOLUTION") throw error;
  }
  label = `${label}: ${JSON.stringify(problem)}`;
  if (exact === null) {
    expect(reference.status, label).to.equal("INFEASIBLE");
    return "infeasible";
  }
  expect(reference.status, label).to.equal("OPTIMAL");
  if (reference.status !== "OPTIMAL") throw new Error("unreachable");
  expect(exact.proven, label).to.equal(true);
  expect(violations(problem, exact.quantities), label).to.deep.equal([]);
  expect(objectiveOf(problem, exact.quantities).toFixed(), label).to.equal(exact.objective);
  const gap = Math.abs(Number(exact.objective) - reference.objective);
  expect(gap, `${label}\nexact ${exact.objective} (${exact.quantities}) vs HiGHS ${reference.objective} (${reference.quantities})`).to.be.below(1e-6 * Math.max(1, reference.objective));
  return exact.cashBinding ? "cash binding" : "separable";
}

describe("exact rebalancing solver against HiGHS", () => {
  let highs: Highs;
  before(async () => {
    highs = await loadHighs();
  });

  it(`finds the same optimal objective as HiGHS on ${INSTANCES} small random instances, cash binding included`, function () {
    this.timeout(60_000);
    const kinds = { infeasible: 0, separable: 0, "cash binding": 0 };
    for (let seed = 1; seed <= INSTANCES; seed++) kinds[compareWithHighs(highs, instance(seed), `seed ${seed}`)]++;
    expect(kinds.separable + kinds["cash binding"]).to.be.above(INSTANCES / 3);
    expect(kinds.infeasible).to.be.above(INSTANCES / 20);
    expect(kinds["cash binding"]).to.be.above(INSTANCES / 10);
  });

  it("finds the same optimal objective as HiGHS on model-sized instances where the cash minimum binds", function () {
    this.timeout(60_000);
    const kinds = LARGE_SEEDS.map((seed) => compareWithHighs(highs, instance(seed, "large"), `large seed ${seed}`));
    expect(kinds).to.deep.equal(["cash binding", "cash binding", "separable", "infeasible"]);
  });
});

import { expect } from "chai";
import { DomainError, securityIdsOf } from "../../../services/optimization/domain/optimization-error";
import { RebalanceProblem } from "../../../services/optimization/domain/rebalance-problem";
import { solveRebalance } from "../../../services/optimization/domain/solve-rebalance";
import { FULL, objectiveOf, security, violations } from "./rebalance-fixtures";

function failure(problem: RebalanceProblem): DomainError {
  try {
    solveRebalance(problem);
  } catch (error) {
    if (error instanceof DomainError) return error;
    throw error;
  }
  throw new Error("expected the solve to fail");
}

// Reference §3.8: cash 10,000; X 100 @ 50 (model 0.50), Y not held @ 37 (model 0.40), Z 20 @ 10 (not in model).
const workedExample: RebalanceProblem = {
  cash: "10000",
  securities: [security("X", "100", "50", "0.50"), security("Y", "0", "37", "0.40"), security("Z", "20", "10", "0", "0")],
  options: FULL,
};

describe("solveRebalance", () => {
  describe("the reference's own examples", () => {
    it("gives the worked example's trades (BUY X 52, BUY Y 164, SELL Z 20) and the true cash after", () => {
      const solution = solveRebalance(workedExample);
      expect(solution.quantities).to.deep.equal(["152", "164", "0"]);
      expect(solution.marketValue).to.equal("15200");
      expect(solution.cashAfter).to.equal("1532");
      expect(solution.objective).to.equal("12");
      expect(solution.method).to.equal("SEPARABLE");
      expect(solution.proven).to.equal(true);
    });

    it("answers NO_FEASIBLE_SOLUTION where the reference returned 1 share outside [996.45, 998.55]", () => {
      const error = failure({ cash: "50", securities: [security("TIGHT", "1", "1000", "0.95", "0.001")], options: FULL });
      expect(error.code).to.equal("NO_FEASIBLE_SOLUTION");
      expect(securityIdsOf(error)).to.deep.equal(["TIGHT"]);
      expect(error.message).to.contain("TIGHT");
    });

    it("names only the security whose bounds admit no integer (the reference bought 119 × 400 > 47,595)", () => {
      const error = failure({
        cash: "95000",
        securities: [security("A", "0", "400", "0.50", "0.001"), security("B", "0", "400", "0.40", "0.001")],
        options: FULL,
      });
      expect(error.code).to.equal("NO_FEASIBLE_SOLUTION");
      expect(securityIdsOf(error)).to.deep.equal(["A"]);
    });

    it("rebalances a single-position portfolio to 900 shares", () => {
      const solution = solveRebalance({ cash: "5000", securities: [security("S", "950", "100", "0.90", "0.05")], options: FULL });
      expect(solution.quantities).to.deep.equal(["900"]);
      expect(solution.cashAfter).to.equal("10000");
    });

    it("buys one share each in the minimum viable portfolio and stays within its cash", () => {
      const solution = solveRebalance({
        cash: "100",
        securities: [security("A", "0", "50", "0.5", "0.5"), security("B", "0", "40", "0.4", "0.4")],
        options: FULL,
      });
      expect(solution.quantities).to.deep.equal(["1", "1"]);
      expect(solution.cashAfter).to.equal("10");
    });

    it("rejects a portfolio whose market value is not positive", () => {
      const error = failure({ cash: "0", securities: [security("A", "0", "50", "0.5")], options: FULL });
      expect(error.code).to.equal("NON_POSITIVE_MARKET_VALUE");
      expect(error.message).to.equal("Market value must be positive");
    });
  });

  describe("the cash minimum", () => {
    it("keeps cash after trading above the minimum with the least extra drift", () => {
      const problem = { ...workedExample, options: { ...FULL, minCash: "2000" } };
      const solution = solveRebalance(problem);
      // X may fall to 146 and Y to 157 within their bands; freeing ≥ 468 costs at least 5·50 + 6·37 = 472.
      expect(solution.quantities).to.deep.equal(["147", "158", "0"]);
      expect(solution.cashAfter).to.equal("2004");
      expect(solution.objective).to.equal("484");
      expect(solution.cashBinding).to.equal(true);
      expect(solution.method).to.equal("BRANCH_AND_BOUND");
      expect(solution.proven).to.equal(true);
      expect(violations(problem, solution.quantities)).to.deep.equal([]);
    });

    it("prefers cutting a position that overshoots its target over one below it", () => {
      // MV 1,000. A (90) rounds up to 540 against a 500 target; B (40) rounds down to 440 against 450.
      // Freeing 30 by selling one A adds 10 of drift; selling one B would add 40.
      const problem: RebalanceProblem = {
        cash: "1000",
        securities: [security("A", "0", "90", "0.5", "0.45"), security("B", "0", "40", "0.45", "0.45")],
        options: { ...FULL, minCash: "50" },
      };
      const solution = solveRebalance(problem);
      expect(solution.quantities).to.deep.equal(["5", "11"]);
      expect(solution.objective).to.equal("60");
      expect(violations(problem, solution.quantities)).to.deep.equal([]);
    });

    it("answers NO_FEASIBLE_SOLUTION with reason MIN_CASH when the bands cannot free enough cash", () => {
      const error = failure({ ...workedExample, options: { ...FULL, minCash: "5000" } });
      expect(error.code).to.equal("NO_FEASIBLE_SOLUTION");
      expect(error.metadata?.reason).to.equal("MIN_CASH");
    });

    it("still returns a feasible answer, flagged unproven, when the node budget runs out", () => {
      const problem = { ...workedExample, options: { ...FULL, minCash: "2000", nodeLimit: 1 } };
      const solution = solveRebalance(problem);
      expect(solution.proven).to.equal(false);
      expect(violations(problem, solution.quantities)).to.deep.equal([]);
      expect(Number(solution.lowerBound)).to.be.at.most(Number(solution.objective));
    });
  });

  describe("options beyond the reference", () => {
    it("buys whole lots only", () => {
      const solution = solveRebalance({ cash: "100000", securities: [security("L", "0", "12.34", "0.5", "0.05", "100")], options: FULL });
      expect(solution.quantities).to.deep.equal(["4100"]);
    });

    it("keeps an odd-lot holding untouched when it is already close enough", () => {
      const problem: RebalanceProblem = {
        cash: "5000",
        securities: [security("L", "437", "10", "0.45", "0.05", "100")],
        options: FULL,
      };
      // MV 9,370: target 4,216.5; grid 400 → 4,000 (drift 216.5) vs keeping 437 → 4,370 (drift 153.5).
      expect(solveRebalance(problem).quantities).to.deep.equal(["437"]);
    });

    it("suppresses a trade smaller than the minimum notional", () => {
      const problem: RebalanceProblem = {
        cash: "1000",
        securities: [security("A", "98", "10", "0.5", "0.1")],
        options: { ...FULL, minTradeNotional: "100" },
      };
      // MV 1,980: the target 99 shares is a 10.00 trade, below 100, so the holding stays.
      expect(solveRebalance(problem).quantities).to.deep.equal(["98"]);
      expect(solveRebalance({ ...problem, options: FULL }).quantities).to.deep.equal(["99"]);
    });

    it("still closes a small position that left the model, whatever the minimum notional", () => {
      const problem = { ...workedExample, options: { ...FULL, minTradeNotional: "500" } };
      expect(solveRebalance(problem).quantities).to.deep.equal(["152", "164", "0"]);
    });

    it("never sells in BUY_ONLY mode and names the overweight security it cannot fix", () => {
      const ok = solveRebalance({ ...workedExample, securities: workedExample.securities.slice(0, 2), options: { ...FULL, mode: "BUY_ONLY" } });
      expect(ok.quantities).to.deep.equal(["150", "162"]);
      const error = failure({ ...workedExample, options: { ...FULL, mode: "BUY_ONLY" } });
      expect(securityIdsOf(error)).to.deep.equal(["Z"]);
    });

    it("never buys in SELL_ONLY mode", () => {
      const problem: RebalanceProblem = {
        cash: "0",
        securities: [security("A", "30", "10", "0.5", "0.5"), security("B", "10", "10", "0.4", "0.4")],
        options: { ...FULL, mode: "SELL_ONLY" },
      };
      const solution = solveRebalance(problem);
      expect(solution.quantities).to.deep.equal(["20", "10"]);
      expect(violations(problem, solution.quantities)).to.deep.equal([]);
    });

    it("leaves positions inside their drift band alone when only out-of-band positions may trade", () => {
      // MV 1,400: IN is worth 400 against 350 ± 70, inside its band; OUT is 0 against 700 ± 70.
      const problem: RebalanceProblem = {
        cash: "1000",
        securities: [security("IN", "40", "10", "0.25", "0.05"), security("OUT", "0", "10", "0.5", "0.05")],
        options: { ...FULL, onlyOutOfBand: true },
      };
      expect(solveRebalance(problem).quantities).to.deep.equal(["40", "70"]);
      expect(solveRebalance({ ...problem, options: FULL }).quantities).to.deep.equal(["35", "70"]);
    });

    it("handles fractional lots, fractional prices and large market values exactly", () => {
      const problem: RebalanceProblem = {
        cash: "1234567890123.45",
        securities: [
          security("F", "0.5", "0.000123", "0.3", "0.001", "0.001"),
          security("G", "1000000", "98765.4321", "0.6", "0.01", "1"),
        ],
        options: FULL,
      };
      const solution = solveRebalance(problem);
      expect(violations(problem, solution.quantities)).to.deep.equal([]);
      expect(objectiveOf(problem, solution.quantities).toFixed()).to.equal(solution.objective);
    });
  });
});

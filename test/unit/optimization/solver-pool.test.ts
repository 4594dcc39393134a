import { expect } from "chai";
import Decimal from "decimal.js";
import { DomainError } from "../../../services/platform/errors";
import { RebalanceProblem } from "../../../services/optimization/domain/rebalance-problem";
import { createSolverPool, SolverPool } from "../../../services/optimization/solver/solver-pool";
import { FULL, security } from "./rebalance-fixtures";

const workedExample: RebalanceProblem = {
  cash: "10000",
  securities: [security("X", "100", "50", "0.50"), security("Y", "0", "37", "0.40"), security("Z", "20", "10", "0", "0")],
  options: FULL,
};

// 100 positions whose cash minimum binds hard: a few hundred milliseconds of branch and bound each.
function heavyProblem(): RebalanceProblem {
  const securities = Array.from({ length: 100 }, (_, i) =>
    security(`S${i}`, String((i * 37) % 500), new Decimal(500 + ((i * 7919) % 49500)).div(100).toFixed(), i < 90 ? "0.01" : "0.005", "0.005"),
  );
  const cash = new Decimal("25000.37");
  const mv = securities.reduce((sum, s) => sum.plus(new Decimal(s.quantity).times(s.price)), cash);
  return { cash: cash.toFixed(), securities, options: { ...FULL, minCash: mv.times("0.08").toDecimalPlaces(2).toFixed(), nodeLimit: 100_000 } };
}

describe("solver pool", () => {
  let pool: SolverPool;
  before(() => {
    pool = createSolverPool(2);
  });
  after(async () => {
    await pool.close();
  });

  it("solves in a worker thread and returns the same answer as the inline solver", async () => {
    const { solution, solverTimeMs } = await pool.solve(workedExample);
    expect(solution.quantities).to.deep.equal(["152", "164", "0"]);
    expect(solverTimeMs).to.be.above(0);
  });

  it("brings a worker's domain failure back as a DomainError with its code and securities", async () => {
    const problem: RebalanceProblem = { cash: "50", securities: [security("TIGHT", "1", "1000", "0.95", "0.001")], options: FULL };
    const error = await pool.solve(problem).then(
      () => null,
      (e: unknown) => e,
    );
    expect(error).to.be.instanceOf(DomainError);
    expect((error as DomainError).code).to.equal("NO_FEASIBLE_SOLUTION");
    expect((error as DomainError).metadata).to.deep.include({ security_ids: "TIGHT" });
  });

  it("keeps the event loop free while hard problems solve", async function () {
    this.timeout(60_000);
    let ticks = 0;
    const timer = setInterval(() => ticks++, 1);
    const results = await Promise.all([heavyProblem(), heavyProblem(), heavyProblem(), heavyProblem()].map((p) => pool.solve(p)));
    clearInterval(timer);
    const totalSolverMs = results.reduce((sum, r) => sum + r.solverTimeMs, 0);
    expect(results.every((r) => r.solution.cashBinding)).to.equal(true);
    // Solving on the main thread would leave no tick at all until every solve had finished.
    expect(ticks).to.be.above(Math.min(5, totalSolverMs / 20));
  });
});

import { expect } from "chai";
import Decimal from "decimal.js";
import { DomainError } from "../../../services/platform/errors";
import { buildProposal } from "../../../services/optimization/domain/build-proposal";
import { buildRebalanceProblem, RebalanceSettings } from "../../../services/optimization/domain/build-rebalance-problem";
import { ModelPosition } from "../../../services/optimization/domain/investment-model";
import { securityIdsOf } from "../../../services/optimization/domain/optimization-error";
import { planProposalOrders } from "../../../services/optimization/domain/proposal-orders";
import { solveRebalance } from "../../../services/optimization/domain/solve-rebalance";

const d = (v: string) => new Decimal(v);
const X = "X".repeat(24);
const Y = "Y".repeat(24);
const Z = "Z".repeat(24);
const positions: ModelPosition[] = [
  { securityId: X, target: d("0.50"), lowDrift: d("0.02"), highDrift: d("0.02") },
  { securityId: Y, target: d("0.40"), lowDrift: d("0.02"), highDrift: d("0.02") },
];
const snapshot = { cash: d("10000"), holdings: [{ securityId: X, quantity: d("100") }, { securityId: Z, quantity: d("20") }] };
const prices = new Map([[X, d("50")], [Y, d("37")], [Z, d("10")]]);
const settings: RebalanceSettings = { minCash: d("0"), minTradeNotional: d("0"), mode: "FULL", onlyOutOfBand: false, useLotSize: false };

describe("rebalance proposals", () => {
  it("sells the held security outside the model and reports post-trade weights to 4 decimals (reference §3.8)", () => {
    const problem = buildRebalanceProblem(snapshot, positions, prices, new Map(), settings);
    expect(problem.securities.map((s) => [s.securityId, s.target, s.quantity])).to.deep.equal([
      [X, "0.5", "100"],
      [Y, "0.4", "0"],
      [Z, "0", "20"],
    ]);
    const proposal = buildProposal(problem, solveRebalance(problem));
    expect(proposal.trades.map((t) => [t.leg, t.side, t.securityId, t.quantity.toFixed(), t.estimatedNotional.toFixed()])).to.deep.equal([
      [1, "SELL", Z, "20", "200"],
      [2, "BUY", X, "52", "2600"],
      [3, "BUY", Y, "164", "6068"],
    ]);
    expect(proposal.marketValue.toFixed()).to.equal("15200");
    expect(proposal.cashBefore.toFixed()).to.equal("10000");
    expect(proposal.cashAfter.toFixed()).to.equal("1532");
    const drift = Object.fromEntries(proposal.drifts.map((x) => [x.securityId, x]));
    expect(drift[X].weightBefore.toFixed(4)).to.equal("0.3289");
    expect(drift[X].weightAfter.toFixed(4)).to.equal("0.5000");
    expect(drift[Y].weightAfter.toFixed(4)).to.equal("0.3992");
    expect(drift[Z].weightAfter.toFixed(4)).to.equal("0.0000");
    expect([drift[X].inBandBefore, drift[X].inBandAfter, drift[Y].inBandAfter, drift[Z].inBandBefore]).to.deep.equal([false, true, true, false]);
  });

  it("uses instrument lot sizes only when asked to", () => {
    const lots = new Map([[Y, d("100")]]);
    const withLots = buildRebalanceProblem(snapshot, positions, prices, lots, { ...settings, useLotSize: true });
    expect(withLots.securities.map((s) => s.lotSize)).to.deep.equal(["1", "100", "1"]);
    expect(buildRebalanceProblem(snapshot, positions, prices, lots, settings).securities[1].lotSize).to.equal("1");
  });

  it("answers MISSING_PRICE naming every unpriced security, held or in the model", () => {
    let error: unknown;
    try {
      buildRebalanceProblem(snapshot, positions, new Map([[X, d("50")]]), new Map(), settings);
    } catch (e) {
      error = e;
    }
    expect(error).to.be.instanceOf(DomainError);
    const domainError = error as DomainError;
    expect(domainError.kind).to.equal("failed_precondition");
    expect(domainError.code).to.equal("MISSING_PRICE");
    expect(securityIdsOf(domainError)).to.deep.equal([Y, Z]);
  });

  it("turns a proposal into orders keyed proposal_id:leg, sells first, and skips legs already ordered", () => {
    const problem = buildRebalanceProblem(snapshot, positions, prices, new Map(), settings);
    const { trades } = buildProposal(problem, solveRebalance(problem));
    const plan = planProposalOrders("p1", trades);
    expect(plan.sells.map((o) => o.idempotencyKey)).to.deep.equal(["p1:1"]);
    expect(plan.buys.map((o) => [o.idempotencyKey, o.securityId, o.quantity.toFixed()])).to.deep.equal([
      ["p1:2", X, "52"],
      ["p1:3", Y, "164"],
    ]);
    const again = planProposalOrders("p1", trades, new Set([1, 2, 3]));
    expect([...again.sells, ...again.buys]).to.deep.equal([]);
    expect(planProposalOrders("p1", trades, new Set([1, 3])).buys.map((o) => o.leg)).to.deep.equal([2]);
  });
});

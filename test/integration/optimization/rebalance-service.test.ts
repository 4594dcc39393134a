import { expect } from "chai";
import { randomBytes } from "node:crypto";
import { Status } from "nice-grpc";
import { TransactionType } from "../../../generated/tradeplane/accounting/v1/accounting";
import { Side } from "../../../generated/tradeplane/common/v1/common";
import { RebalanceMode, SolverKind } from "../../../generated/tradeplane/optimization/v1/optimization";
import type { RebalanceModelResponse } from "../../../generated/tradeplane/optimization/v1/rebalance_service";
import { register as registerAccounting } from "../../../services/accounting/main";
import { register } from "../../../services/optimization/main";
import { register as registerOrders } from "../../../services/orders/main";
import { startSystem, type TestSystem } from "../../support/system";
import { FakeMarket } from "./fake-market";
import { failureOf, richClients } from "./rich-client";

const id24 = (prefix: string) => (prefix + randomBytes(12).toString("hex")).slice(0, 24);
const today = () => new Date().toISOString().slice(0, 10).replace(/-/g, "");

describe("RebalanceService against running accounting, orders and market data", function () {
  this.timeout(120_000);
  const market = new FakeMarket();
  const tag = randomBytes(2).toString("hex").toUpperCase();
  const X = id24("SECX");
  const Y = id24("SECY");
  const Z = id24("SECZ");
  let system: TestSystem;
  let rich: Awaited<ReturnType<typeof richClients>>;

  // Reference §3.8: cash 10,000; X 100 @ 50 (model 0.50), Y @ 37 (model 0.40), Z 20 @ 10 (not in the model).
  async function fundedPortfolio(): Promise<string> {
    const portfolioId = id24("PF");
    const source = () => `opt-${randomBytes(8).toString("hex")}`;
    const common = { portfolioId, transactionDate: today() };
    const { failed } = await system.clients.accounting.postTransactions({
      transactions: [
        { ...common, securityId: "", sourceId: source(), transactionType: TransactionType.TRANSACTION_TYPE_DEP, quantity: "15200", price: "1" },
        { ...common, securityId: X, sourceId: source(), transactionType: TransactionType.TRANSACTION_TYPE_BUY, quantity: "100", price: "50" },
        { ...common, securityId: Z, sourceId: source(), transactionType: TransactionType.TRANSACTION_TYPE_BUY, quantity: "20", price: "10" },
      ],
    });
    expect(failed, JSON.stringify(failed)).to.deep.equal([]);
    return portfolioId;
  }

  async function modelFor(portfolios: string[]): Promise<string> {
    const { model } = await system.clients.models.createModel({
      name: `worked-${randomBytes(4).toString("hex")}`,
      positions: [
        { securityId: X, target: "0.50", lowDrift: "0.02", highDrift: "0.02" },
        { securityId: Y, target: "0.40", lowDrift: "0.02", highDrift: "0.02" },
      ],
      portfolios,
    });
    return model!.modelId;
  }

  before(async () => {
    market.add(`X${tag}`, X, "50");
    market.add(`Y${tag}`, Y, "37");
    market.add(`Z${tag}`, Z, "10");
    system = await startSystem([market.register(), registerAccounting, registerOrders, register], { env: { OPTIMIZATION_SOLVER_WORKERS: "2" } });
    rich = await richClients(system);
  });
  after(async () => {
    rich?.close();
    await system?.stop();
  });

  it("rebalances the reference's worked example: SELL Z 20, BUY X 52, BUY Y 164, cash after 1,532", async () => {
    const portfolioId = await fundedPortfolio();
    await modelFor([portfolioId]);
    const { proposal } = await system.clients.rebalance.rebalancePortfolio({ portfolioId });
    expect(proposal!.trades.map((t) => [t.leg, t.side, t.securityId, t.quantity, t.estimatedNotional])).to.deep.equal([
      [1, Side.SIDE_SELL, Z, "20", "200"],
      [2, Side.SIDE_BUY, X, "52", "2600"],
      [3, Side.SIDE_BUY, Y, "164", "6068"],
    ]);
    expect([proposal!.marketValue, proposal!.cashBefore, proposal!.cashAfter, proposal!.objective]).to.deep.equal(["15200", "10000", "1532", "12"]);
    expect(proposal!.solver).to.equal(SolverKind.SOLVER_KIND_SEPARABLE);
    expect(proposal!.optimalityProven).to.equal(true);
    const weights = Object.fromEntries(proposal!.drifts.map((d) => [d.securityId, [d.weightBefore, d.weightAfter]]));
    expect(weights).to.deep.equal({ [X]: ["0.3289", "0.5000"], [Y]: ["0.0000", "0.3992"], [Z]: ["0.0132", "0.0000"] });
    const { proposal: stored } = await system.clients.rebalance.getProposal({ proposalId: proposal!.proposalId });
    expect(stored).to.deep.equal(proposal);
  });

  it("keeps the cash minimum, solving the binding case exactly", async () => {
    const portfolioId = await fundedPortfolio();
    const modelId = await modelFor([portfolioId]);
    const { proposal } = await system.clients.rebalance.rebalancePortfolio({ portfolioId, modelId, options: { minCash: "2000" } });
    expect(proposal!.trades.filter((t) => t.side === Side.SIDE_BUY).map((t) => [t.securityId, t.quantity])).to.deep.equal([[X, "47"], [Y, "158"]]);
    expect([proposal!.cashAfter, proposal!.objective, proposal!.solver]).to.deep.equal(["2004", "484", SolverKind.SOLVER_KIND_BRANCH_AND_BOUND]);
  });

  it("answers FAILED_PRECONDITION NO_FEASIBLE_SOLUTION naming the security, and MISSING_PRICE naming the unpriced", async () => {
    const portfolioId = await fundedPortfolio();
    await modelFor([portfolioId]);
    const buyOnly = await failureOf(rich.rebalance.rebalancePortfolio({ portfolioId, options: { mode: RebalanceMode.REBALANCE_MODE_BUY_ONLY } }));
    expect([buyOnly.code, buyOnly.reason, buyOnly.metadata.security_ids]).to.deep.equal([Status.FAILED_PRECONDITION, "NO_FEASIBLE_SOLUTION", Z]);
    const W = id24("SECW");
    const unpriced = id24("PF");
    const { model } = await system.clients.models.createModel({ name: `w-${randomBytes(4).toString("hex")}`, positions: [], portfolios: [unpriced] });
    market.add(`W${tag}`, W, "10");
    await system.clients.models.upsertModelPosition({ modelId: model!.modelId, position: { securityId: W, target: "0.5", lowDrift: "0.1", highDrift: "0.1" }, version: 0 });
    market.quotes.delete(`W${tag}`);
    await system.clients.accounting.postTransactions({
      transactions: [{ portfolioId: unpriced, securityId: "", sourceId: `opt-${randomBytes(8).toString("hex")}`, transactionType: TransactionType.TRANSACTION_TYPE_DEP, quantity: "1000", price: "1", transactionDate: today() }],
    });
    const missing = await failureOf(rich.rebalance.rebalancePortfolio({ portfolioId: unpriced }));
    expect([missing.code, missing.reason, missing.metadata.security_ids]).to.deep.equal([Status.FAILED_PRECONDITION, "MISSING_PRICE", W]);
  });

  it("says when whole units leave a fractional instrument no quantity in its band, and rebalances in lots when asked", async () => {
    const C = id24("SECC");
    market.add(`C${tag}`, C, "60000", "0.0001");
    const portfolioId = id24("PF");
    await system.clients.accounting.postTransactions({
      transactions: [{ portfolioId, securityId: "", sourceId: `opt-${randomBytes(8).toString("hex")}`, transactionType: TransactionType.TRANSACTION_TYPE_DEP, quantity: "1000", price: "1", transactionDate: today() }],
    });
    const { model } = await system.clients.models.createModel({
      name: `frac-${randomBytes(4).toString("hex")}`,
      positions: [{ securityId: C, target: "0.5", lowDrift: "0.02", highDrift: "0.02" }],
      portfolios: [portfolioId],
    });
    // One unit is worth 60 times the portfolio: in whole units the band 0.48-0.52 holds no quantity.
    const whole = await failureOf(rich.rebalance.rebalancePortfolio({ portfolioId, modelId: model!.modelId }));
    expect([whole.code, whole.reason, whole.metadata.security_ids]).to.deep.equal([Status.FAILED_PRECONDITION, "NO_FEASIBLE_SOLUTION", C]);
    expect(whole.message).to.equal(
      `No feasible solution: no admissible quantity within the drift bounds for ${C}, in whole units; ` +
        `C${tag} can be traded in fractions: set options.use_lot_size to use their lot sizes`,
    );
    const { proposal } = await system.clients.rebalance.rebalancePortfolio({ portfolioId, modelId: model!.modelId, options: { useLotSize: true } });
    expect(proposal!.trades.map((t) => [t.side, t.securityId, t.quantity])).to.deep.equal([[Side.SIDE_BUY, C, "0.0083"]]);
  });

  it("executes a proposal once: calling ExecuteProposal twice submits one set of orders, sells first", async () => {
    const portfolioId = await fundedPortfolio();
    await modelFor([portfolioId]);
    const { proposal } = await system.clients.rebalance.rebalancePortfolio({ portfolioId });
    const first = await system.clients.rebalance.executeProposal({ proposalId: proposal!.proposalId });
    expect(first.legs.map((l) => [l.leg, l.idempotencyKey, l.side, l.errorCode])).to.deep.equal([
      [1, `${proposal!.proposalId}:1`, Side.SIDE_SELL, ""],
      [2, `${proposal!.proposalId}:2`, Side.SIDE_BUY, ""],
      [3, `${proposal!.proposalId}:3`, Side.SIDE_BUY, ""],
    ]);
    expect([first.submittedCount, first.failedCount]).to.deep.equal([3, 0]);
    const second = await system.clients.rebalance.executeProposal({ proposalId: proposal!.proposalId });
    expect(second.legs.map((l) => l.orderId)).to.deep.equal(first.legs.map((l) => l.orderId));
    expect(second.legs.every((l) => l.replayed)).to.equal(true);
    const { orders } = await system.clients.orders.listOrders({ portfolioId, pageSize: 100 });
    expect(orders.map((o) => o.idempotencyKey).sort()).to.deep.equal([1, 2, 3].map((leg) => `${proposal!.proposalId}:${leg}`));
    const { proposal: executed } = await system.clients.rebalance.getProposal({ proposalId: proposal!.proposalId });
    expect(executed!.execution!.orderIds).to.deep.equal(first.legs.map((l) => l.orderId));
  });

  it("streams one result per portfolio of a model and a summary, sharing one rebalance id", async () => {
    const portfolios = [await fundedPortfolio(), await fundedPortfolio(), await fundedPortfolio()];
    const modelId = await modelFor(portfolios);
    const frames: RebalanceModelResponse[] = [];
    for await (const frame of system.clients.rebalance.rebalanceModel({ modelId, concurrency: 2 })) frames.push(frame);
    const results = frames.flatMap((f) => (f.frame?.$case === "portfolioResult" ? [f.frame.value] : []));
    const summary = frames[frames.length - 1].frame;
    expect(results.map((r) => r.portfolioId).sort()).to.deep.equal([...portfolios].sort());
    expect(results.every((r) => r.outcome?.$case === "proposal")).to.equal(true);
    expect(summary?.$case).to.equal("summary");
    if (summary?.$case !== "summary") return;
    expect([summary.value.portfoliosTotal, summary.value.succeeded, summary.value.failed, summary.value.tradesTotal]).to.deep.equal([3, 3, 0, 9]);
    const { proposals } = await system.clients.rebalance.listProposals({ rebalanceId: summary.value.rebalanceId });
    expect(proposals).to.have.length(3);
  });
});

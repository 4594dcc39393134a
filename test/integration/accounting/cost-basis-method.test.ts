import { randomBytes } from "node:crypto";
import { expect } from "chai";
import { ClientError, Status } from "nice-grpc";
import { CostBasisMethod, TransactionType } from "../../../generated/tradeplane/accounting/v1/accounting";
import { register } from "../../../services/accounting/main";
import { startSystem, type TestSystem } from "../../support/system";

const id24 = () => randomBytes(12).toString("hex");

async function failure(promise: Promise<unknown>): Promise<ClientError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof ClientError) return error;
    throw error;
  }
  throw new Error("expected the call to fail");
}

describe("SetCostBasisMethod", () => {
  let system: TestSystem;
  before(async () => {
    system = await startSystem([register]);
  });
  after(async () => {
    await system?.stop();
  });

  const trade = (portfolioId: string, securityId: string, n: number, type: TransactionType, quantity: string, price: string) => ({
    portfolioId,
    securityId,
    sourceId: `cb${n}-${portfolioId}`,
    transactionType: type,
    quantity,
    price,
    transactionDate: `2024020${n}`,
  });
  const { BUY, SELL } = { BUY: TransactionType.TRANSACTION_TYPE_BUY, SELL: TransactionType.TRANSACTION_TYPE_SELL };
  /** Buys 10 @ 100, 10 @ 120, 10 @ 110, then sells 15 @ 130. */
  const history = (p: string, s: string) => [trade(p, s, 1, BUY, "10", "100"), trade(p, s, 2, BUY, "10", "120"), trade(p, s, 3, BUY, "10", "110"), trade(p, s, 4, SELL, "15", "130")];

  it("lets a portfolio's trader choose LIFO before trading, and positions then report LIFO lots and realized P&L", async () => {
    const [p, s] = [id24(), id24()];
    const trader = await system.clientsAs({ sub: "cb-trader", roles: ["trader"], portfolios: [p] });
    const set = await trader.accounting.setCostBasisMethod({ portfolioId: p, costBasisMethod: CostBasisMethod.COST_BASIS_METHOD_LIFO });
    expect(set).to.deep.include({
      costBasisMethod: CostBasisMethod.COST_BASIS_METHOD_LIFO,
      previousCostBasisMethod: CostBasisMethod.COST_BASIS_METHOD_FIFO,
      changed: true,
      openLots: 0,
    });
    await trader.accounting.postTransactions({ transactions: history(p, s) });

    // LIFO closes the newest lots first: 10 of the 110 lot (+200), then 5 of the 120 lot (+50).
    const { positions } = await trader.accounting.listPositions({ portfolioId: p, includeRealizations: true } as never);
    expect(positions[0]).to.deep.include({ quantity: "15", realizedPnl: "250", costBasis: "1600", costBasisMethod: CostBasisMethod.COST_BASIS_METHOD_LIFO });
    expect(positions[0].lots.map((l) => [l.quantity, l.costBasis])).to.deep.equal([
      ["5", "600"],
      ["10", "1000"],
    ]);
    expect(positions[0].realizations.map((r) => [r.quantity, r.realizedPnl])).to.deep.equal([
      ["10", "200"],
      ["5", "50"],
    ]);
  });

  it("re-derives lots and realizations from the log when the method changes, later sales follow it, and the audit finds no difference", async () => {
    const [p, s] = [id24(), id24()];
    const a = system.clients.accounting;
    await a.postTransactions({ transactions: history(p, s) });
    const fifo = await a.listPositions({ portfolioId: p } as never);
    expect(fifo.positions[0]).to.deep.include({ realizedPnl: "350", costBasis: "1700" });

    const set = await a.setCostBasisMethod({ portfolioId: p, costBasisMethod: CostBasisMethod.COST_BASIS_METHOD_HIFO });
    expect(set).to.deep.include({ changed: true, previousCostBasisMethod: CostBasisMethod.COST_BASIS_METHOD_FIFO, openLots: 2, transactionsReplayed: 4 });

    // HIFO closes the dearest lots first: the 120 lot (+100), then 5 of the 110 lot (+100).
    const hifo = await a.listPositions({ portfolioId: p, includeRealizations: true } as never);
    expect(hifo.positions[0]).to.deep.include({ quantity: "15", realizedPnl: "200", costBasis: "1550", costBasisMethod: CostBasisMethod.COST_BASIS_METHOD_HIFO });
    expect(hifo.positions[0].realizations.map((r) => [r.quantity, r.realizedPnl])).to.deep.equal([
      ["10", "100"],
      ["5", "100"],
    ]);

    // A later sale uses the new method: 5 @ 100 closes the remaining 110 lot (−50).
    await a.postTransactions({ transactions: [trade(p, s, 5, SELL, "5", "100")] });
    const after = await a.listPositions({ portfolioId: p } as never);
    expect(after.positions[0]).to.deep.include({ quantity: "10", realizedPnl: "150", costBasis: "1000" });

    const again = await a.setCostBasisMethod({ portfolioId: p, costBasisMethod: CostBasisMethod.COST_BASIS_METHOD_HIFO });
    expect(again).to.deep.include({ changed: false, transactionsReplayed: 0, openLots: 1 });
    const audit = await a.auditLedger({ portfolioIds: [p] });
    expect(audit.differences).to.deep.equal([]);
  });

  it("hides portfolios outside the caller's token and rejects an unspecified method", async () => {
    const [p, other] = [id24(), id24()];
    const trader = await system.clientsAs({ sub: "cb-other", roles: ["trader"], portfolios: [other] });
    const hidden = await failure(trader.accounting.setCostBasisMethod({ portfolioId: p, costBasisMethod: CostBasisMethod.COST_BASIS_METHOD_LIFO }));
    expect(hidden.code).to.equal(Status.NOT_FOUND);
    const unspecified = await failure(trader.accounting.setCostBasisMethod({ portfolioId: other, costBasisMethod: CostBasisMethod.COST_BASIS_METHOD_UNSPECIFIED }));
    expect(unspecified.code).to.equal(Status.INVALID_ARGUMENT);
    const positions = await system.clients.accounting.listPositions({ portfolioId: p } as never);
    expect(positions.positions).to.deep.equal([]);
  });
});

import { randomBytes } from "node:crypto";
import { expect } from "chai";
import { ClientError, Status } from "nice-grpc";
import { TransactionType } from "../../../generated/tradeplane/accounting/v1/accounting";
import { register } from "../../../services/accounting/main";
import { encodeFillEvent, FILL_EVENT_ROUTING_KEY, FILL_EVENT_SCHEMA_VERSION } from "../../../services/accounting/domain/fill-event";
import Decimal from "decimal.js";
import { startSystem, type TestSystem } from "../../support/system";
import { waitFor } from "../../support/eventually";

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

describe("accounting service", () => {
  let system: TestSystem;
  before(async () => {
    system = await startSystem([register]);
  });
  after(async () => {
    await system?.stop();
  });

  const tx = (portfolioId: string, securityId: string, sourceId: string, type: TransactionType, quantity: string, price: string) => ({
    portfolioId,
    securityId,
    sourceId,
    transactionType: type,
    quantity,
    price,
    transactionDate: "20240130",
  });

  it("reproduces the GlobeCo balance scenarios and reports a duplicate source id per item", async () => {
    const [p, s] = [id24(), id24()];
    const a = system.clients.accounting;
    const first = await a.postTransactions({
      transactions: [tx(p, s, `b-${p}`, TransactionType.TRANSACTION_TYPE_BUY, "100", "50.25")],
    });
    expect(first.summary).to.deep.include({ totalRequested: 1, successful: 1, failed: 0 });
    expect(first.successful[0]).to.deep.include({ status: 2, version: 2, quantity: "100", price: "50.25", transactionDate: "20240130" });
    let cash = await a.getBalance({ id: "0", portfolioId: p, securityId: "" });
    expect(cash.balance?.quantityLong).to.equal("-5025");

    const second = await a.postTransactions({
      transactions: [
        tx(p, s, `s-${p}`, TransactionType.TRANSACTION_TYPE_SELL, "50", "55"),
        tx(p, s, `b-${p}`, TransactionType.TRANSACTION_TYPE_SELL, "1", "1"),
      ],
    });
    expect(second.summary).to.deep.include({ totalRequested: 2, successful: 1, failed: 1, successRate: 50 });
    expect(second.failed[0].reason).to.equal("DUPLICATE_SOURCE_ID");
    expect(second.failed[0].errors).to.deep.equal([{ field: "sourceId", message: "source ID must be unique", value: `b-${p}` }]);
    expect(second.failed[0].existingTransactionId).to.equal(first.successful[0].id);
    cash = await a.getBalance({ id: "0", portfolioId: p, securityId: "" });
    expect(cash.balance?.quantityLong).to.equal("-2275"); // −5025 + 2750

    const [p2, s2] = [id24(), id24()];
    await a.postTransactions({ transactions: [tx(p2, s2, `sh-${p2}`, TransactionType.TRANSACTION_TYPE_SHORT, "75", "60")] });
    expect((await a.getBalance({ id: "0", portfolioId: p2, securityId: "" })).balance?.quantityLong).to.equal("4500");
    expect((await a.getBalance({ id: "0", portfolioId: p2, securityId: s2 })).balance?.quantityShort).to.equal("75");

    const p3 = id24();
    await a.postTransactions({
      transactions: [
        { ...tx(p3, "", `d-${p3}`, TransactionType.TRANSACTION_TYPE_DEP, "5000", "1") },
        { ...tx(p3, "", `w-${p3}`, TransactionType.TRANSACTION_TYPE_WD, "1500", "1") },
      ],
    });
    expect((await a.getBalance({ id: "0", portfolioId: p3, securityId: "" })).balance?.quantityLong).to.equal("3500");
  });

  it("rejects an empty batch and one over 1,000 items as INVALID_ARGUMENT", async () => {
    expect((await failure(system.clients.accounting.postTransactions({ transactions: [] }))).code).to.equal(Status.INVALID_ARGUMENT);
    const p = id24();
    const many = Array.from({ length: 1001 }, (_, i) => tx(p, id24(), `m${i}-${p}`, TransactionType.TRANSACTION_TYPE_BUY, "1", "1"));
    const error = await failure(system.clients.accounting.postTransactions({ transactions: many }));
    expect(error.code).to.equal(Status.INVALID_ARGUMENT);
    expect(error.details).to.equal("Maximum 1000 transactions per batch");
  });

  it("returns validation failures with the reference's messages and stores nothing for them", async () => {
    const p = id24();
    const result = await system.clients.accounting.postTransactions({
      transactions: [tx(p, "", `x-${p}`, TransactionType.TRANSACTION_TYPE_BUY, "0", "-1")],
    });
    expect(result.failed[0].reason).to.equal("VALIDATION_FAILED");
    expect(result.failed[0].errors.map((e) => e.message)).to.deep.equal(["must be positive", "is required for non-cash transactions"]);
    const list = await system.clients.accounting.listTransactions({ portfolioId: p } as never);
    expect(list.totalSize).to.equal(0);
  });

  it("lists positions with FIFO lots and realized P&L, and replays them under another method", async () => {
    const [p, s] = [id24(), id24()];
    const a = system.clients.accounting;
    await a.postTransactions({
      transactions: [
        tx(p, s, `l1-${p}`, TransactionType.TRANSACTION_TYPE_BUY, "10", "100"),
        tx(p, s, `l2-${p}`, TransactionType.TRANSACTION_TYPE_BUY, "10", "120"),
        tx(p, s, `l3-${p}`, TransactionType.TRANSACTION_TYPE_BUY, "10", "110"),
        tx(p, s, `l4-${p}`, TransactionType.TRANSACTION_TYPE_SELL, "15", "130"),
      ],
    });
    const fifo = await a.listPositions({ portfolioId: p, includeRealizations: true } as never);
    expect(fifo.positions[0]).to.deep.include({ quantity: "15", realizedPnl: "350", costBasis: "1700" });
    expect(fifo.positions[0].lots.map((l) => [l.quantity, l.costBasis])).to.deep.equal([
      ["5", "600"],
      ["10", "1100"],
    ]);
    expect(fifo.positions[0].realizations.map((r) => [r.quantity, r.realizedPnl])).to.deep.equal([
      ["10", "300"],
      ["5", "50"],
    ]);
    const average = await a.listPositions({ portfolioId: p, costBasisMethod: 4 } as never);
    expect(average.positions[0]).to.deep.include({ realizedPnl: "300", averageCost: "110", costBasis: "1650" });
  });

  it("values a portfolio and answers NOT_FOUND for one without balances", async () => {
    const p = id24();
    await system.clients.accounting.postTransactions({ transactions: [tx(p, "", `dep-${p}`, TransactionType.TRANSACTION_TYPE_DEP, "1000", "1")] });
    const { summary } = await system.clients.accounting.getPortfolioSummary({ portfolioId: p });
    expect(summary).to.deep.include({ cashBalance: "1000", totalValue: "1000", securityCount: 0, cashWeight: "1" });
    const error = await failure(system.clients.accounting.getPortfolioSummary({ portfolioId: id24() }));
    expect(error.code).to.equal(Status.NOT_FOUND);
  });

  it("applies deposit and withdrawal rules: limits per UTC day, available cash, idempotency keys", async () => {
    const p = id24();
    const a = system.clients.accounting;
    const dep = await a.deposit({ portfolioId: p, amount: "6000", idempotencyKey: `k1-${p}`, transactionDate: "" });
    expect(dep).to.deep.include({ dailyTotal: "6000", dailyRemaining: "4000", replayed: false });
    expect(dep.cashBalance?.quantityLong).to.equal("6000");
    const replay = await a.deposit({ portfolioId: p, amount: "6000", idempotencyKey: `k1-${p}`, transactionDate: "" });
    expect(replay.replayed).to.equal(true);
    expect(replay.transaction?.id).to.equal(dep.transaction?.id);
    expect((await failure(a.deposit({ portfolioId: p, amount: "7000", idempotencyKey: `k1-${p}`, transactionDate: "" }))).code).to.equal(Status.ALREADY_EXISTS);
    const over = await failure(a.deposit({ portfolioId: p, amount: "4000.01", idempotencyKey: `k2-${p}`, transactionDate: "" }));
    expect(over.code).to.equal(Status.FAILED_PRECONDITION);
    expect(over.details).to.match(/^Daily deposit limit exceeded/);
    await a.deposit({ portfolioId: p, amount: "4000", idempotencyKey: `k3-${p}`, transactionDate: "" });
    expect((await failure(a.deposit({ portfolioId: p, amount: "1.001", idempotencyKey: `k4-${p}`, transactionDate: "" }))).code).to.equal(Status.INVALID_ARGUMENT);

    await a.createReservation({ portfolioId: p, orderId: `o-${p}`, securityId: "", amount: "6000" });
    const tooMuch = await failure(a.withdraw({ portfolioId: p, amount: "4000.01", idempotencyKey: `w1-${p}`, transactionDate: "" }));
    expect(tooMuch.code).to.equal(Status.FAILED_PRECONDITION);
    expect(tooMuch.details).to.match(/^Insufficient balance for withdrawal/);
    const ok = await a.withdraw({ portfolioId: p, amount: "4000", idempotencyKey: `w2-${p}`, transactionDate: "" });
    expect(ok.cashBalance).to.deep.include({ quantityLong: "6000", quantityReserved: "6000", quantityAvailable: "0" });
  });

  it("never over-commits cash under many concurrent reservations", async () => {
    const p = id24();
    const a = system.clients.accounting;
    await a.postTransactions({ transactions: [tx(p, "", `c-${p}`, TransactionType.TRANSACTION_TYPE_DEP, "1000", "1")] });
    const attempts = await Promise.allSettled(
      Array.from({ length: 25 }, (_, i) => a.createReservation({ portfolioId: p, orderId: `co${i}-${p}`, securityId: "", amount: "100" })),
    );
    const granted = attempts.filter((r) => r.status === "fulfilled").length;
    expect(granted).to.equal(10);
    for (const r of attempts) if (r.status === "rejected") expect((r.reason as ClientError).code).to.equal(Status.FAILED_PRECONDITION);
    const cash = await a.getBalance({ id: "0", portfolioId: p, securityId: "" });
    expect(cash.balance).to.deep.include({ quantityReserved: "1000", quantityAvailable: "0" });
    const released = await a.releaseReservation({ reservationId: `co0-${p}` });
    expect(released.reservation?.remaining).to.equal("0");
  });

  it("posts a fill once even when it is delivered twice, and consumes the reservation", async () => {
    const [p, s] = [id24(), id24()];
    const a = system.clients.accounting;
    await a.postTransactions({ transactions: [tx(p, "", `fd-${p}`, TransactionType.TRANSACTION_TYPE_DEP, "10000", "1")] });
    await a.createReservation({ portfolioId: p, orderId: `fo-${p}`, securityId: "", amount: "1010" });
    const body = encodeFillEvent({
      fillId: `fill-${p}`,
      orderId: `fo-${p}`,
      portfolioId: p,
      securityId: s,
      symbol: "ACME",
      side: "BUY",
      quantity: new Decimal(10),
      price: new Decimal(100),
      fee: new Decimal(1),
      executedAt: new Date("2025-07-01T14:30:00Z"),
      reservationId: `fo-${p}`,
    });
    const message = { routingKey: FILL_EVENT_ROUTING_KEY, messageId: `fill-${p}`, schemaVersion: FILL_EVENT_SCHEMA_VERSION, body: JSON.stringify(body) };
    await system.runtime.broker.publish(message);
    await system.runtime.broker.publish(message);
    // The security row appears when the worker commits the fill; until then GetBalance answers NOT_FOUND.
    await waitFor(async () => (await a.getBalance({ id: "0", portfolioId: p, securityId: s }).catch(() => null))?.balance?.quantityLong === "10", 10_000, "the position of 10");
    await new Promise((resolve) => setTimeout(resolve, 300));
    const list = await a.listTransactions({ portfolioId: p, sourceId: `fill-${p}` } as never);
    expect(list.totalSize).to.equal(1);
    const cash = await a.getBalance({ id: "0", portfolioId: p, securityId: "" });
    expect(cash.balance).to.deep.include({ quantityLong: "8999", quantityReserved: "9" });
  });

  it("audits the ledger with zero differences after mixed activity", async () => {
    const report = await system.clients.accounting.auditLedger({ portfolioIds: [] });
    expect(report.differences).to.deep.equal([]);
    expect(Number(report.transactionsReplayed)).to.be.greaterThan(10);
  });
});

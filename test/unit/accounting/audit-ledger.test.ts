import { expect } from "chai";
import Decimal from "decimal.js";
import { applyTransaction } from "../../../services/accounting/domain/apply-transaction";
import { auditLedger, type StoredLot } from "../../../services/accounting/domain/audit-ledger";
import type { StoredTransaction } from "../../../services/accounting/domain/ledger-session";
import { createLedgerState, parseBookKey } from "../../../services/accounting/domain/ledger-state";
import type { CostBasisMethod } from "../../../services/accounting/domain/tax-lots";
import { TRANSACTION_TYPES } from "../../../services/accounting/domain/transaction-type";

/** A small deterministic PRNG so a failure can be replayed. */
function prng(seed: number) {
  return () => {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    return seed / 2147483648;
  };
}

function workload(count: number, seed: number) {
  const rand = prng(seed);
  const portfolios = ["p0", "p1", "p2"].map((p) => p.padEnd(24, "0"));
  const securities = ["s0", "s1", "s2", "s3"].map((s) => s.padEnd(24, "0"));
  const methods = new Map<string, CostBasisMethod>([
    [portfolios[0], "FIFO"],
    [portfolios[1], "HIFO"],
    [portfolios[2], "AVERAGE"],
  ]);
  const state = createLedgerState();
  for (const [p, m] of methods) state.methods.set(p, m);
  const transactions: StoredTransaction[] = [];
  const realized = new Map<string, Decimal>();
  for (let i = 1; i <= count; i++) {
    const type = TRANSACTION_TYPES[Math.floor(rand() * TRANSACTION_TYPES.length)];
    const cash = type === "DEP" || type === "WD";
    const txn: StoredTransaction = {
      id: String(i),
      portfolioId: portfolios[Math.floor(rand() * portfolios.length)],
      securityId: cash ? null : securities[Math.floor(rand() * securities.length)],
      sourceId: `src${i}`,
      status: "PROC",
      type,
      quantity: new Decimal(Math.floor(rand() * 2000) - 500).div(100).plus(0.01),
      price: cash ? new Decimal(1) : new Decimal(Math.floor(rand() * 100000) + 1).div(1000),
      fee: cash ? new Decimal(0) : new Decimal(Math.floor(rand() * 300)).div(100),
      transactionDate: "20250701",
      reprocessingAttempts: 0,
      version: 2,
      errorMessage: null,
    };
    const outcome = applyTransaction(state, txn);
    if (outcome.status !== "PROC") continue;
    transactions.push(txn);
    for (const c of outcome.closures) {
      const key = `${c.portfolioId}|${c.securityId}`;
      realized.set(key, (realized.get(key) ?? new Decimal(0)).plus(c.realizedPnl));
    }
  }
  const lots: StoredLot[] = [];
  for (const [key, book] of state.lots) {
    const { portfolioId, securityId, side } = parseBookKey(key);
    for (const lot of book) lots.push({ portfolioId, securityId, side, lot });
  }
  return { transactions, methods, balances: [...state.balances.values()], lots, realized, reservations: [] };
}

describe("ledger audit", () => {
  it("finds no difference when the stored state came from the same log (2,000 mixed transactions)", () => {
    const stored = workload(2000, 7);
    const report = auditLedger(stored);
    expect(report.differences).to.deep.equal([]);
    expect(report.transactionsReplayed).to.equal(stored.transactions.length);
    expect(report.lotsChecked).to.be.greaterThan(0);
  });

  it("reports a tampered balance, a missing lot and drifted realized P&L", () => {
    const stored = workload(300, 11);
    stored.balances[0] = { ...stored.balances[0], quantityLong: stored.balances[0].quantityLong.plus("0.00000001") };
    const removed = stored.lots.pop() as StoredLot;
    const firstRealized = [...stored.realized.keys()][0];
    stored.realized.set(firstRealized, (stored.realized.get(firstRealized) as Decimal).plus(1));
    const kinds = auditLedger(stored).differences.map((d) => d.kind);
    expect(kinds).to.include.members(["BALANCE", "LOT", "REALIZED_PNL"]);
    expect(auditLedger(stored).differences.find((d) => d.kind === "LOT")?.field).to.equal(`${removed.side}:${removed.lot.lotId}`);
  });

  it("reports transactions stuck before PROC", () => {
    const stored = workload(10, 3);
    stored.transactions.push({ ...stored.transactions[0], id: "999", sourceId: "x", status: "ERROR", errorMessage: "boom" });
    expect(auditLedger(stored).differences.map((d) => d.kind)).to.deep.equal(["UNPROCESSED_TRANSACTION"]);
  });
});

import { expect } from "chai";
import Decimal from "decimal.js";
import { applyTransaction } from "../../../services/accounting/domain/apply-transaction";
import { balanceKey, createLedgerState, type LedgerState } from "../../../services/accounting/domain/ledger-state";
import type { TransactionType } from "../../../services/accounting/domain/transaction-type";

const P = "683b70fda29ee10e8b499648";
const S = "683b6d88a29ee10e8b499643";
let nextId = 1;

function post(state: LedgerState, type: TransactionType, quantity: string, price: string, securityId: string | null = S) {
  return applyTransaction(state, {
    id: String(nextId++),
    portfolioId: P,
    securityId,
    sourceId: `s${nextId}`,
    type,
    quantity: new Decimal(quantity),
    price: new Decimal(price),
    fee: new Decimal(0),
    transactionDate: "20240130",
  });
}

const cash = (state: LedgerState) => state.balances.get(balanceKey(P, null))?.quantityLong.toString();
const row = (state: LedgerState) => state.balances.get(balanceKey(P, S));

describe("transaction impacts (GlobeCo scenarios)", () => {
  it("BUY 100 @ 50.25 adds 100 long and takes 5025 cash", () => {
    const state = createLedgerState();
    expect(post(state, "BUY", "100", "50.25").status).to.equal("PROC");
    expect(cash(state)).to.equal("-5025");
    expect(row(state)?.quantityLong.toString()).to.equal("100");
    expect(row(state)?.version).to.equal(1);
  });

  it("SELL 50 @ 55 returns 2750 cash", () => {
    const state = createLedgerState();
    post(state, "SELL", "50", "55");
    expect(cash(state)).to.equal("2750");
    expect(row(state)?.quantityLong.toString()).to.equal("-50");
  });

  it("SHORT 75 @ 60 adds 75 short units and 4500 cash", () => {
    const state = createLedgerState();
    post(state, "SHORT", "75", "60");
    expect(cash(state)).to.equal("4500");
    expect(row(state)?.quantityShort.toString()).to.equal("75");
    expect(row(state)?.quantityLong.toString()).to.equal("0");
  });

  it("DEP 5000 then WD 1500 leaves 3500 and creates no security row", () => {
    const state = createLedgerState();
    post(state, "DEP", "5000", "1", null);
    post(state, "WD", "1500", "1", null);
    expect(cash(state)).to.equal("3500");
    expect(state.balances.get(balanceKey(P, null))?.version).to.equal(2);
    expect(state.balances.size).to.equal(1);
  });

  it("IN and OUT move units without touching cash", () => {
    const state = createLedgerState();
    post(state, "IN", "10", "5");
    post(state, "OUT", "4", "5");
    expect(cash(state)).to.equal(undefined);
    expect(row(state)?.quantityLong.toString()).to.equal("6");
  });

  it("COVER takes cash and reduces the short side; a negative quantity flips the direction", () => {
    const state = createLedgerState();
    post(state, "COVER", "10", "3");
    post(state, "BUY", "-2", "4");
    expect(cash(state)).to.equal("-22");
    expect(row(state)?.quantityShort.toString()).to.equal("-10");
    expect(row(state)?.quantityLong.toString()).to.equal("-2");
  });

  it("fails with ERROR and changes nothing when a balance would overflow DECIMAL(18,8)", () => {
    const state = createLedgerState();
    post(state, "BUY", "9999999999", "1");
    const outcome = post(state, "BUY", "9999999999", "1");
    expect(outcome).to.deep.equal({ status: "ERROR", errorMessage: "Failed to persist balance changes: numeric field overflow" });
    expect(row(state)?.quantityLong.toString()).to.equal("9999999999");
  });
});

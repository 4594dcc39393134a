import Decimal from "decimal.js";
import { dec, fitsStoredRange, roundToStoredScale } from "./money";
import { balanceKey, bookKey, methodOf, type BalanceRow, type LedgerState } from "./ledger-state";
import { applyLotTrade, type LotClosure } from "./tax-lots";
import { transactionImpact } from "./transaction-type";
import type { ValidTransaction } from "./validate-transaction";

/** A validated transaction with the id it is stored under. */
export interface IdentifiedTransaction extends ValidTransaction {
  id: string;
}

/** PROC with the lots it closed, or ERROR with the reason (the state is then left untouched). */
export type ApplyOutcome =
  | { status: "PROC"; closures: LotClosure[] }
  | { status: "ERROR"; errorMessage: string };

/**
 * Processes one transaction against the working set, as the reference's processor does (§1.6): the security
 * row first, then the cash row, rows created on first touch at version 1 and bumped on every update, then the
 * lots. No overdraft or short checks: the transaction API keeps GlobeCo's "negatives allowed". A result that
 * would not fit DECIMAL(18,8) fails the item with status ERROR and changes nothing, which is what the
 * reference's database error amounts to.
 */
export function applyTransaction(state: LedgerState, txn: IdentifiedTransaction): ApplyOutcome {
  const impact = transactionImpact(txn.type, txn.quantity, txn.price, txn.fee);
  const updates: BalanceRow[] = [];
  if (txn.securityId !== null) {
    const row = currentRow(state, txn.portfolioId, txn.securityId);
    updates.push({
      ...row,
      quantityLong: roundToStoredScale(row.quantityLong.plus(impact.longDelta ?? 0)),
      quantityShort: roundToStoredScale(row.quantityShort.plus(impact.shortDelta ?? 0)),
      version: row.version + 1,
    });
  }
  if (impact.cashDelta !== null) {
    const row = currentRow(state, txn.portfolioId, null);
    updates.push({ ...row, quantityLong: roundToStoredScale(row.quantityLong.plus(impact.cashDelta)), version: row.version + 1 });
  }
  if (updates.some((row) => !fitsStoredRange(row.quantityLong) || !fitsStoredRange(row.quantityShort))) {
    return { status: "ERROR", errorMessage: "Failed to persist balance changes: numeric field overflow" };
  }
  for (const row of updates) {
    const key = balanceKey(row.portfolioId, row.securityId);
    state.balances.set(key, row);
    state.touchedBalances.add(key);
  }

  const closures: LotClosure[] = [];
  if (txn.securityId !== null) {
    const side = impact.longDelta !== null ? "LONG" : "SHORT";
    const key = bookKey(txn.portfolioId, txn.securityId, side);
    const result = applyLotTrade(state.lots.get(key) ?? [], methodOf(state, txn.portfolioId), {
      transactionId: txn.id,
      portfolioId: txn.portfolioId,
      securityId: txn.securityId,
      date: txn.transactionDate,
      side,
      delta: (impact.longDelta ?? impact.shortDelta) as Decimal,
      price: txn.price,
      fee: txn.fee,
      realizes: txn.type !== "IN" && txn.type !== "OUT",
    });
    state.lots.set(key, result.lots);
    state.touchedBooks.add(key);
    closures.push(...result.closures);
  }
  return { status: "PROC", closures };
}

/** The row as the working set has it, or a fresh zero row at version 0 (so its first write makes it 1). */
function currentRow(state: LedgerState, portfolioId: string, securityId: string | null): BalanceRow {
  return (
    state.balances.get(balanceKey(portfolioId, securityId)) ?? {
      portfolioId,
      securityId,
      quantityLong: dec(0),
      quantityShort: dec(0),
      version: 0,
    }
  );
}

import Decimal from "decimal.js";
import { fitsStoredRange, roundToStoredScale, ZERO } from "./money";
import { balanceKey, bookKey, methodOf, type BalanceRow, type LedgerState } from "./ledger-state";
import { applyLotTrade, type LotClosure, type TaxLot } from "./tax-lots";
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
  // New row values are computed first and written only once all fit, so an ERROR item leaves the state as it was.
  let securityRow: BalanceRow | null = null;
  if (txn.securityId !== null) {
    const row = currentRow(state, txn.portfolioId, txn.securityId);
    securityRow = {
      portfolioId: row.portfolioId,
      securityId: row.securityId,
      quantityLong: impact.longDelta === null ? row.quantityLong : roundToStoredScale(row.quantityLong.plus(impact.longDelta)),
      quantityShort: impact.shortDelta === null ? row.quantityShort : roundToStoredScale(row.quantityShort.plus(impact.shortDelta)),
      version: row.version + 1,
    };
    if (!fitsStoredRange(securityRow.quantityLong) || !fitsStoredRange(securityRow.quantityShort)) return OVERFLOW;
  }
  let cashRow: BalanceRow | null = null;
  if (impact.cashDelta !== null) {
    const row = currentRow(state, txn.portfolioId, null);
    cashRow = {
      portfolioId: row.portfolioId,
      securityId: null,
      quantityLong: roundToStoredScale(row.quantityLong.plus(impact.cashDelta)),
      quantityShort: row.quantityShort,
      version: row.version + 1,
    };
    if (!fitsStoredRange(cashRow.quantityLong) || !fitsStoredRange(cashRow.quantityShort)) return OVERFLOW;
  }
  if (securityRow !== null) setRow(state, securityRow);
  if (cashRow !== null) setRow(state, cashRow);

  // DEP and WD carry no security, hence no lot book to touch.
  if (txn.securityId === null) return { status: "PROC", closures: [] };
  const side = impact.longDelta !== null ? "LONG" : "SHORT";
  const key = bookKey(txn.portfolioId, txn.securityId, side);
  const result = applyLotTrade(state.lots.get(key) ?? NO_LOTS, methodOf(state, txn.portfolioId), {
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
  return { status: "PROC", closures: result.closures };
}

const OVERFLOW: ApplyOutcome = { status: "ERROR", errorMessage: "Failed to persist balance changes: numeric field overflow" };
const NO_LOTS: readonly TaxLot[] = [];

function setRow(state: LedgerState, row: BalanceRow): void {
  const key = balanceKey(row.portfolioId, row.securityId);
  state.balances.set(key, row);
  state.touchedBalances.add(key);
}

/** The row as the working set has it, or a fresh zero row at version 0 (so its first write makes it 1). */
function currentRow(state: LedgerState, portfolioId: string, securityId: string | null): BalanceRow {
  return (
    state.balances.get(balanceKey(portfolioId, securityId)) ?? {
      portfolioId,
      securityId,
      quantityLong: ZERO,
      quantityShort: ZERO,
      version: 0,
    }
  );
}

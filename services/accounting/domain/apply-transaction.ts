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
  // Each row's key is built once (a key is a fresh 49-character string to hash on every lookup).
  let securityKey = "";
  let security: BalanceRow | null = null;
  let long: Decimal = ZERO;
  let short: Decimal = ZERO;
  if (txn.securityId !== null) {
    securityKey = balanceKey(txn.portfolioId, txn.securityId);
    security = state.balances.get(securityKey) ?? zeroRow(txn.portfolioId, txn.securityId);
    long = impact.longDelta === null ? security.quantityLong : roundToStoredScale(security.quantityLong.plus(impact.longDelta));
    short = impact.shortDelta === null ? security.quantityShort : roundToStoredScale(security.quantityShort.plus(impact.shortDelta));
    if (!fitsStoredRange(long) || !fitsStoredRange(short)) return OVERFLOW;
  }
  let cashKey = "";
  let cash: BalanceRow | null = null;
  let cashLong: Decimal = ZERO;
  if (impact.cashDelta !== null) {
    cashKey = balanceKey(txn.portfolioId, null);
    cash = state.balances.get(cashKey) ?? zeroRow(txn.portfolioId, null);
    cashLong = roundToStoredScale(cash.quantityLong.plus(impact.cashDelta));
    if (!fitsStoredRange(cashLong) || !fitsStoredRange(cash.quantityShort)) return OVERFLOW;
  }
  if (security !== null) setRow(state, securityKey, security, long, short);
  if (cash !== null) setRow(state, cashKey, cash, cashLong, cash.quantityShort);

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
    // A fee-less trade's cash leg already holds ∓ quantity × price: the lots reuse it instead of multiplying again
    // (with a fee, the lots add it themselves, so an amount of exactly zero keeps its sign as before).
    amount: impact.cashDelta !== null && txn.fee.isZero() ? impact.cashDelta.negated() : undefined,
  });
  state.lots.set(key, result.lots);
  state.touchedBooks.add(key);
  return { status: "PROC", closures: result.closures };
}

const OVERFLOW: ApplyOutcome = { status: "ERROR", errorMessage: "Failed to persist balance changes: numeric field overflow" };
const NO_LOTS: readonly TaxLot[] = [];

/**
 * Writes a row's new values. A row the working set already holds is updated in place: it belongs to this state
 * alone (loaded for it or created by it), and the state is the only way anyone reads it.
 */
function setRow(state: LedgerState, key: string, row: BalanceRow, quantityLong: Decimal, quantityShort: Decimal): void {
  row.quantityLong = quantityLong;
  row.quantityShort = quantityShort;
  row.version += 1;
  state.balances.set(key, row);
  state.touchedBalances.add(key);
}

/** A fresh zero row at version 0 (so its first write makes it 1), for a row the working set does not hold yet. */
function zeroRow(portfolioId: string, securityId: string | null): BalanceRow {
  return { portfolioId, securityId, quantityLong: ZERO, quantityShort: ZERO, version: 0 };
}

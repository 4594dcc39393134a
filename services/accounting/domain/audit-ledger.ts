import Decimal from "decimal.js";
import { applyTransaction } from "./apply-transaction";
import type { StoredTransaction } from "./ledger-session";
import { balanceKey, createLedgerState, parseBookKey, type BalanceRow, type LedgerState } from "./ledger-state";
import { dec, formatDecimal } from "./money";
import { remainingOf, type Reservation } from "./reservation";
import type { BookSide, CostBasisMethod, LotClosure, TaxLot } from "./tax-lots";

/** What kind of mismatch the audit found (the proto's LedgerDifferenceKind). */
export type LedgerDifferenceKind = "BALANCE" | "MISSING_BALANCE" | "LOT" | "REALIZED_PNL" | "RESERVATION" | "UNPROCESSED_TRANSACTION";

/** One mismatch between the stored state and the state replayed from the transaction log. */
export interface LedgerDifference {
  kind: LedgerDifferenceKind;
  portfolioId: string;
  securityId: string | null;
  field: string;
  /** Recomputed from the log. */
  expected: string;
  /** Stored. */
  actual: string;
  detail: string;
}

/** A stored lot with its book. */
export interface StoredLot {
  portfolioId: string;
  securityId: string;
  side: BookSide;
  lot: TaxLot;
}

/** The stored side of an audit, read in one snapshot. */
export interface StoredLedger {
  transactions: StoredTransaction[];
  methods: Map<string, CostBasisMethod>;
  balances: BalanceRow[];
  lots: StoredLot[];
  /** Sum of stored realized P&L per "portfolio|security". */
  realized: Map<string, Decimal>;
  reservations: Reservation[];
}

export interface AuditReport {
  differences: LedgerDifference[];
  balancesChecked: number;
  lotsChecked: number;
  transactionsReplayed: number;
}

/**
 * Replays PROC transactions in id order (the order they were processed in) from an empty ledger. Processing
 * is deterministic, so the replay must reproduce every stored balance, lot and realized P&L exactly.
 */
export function replayLedger(transactions: readonly StoredTransaction[], methods: Map<string, CostBasisMethod>): { state: LedgerState; closures: LotClosure[] } {
  const state = createLedgerState();
  for (const [portfolioId, method] of methods) state.methods.set(portfolioId, method);
  const closures: LotClosure[] = [];
  const ordered = [...transactions].filter((t) => t.status === "PROC").sort((a, b) => compareIds(a.id, b.id));
  for (const txn of ordered) {
    const outcome = applyTransaction(state, txn);
    if (outcome.status === "PROC") closures.push(...outcome.closures);
  }
  return { state, closures };
}

/**
 * The self-audit: recompute balances, lots and realized P&L from the log and report every difference from
 * what is stored, plus transactions stuck before PROC and reservations whose parts do not add up.
 */
export function auditLedger(stored: StoredLedger): AuditReport {
  const differences: LedgerDifference[] = [];
  const { state, closures } = replayLedger(stored.transactions, stored.methods);

  for (const t of stored.transactions) {
    if (t.status === "NEW" || t.status === "ERROR") {
      differences.push({
        kind: "UNPROCESSED_TRANSACTION",
        portfolioId: t.portfolioId,
        securityId: t.securityId,
        field: t.id,
        expected: "PROC",
        actual: t.status,
        detail: t.errorMessage ?? "transaction not processed",
      });
    }
  }

  const storedBalances = new Map(stored.balances.map((row) => [balanceKey(row.portfolioId, row.securityId), row]));
  for (const key of new Set([...state.balances.keys(), ...storedBalances.keys()])) {
    const expected = state.balances.get(key);
    const actual = storedBalances.get(key);
    const [portfolioId, security] = key.split("|");
    const securityId = security === "" ? null : security;
    if (!expected || !actual) {
      differences.push({
        kind: "MISSING_BALANCE",
        portfolioId,
        securityId,
        field: "row",
        expected: expected ? "present" : "absent",
        actual: actual ? "present" : "absent",
        detail: expected ? "transactions imply a balance row that is not stored" : "a balance row is stored without transactions",
      });
      continue;
    }
    for (const field of ["quantityLong", "quantityShort"] as const) {
      if (!expected[field].equals(actual[field])) {
        differences.push({
          kind: "BALANCE",
          portfolioId,
          securityId,
          field: field === "quantityLong" ? "quantity_long" : "quantity_short",
          expected: formatDecimal(expected[field]),
          actual: formatDecimal(actual[field]),
          detail: "stored balance differs from the replayed transactions",
        });
      }
    }
  }

  const replayedLots = new Map<string, { portfolioId: string; securityId: string; lot: TaxLot }>();
  for (const [key, lots] of state.lots) {
    const { portfolioId, securityId, side } = parseBookKey(key);
    for (const lot of lots) replayedLots.set(`${portfolioId}|${securityId}|${side}|${lot.lotId}`, { portfolioId, securityId, lot });
  }
  const storedLots = new Map(stored.lots.map((s) => [`${s.portfolioId}|${s.securityId}|${s.side}|${s.lot.lotId}`, s]));
  for (const key of new Set([...replayedLots.keys(), ...storedLots.keys()])) {
    const expected = replayedLots.get(key);
    const actual = storedLots.get(key);
    const ref = (expected ?? actual) as { portfolioId: string; securityId: string; lot: TaxLot };
    const lotField = key.split("|").slice(2).join(":");
    if (!expected || !actual) {
      differences.push({
        kind: "LOT",
        portfolioId: ref.portfolioId,
        securityId: ref.securityId,
        field: lotField,
        expected: expected ? formatDecimal(expected.lot.quantity) : "absent",
        actual: actual ? formatDecimal(actual.lot.quantity) : "absent",
        detail: expected ? "replayed lot is not stored" : "stored lot does not follow from the transactions",
      });
      continue;
    }
    for (const field of ["quantity", "cost"] as const) {
      if (!expected.lot[field].equals(actual.lot[field])) {
        differences.push({
          kind: "LOT",
          portfolioId: ref.portfolioId,
          securityId: ref.securityId,
          field: `${lotField}:${field}`,
          expected: formatDecimal(expected.lot[field]),
          actual: formatDecimal(actual.lot[field]),
          detail: "stored lot differs from the replayed lot",
        });
      }
    }
  }

  const replayedRealized = new Map<string, Decimal>();
  for (const c of closures) {
    const key = `${c.portfolioId}|${c.securityId}`;
    replayedRealized.set(key, (replayedRealized.get(key) ?? dec(0)).plus(c.realizedPnl));
  }
  for (const key of new Set([...replayedRealized.keys(), ...stored.realized.keys()])) {
    const expected = replayedRealized.get(key) ?? dec(0);
    const actual = stored.realized.get(key) ?? dec(0);
    if (!expected.equals(actual)) {
      const [portfolioId, securityId] = key.split("|");
      differences.push({
        kind: "REALIZED_PNL",
        portfolioId,
        securityId,
        field: "realized_pnl",
        expected: formatDecimal(expected),
        actual: formatDecimal(actual),
        detail: "stored realized P&L differs from the replay",
      });
    }
  }

  for (const r of stored.reservations) {
    const remaining = remainingOf(r);
    const consistent =
      !remaining.isNegative() && !r.consumed.isNegative() && !r.released.isNegative() && (r.status === "OPEN") === remaining.greaterThan(0);
    if (!consistent) {
      differences.push({
        kind: "RESERVATION",
        portfolioId: r.portfolioId,
        securityId: r.securityId,
        field: r.reservationId,
        expected: "amount = consumed + released + remaining, remaining > 0 exactly while OPEN",
        actual: `amount ${formatDecimal(r.amount)}, consumed ${formatDecimal(r.consumed)}, released ${formatDecimal(r.released)}, status ${r.status}`,
        detail: "reservation parts do not add up",
      });
    }
  }

  differences.sort((a, b) => (a.portfolioId + (a.securityId ?? "")).localeCompare(b.portfolioId + (b.securityId ?? "")));
  return { differences, balancesChecked: storedBalances.size, lotsChecked: storedLots.size, transactionsReplayed: closuresCount(stored.transactions) };
}

function closuresCount(transactions: readonly StoredTransaction[]): number {
  return transactions.filter((t) => t.status === "PROC").length;
}

/** Numeric order of decimal id strings without converting to a JS number. */
export function compareIds(a: string, b: string): number {
  return a.length !== b.length ? a.length - b.length : a < b ? -1 : a > b ? 1 : 0;
}

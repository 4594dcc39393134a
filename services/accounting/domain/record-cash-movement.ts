import Decimal from "decimal.js";
import { AccountingError } from "./accounting-error";
import {
  checkDailyLimit,
  checkSameMovement,
  checkWithdrawable,
  utcDayStart,
  validateCashAmount,
  type CashMovement,
  type CashMovementKind,
  type DailyCashLimits,
} from "./cash-movements";
import { requireEntityId, utcDateString } from "./identifiers";
import { balanceKey } from "./ledger-state";
import type { StoredTransaction, WithLedgerSession } from "./ledger-session";
import { dec } from "./money";
import { postInSession, withConflictRetry } from "./post-transactions";
import { isYyyymmdd } from "./validate-transaction";

export interface CashMovementRequest {
  portfolioId: string;
  kind: CashMovementKind;
  /** Decimal string. */
  amount: string;
  idempotencyKey: string;
  /** YYYYMMDD; empty means today (UTC). */
  transactionDate: string;
}

export interface CashMovementResult {
  movement: CashMovement;
  /** The DEP/WD transaction, as stored (read back for a replay). */
  transactionId: string;
  transaction: StoredTransaction | null;
  /** The day's total of this kind including this movement, and what the limit still allows. */
  dailyTotal: Decimal;
  dailyRemaining: Decimal;
  replayed: boolean;
}

export interface CashMovementDeps {
  withLedgerSession: WithLedgerSession;
  limits: DailyCashLimits;
  now: () => Date;
}

const IDEMPOTENCY_KEY = /^[\x21-\x7e]{1,45}$/;

/**
 * Deposit or Withdraw (CNOP's rules on GlobeCo's ledger): validate the amount, then under the portfolio's lock
 * replay an earlier request with the same key, check the UTC day's limit, post the DEP/WD transaction and, for a
 * withdrawal, refuse to dip into cash that open reservations hold. Checking and posting under one lock closes
 * CNOP's race between its limit check and its write.
 */
export async function recordCashMovement(deps: CashMovementDeps, request: CashMovementRequest): Promise<CashMovementResult> {
  requireEntityId(request.portfolioId, "portfolio_id");
  const amount = validateCashAmount(request.amount);
  if (!IDEMPOTENCY_KEY.test(request.idempotencyKey)) {
    const description = "must be 1-45 printable ASCII characters";
    throw new AccountingError("INVALID_ARGUMENT", `idempotency_key ${description}`, [{ field: "idempotency_key", description }]);
  }
  if (request.transactionDate !== "" && !isYyyymmdd(request.transactionDate)) {
    const description = "must be in YYYYMMDD format";
    throw new AccountingError("INVALID_ARGUMENT", `transaction_date ${description}`, [{ field: "transaction_date", description }]);
  }
  const limit = request.kind === "DEPOSIT" ? deps.limits.deposit : deps.limits.withdrawal;

  return withConflictRetry(deps.withLedgerSession, async (session) => {
    const now = deps.now();
    await session.lockPortfolios([request.portfolioId]);
    const dayStart = utcDayStart(now);
    const existing = await session.findCashMovement(request.idempotencyKey);
    if (existing) {
      checkSameMovement(existing, { portfolioId: request.portfolioId, kind: request.kind, amount });
      const dailyTotal = await session.cashMovementTotalSince(request.portfolioId, request.kind, dayStart);
      return { movement: existing, transactionId: existing.transactionId, transaction: null, dailyTotal, dailyRemaining: limit.minus(dailyTotal), replayed: true };
    }

    const alreadyToday = await session.cashMovementTotalSince(request.portfolioId, request.kind, dayStart);
    checkDailyLimit(request.kind, alreadyToday, amount, deps.limits);
    const posted = await postInSession(session, [
      {
        portfolioId: request.portfolioId,
        securityId: null,
        sourceId: `${request.kind === "DEPOSIT" ? "DEP" : "WD"}:${request.idempotencyKey}`,
        type: request.kind === "DEPOSIT" ? "DEP" : "WD",
        quantity: amount,
        price: dec(1),
        fee: dec(0),
        transactionDate: request.transactionDate || utcDateString(now),
      },
    ]);
    const outcome = posted.outcomes[0];
    if (outcome.kind === "DUPLICATE") {
      throw new AccountingError("ALREADY_EXISTS", "a transaction with this movement's source id already exists", [], {
        existing_transaction_id: outcome.existingTransactionId,
      });
    }
    if (outcome.transaction.status !== "PROC") {
      throw new AccountingError("INVALID_ARGUMENT", outcome.transaction.errorMessage ?? "cash movement could not be processed");
    }
    const cash = posted.state.balances.get(balanceKey(request.portfolioId, null));
    const balanceAfter = cash ? cash.quantityLong : dec(0);
    if (request.kind === "WITHDRAWAL") {
      const held = await session.openReservationTotal(request.portfolioId, null);
      // Available before = balance before − holds; the check is the same as "balance after ≥ holds".
      checkWithdrawable(balanceAfter.plus(amount).minus(held), amount);
    }
    const movement: CashMovement = {
      idempotencyKey: request.idempotencyKey,
      portfolioId: request.portfolioId,
      kind: request.kind,
      amount,
      transactionId: outcome.transaction.id,
      balanceAfter,
      createdAt: now,
    };
    await session.save({ transactions: posted.transactions, closures: posted.closures, state: posted.state, reservations: [], cashMovements: [movement] });
    const dailyTotal = alreadyToday.plus(amount);
    return { movement, transactionId: outcome.transaction.id, transaction: outcome.transaction, dailyTotal, dailyRemaining: limit.minus(dailyTotal), replayed: false };
  });
}

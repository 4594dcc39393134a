import { AccountingError } from "./accounting-error";
import { applyTransaction } from "./apply-transaction";
import type { LedgerSession, PostingRead, ReservationLookup, SecurityKey, StoredTransaction, WithLedgerSession } from "./ledger-session";
import type { LedgerState } from "./ledger-state";
import type { LotClosure } from "./tax-lots";
import {
  duplicateSourceIdError,
  validateTransaction,
  type TransactionFieldError,
  type TransactionInput,
  type ValidTransaction,
  type ValidationResult,
} from "./validate-transaction";

/** The reference accepts 1–1,000 transactions per request. */
export const MAX_TRANSACTIONS_PER_BATCH = 1000;
/** How many times a batch reruns after losing a source-id race to a concurrent batch. */
const MAX_CONFLICT_RETRIES = 3;

/** Why an item failed: invalid input, a source id already used, or a processing error (stored as ERROR). */
export type FailureReason = "VALIDATION_FAILED" | "DUPLICATE_SOURCE_ID" | "PROCESSING_FAILED";

/** The outcome of one posted item, in request order. */
export type ItemResult =
  | { index: number; ok: true; transaction: StoredTransaction }
  | {
      index: number;
      ok: false;
      reason: FailureReason;
      errors: TransactionFieldError[];
      /** For DUPLICATE_SOURCE_ID the transaction that owns the source id; for PROCESSING_FAILED the stored ERROR row. */
      existingTransactionId: string | null;
    };

/** The reference's batch summary; successRate is a percentage (a statistic, not money). */
export interface BatchSummary {
  totalRequested: number;
  successful: number;
  failed: number;
  successRate: number;
}

export interface BatchResult {
  items: ItemResult[];
  summary: BatchSummary;
}

/** What posting one already-validated transaction inside a session produced. */
export type PostOutcome =
  | { kind: "POSTED"; transaction: StoredTransaction; closures: LotClosure[] }
  | { kind: "DUPLICATE"; existingTransactionId: string };

/**
 * Posts a batch as the reference does (§1.6): items in request order, a later item seeing the balances and
 * source ids of earlier ones; invalid items are never stored; a duplicate source id is a per-item failure with
 * no side effect. Unlike the reference, the whole batch is one database transaction, so an item's insert,
 * balance updates and status can never be half-applied.
 */
export async function postTransactions(deps: { withLedgerSession: WithLedgerSession }, inputs: TransactionInput[]): Promise<BatchResult> {
  const [result] = await postTransactionBatches(deps, [inputs]);
  return result;
}

/**
 * Posts several batches in one unit of work, each getting exactly the result it would get if posted alone
 * right after the previous one (an import's small per-portfolio batches share one database transaction rather
 * than paying for one each). Each batch takes 1–1,000 items and all of them together at most 1,000, so a unit
 * of work is never bigger than one PostTransactions request.
 */
export async function postTransactionBatches(deps: { withLedgerSession: WithLedgerSession }, batches: TransactionInput[][]): Promise<BatchResult[]> {
  for (const inputs of batches) {
    if (inputs.length === 0) throw new AccountingError("EMPTY_BATCH", "At least one transaction is required");
  }
  if (batches.reduce((sum, inputs) => sum + inputs.length, 0) > MAX_TRANSACTIONS_PER_BATCH) {
    throw new AccountingError("BATCH_TOO_LARGE", `Maximum ${MAX_TRANSACTIONS_PER_BATCH} transactions per batch`);
  }
  const validations = batches.map((inputs) => inputs.map((input, index) => validateTransaction(input, index)));
  const candidates: ValidTransaction[] = [];
  for (const batch of validations) for (const v of batch) if (v.ok) candidates.push(v.transaction);

  const outcomes = await withConflictRetry(deps.withLedgerSession, async (session) => {
    await session.lockPortfolios(candidates.map((t) => t.portfolioId));
    // Only the outcomes are kept past the write: the working set can go while the batch waits for the database.
    const { outcomes, transactions, closures, state } = await postInSession(session, candidates);
    await session.save({ transactions, closures, state, reservations: [], cashMovements: [] });
    return outcomes;
  });

  // Outcomes come in candidate order, which is batch order then item order: hand them out the same way.
  let next = 0;
  return validations.map((batch) => {
    const items = batch.map((validation, index) => itemResult(index, validation, validation.ok ? outcomes[next++] : null));
    return { items, summary: summarize(items) };
  });
}

function itemResult(index: number, validation: ValidationResult, outcome: PostOutcome | null): ItemResult {
  if (!validation.ok || outcome === null) {
    return { index, ok: false, reason: "VALIDATION_FAILED", errors: validation.ok ? [] : validation.errors, existingTransactionId: null };
  }
  if (outcome.kind === "DUPLICATE") {
    return {
      index,
      ok: false,
      reason: "DUPLICATE_SOURCE_ID",
      errors: [duplicateSourceIdError(validation.transaction.sourceId)],
      existingTransactionId: outcome.existingTransactionId,
    };
  }
  if (outcome.transaction.status !== "PROC") {
    return {
      index,
      ok: false,
      reason: "PROCESSING_FAILED",
      errors: [{ field: "processing", message: outcome.transaction.errorMessage ?? "", value: `index_${index}` }],
      existingTransactionId: outcome.transaction.id,
    };
  }
  return { index, ok: true, transaction: outcome.transaction };
}

/**
 * Posts validated transactions inside a session whose portfolios are already locked: one read of the source ids,
 * touched rows and new ids (and, with a lookup, of the reservations and open holds the caller needs), then every
 * item applied in memory in order. The caller saves the returned changes (possibly together with its own, e.g. a
 * reservation or a cash movement).
 */
export async function postInSession(
  session: LedgerSession,
  candidates: ValidTransaction[],
  lookup?: ReservationLookup,
): Promise<
  { outcomes: PostOutcome[]; transactions: StoredTransaction[]; closures: LotClosure[]; state: LedgerState } & Pick<PostingRead, "reservations" | "openHolds">
> {
  const sourceIds = new Set<string>();
  // Securities by portfolio: no composite key string to build per item.
  const securitiesByPortfolio = new Map<string, Set<string>>();
  for (const t of candidates) {
    sourceIds.add(t.sourceId);
    let held = securitiesByPortfolio.get(t.portfolioId);
    if (held === undefined) securitiesByPortfolio.set(t.portfolioId, (held = new Set()));
    if (t.securityId !== null) held.add(t.securityId);
  }
  const securities: SecurityKey[] = [];
  for (const [portfolioId, held] of securitiesByPortfolio) for (const securityId of held) securities.push({ portfolioId, securityId });
  // One read for all candidates, duplicates included: the rows only a duplicate touches are loaded and never
  // written, which changes nothing and spares a round trip. `owners` maps a taken source id to its transaction;
  // a source id first met in this batch joins it when its item gets its id, so a later item with the same source
  // id fails as a duplicate of that one.
  const { owners, state, ids, reservations, openHolds } = await session.loadForPosting(
    [...sourceIds],
    [...securitiesByPortfolio.keys()],
    securities,
    lookup,
  );

  const transactions: StoredTransaction[] = [];
  const closures: LotClosure[] = [];
  let nextId = 0;
  const outcomes = new Array<PostOutcome>(candidates.length);
  for (let i = 0; i < candidates.length; i++) {
    const candidate = candidates[i];
    const owner = owners.get(candidate.sourceId);
    if (owner !== undefined) {
      outcomes[i] = { kind: "DUPLICATE", existingTransactionId: owner };
      continue;
    }
    const id = ids[nextId++];
    owners.set(candidate.sourceId, id);
    // One object per item: the stored transaction is also what applyTransaction reads.
    const transaction: StoredTransaction = {
      id,
      portfolioId: candidate.portfolioId,
      securityId: candidate.securityId,
      sourceId: candidate.sourceId,
      status: "PROC",
      type: candidate.type,
      quantity: candidate.quantity,
      price: candidate.price,
      fee: candidate.fee,
      transactionDate: candidate.transactionDate,
      reprocessingAttempts: 0,
      // Inserted as NEW at version 1, then moved to its final status: version 2, as the reference returns.
      version: 2,
      errorMessage: null,
    };
    const applied = applyTransaction(state, transaction);
    transactions.push(transaction);
    if (applied.status !== "PROC") {
      transaction.status = applied.status;
      transaction.errorMessage = applied.errorMessage;
      outcomes[i] = { kind: "POSTED", transaction, closures: [] };
      continue;
    }
    for (const closure of applied.closures) closures.push(closure);
    outcomes[i] = { kind: "POSTED", transaction, closures: applied.closures };
  }
  return { outcomes, transactions, closures, state, reservations, openHolds };
}

/** Reruns a unit of work that lost a source-id race (the loser's rerun then sees the id as a duplicate). */
export async function withConflictRetry<T>(withLedgerSession: WithLedgerSession, work: (session: LedgerSession) => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await withLedgerSession(work);
    } catch (error) {
      if (!(error instanceof AccountingError) || error.code !== "CONCURRENT_MODIFICATION" || attempt > MAX_CONFLICT_RETRIES) throw error;
    }
  }
}

/** successRate = successful × 100 / totalRequested (2 of 3 gives the reference's 66.66666666666667), 0 for none. */
export function summarize(items: ItemResult[]): BatchSummary {
  const successful = items.filter((item) => item.ok).length;
  const total = items.length;
  return { totalRequested: total, successful, failed: total - successful, successRate: total === 0 ? 0 : (successful * 100) / total };
}

import Decimal from "decimal.js";
import type { LedgerState } from "./ledger-state";
import type { Reservation } from "./reservation";
import type { CostBasisMethod, LotClosure, TaxLot } from "./tax-lots";
import type { TransactionStatus, TransactionType } from "./transaction-type";
import type { CashMovement, CashMovementKind } from "./cash-movements";

/** A transaction as stored, the shape every read returns. */
export interface StoredTransaction {
  id: string;
  portfolioId: string;
  securityId: string | null;
  sourceId: string;
  status: TransactionStatus;
  type: TransactionType;
  quantity: Decimal;
  price: Decimal;
  fee: Decimal;
  /** YYYYMMDD. */
  transactionDate: string;
  reprocessingAttempts: number;
  version: number;
  errorMessage: string | null;
}

/** A (portfolio, security) pair a batch touches; the cash row of each portfolio is always loaded too. */
export interface SecurityKey {
  portfolioId: string;
  securityId: string;
}

/** A balance row's open holds: cash when securityId is null, else units of that security. */
export interface HoldKey {
  portfolioId: string;
  securityId: string | null;
}

/** What a fill batch reads with its working set: the reservations its fills name and the open holds of its keys. */
export interface ReservationLookup {
  /** Each a reservation_id or the order_id a reservation was created with. */
  reservationIdsOrOrderIds: string[];
  holdKeys: HoldKey[];
}

/** Everything one unit of work writes back, each part as one set-based statement. */
export interface LedgerChanges {
  transactions: StoredTransaction[];
  closures: LotClosure[];
  /** The working set; only its touched balance rows and lot books are written. */
  state: LedgerState;
  reservations: Reservation[];
  cashMovements: CashMovement[];
  /** Tickers learned on the way (fills carry both ids), so summaries can price by symbol. */
  securitySymbols?: { securityId: string; symbol: string }[];
}

/** What loadForPosting returns. */
export interface PostingRead {
  owners: Map<string, string>;
  state: LedgerState;
  ids: string[];
  reservations: Reservation[];
  openHolds: Map<string, Decimal>;
}

/**
 * One database transaction of the ledger, as the use cases see it. The adapter holds the portfolios' locks
 * from lockPortfolios until the work function returns (commit) or throws (rollback). Loads see the state as
 * of the lock, so in-memory processing in request order is the same as processing row by row.
 */
export interface LedgerSession {
  /** Serialises every writer of these portfolios until the end of the session (sorted, so no deadlock). */
  lockPortfolios(portfolioIds: string[]): Promise<void>;
  /**
   * What posting reads, in one go: `owners` maps each of these (distinct) source ids that a stored transaction
   * already has to that transaction's id; `state` is loadState of these portfolios and securities; `ids` holds one
   * new transaction id per source id not found, increasing in allocation order (the audit replays in id order).
   * With a lookup, the same read also returns the reservations found by those ids (each once, in no particular
   * order) and the open-hold total of every hold key by balanceKey (zero when it has none); without, both are empty.
   */
  loadForPosting(sourceIds: string[], portfolioIds: string[], securities: SecurityKey[], lookup?: ReservationLookup): Promise<PostingRead>;
  /** Balance rows, lot books and cost-basis methods for these portfolios' cash and these securities. */
  loadState(portfolioIds: string[], securities: SecurityKey[]): Promise<LedgerState>;
  /** Sum of the remaining amounts of open reservations: cash when securityId is null, else units. */
  openReservationTotal(portfolioId: string, securityId: string | null): Promise<Decimal>;
  findCashMovement(idempotencyKey: string): Promise<CashMovement | null>;
  /** Sum of the movements of one kind for a portfolio since the start of a UTC day. */
  cashMovementTotalSince(portfolioId: string, kind: CashMovementKind, since: Date): Promise<Decimal>;
  /** The portfolio's PROC transactions in id order (the order they were processed in). */
  processedTransactions(portfolioId: string): Promise<StoredTransaction[]>;
  /** Open lots of the portfolio, long and short books together. */
  openLotCount(portfolioId: string): Promise<number>;
  /**
   * Records the portfolio's method; with a rebuild, also replaces all its lot books (by book key) and all its
   * realizations with the given ones.
   */
  saveCostBasisMethod(portfolioId: string, method: CostBasisMethod, rebuild: { books: Map<string, TaxLot[]>; closures: LotClosure[] } | null): Promise<void>;
  /**
   * Writes everything: transactions, balances, lots, realizations, reservations and security symbols in one
   * statement (cash movements, and a lot book whose order must be rewritten, in statements of their own). Throws AccountingError CONCURRENT_MODIFICATION when a source id was taken by a
   * concurrent session since loadForPosting, so the caller can rerun the whole unit.
   */
  save(changes: LedgerChanges): Promise<void>;
}

/** Runs work in one database transaction. */
export type WithLedgerSession = <T>(work: (session: LedgerSession) => Promise<T>) => Promise<T>;

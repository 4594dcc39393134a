// The ledger's SQL rows and the domain values they map to: balances, tax lots, reservations, transactions and cash
// movements as pg returns them (decimals as text, DATE as "YYYY-MM-DD"), for the session and the read adapters.
import type { CashMovement, CashMovementKind } from "../domain/cash-movements";
import type { StoredTransaction } from "../domain/ledger-session";
import type { BalanceRow } from "../domain/ledger-state";
import { dec } from "../domain/money";
import type { Reservation, ReservationStatus } from "../domain/reservation";
import type { BookSide, TaxLot } from "../domain/tax-lots";
import type { TransactionStatus, TransactionType } from "../domain/transaction-type";

/** "YYYY-MM-DD" from the DATE parser, back to the GlobeCo "YYYYMMDD". */
export function fromSqlDate(value: string): string {
  return value.replace(/-/g, "");
}

export interface BalanceSqlRow {
  id: string;
  portfolio_id: string;
  security_id: string | null;
  quantity_long: string;
  quantity_short: string;
  version: number;
  last_updated?: Date;
}

export function toBalanceRow(r: BalanceSqlRow): BalanceRow {
  return { portfolioId: r.portfolio_id, securityId: r.security_id, quantityLong: dec(r.quantity_long), quantityShort: dec(r.quantity_short), version: r.version };
}

export interface LotSqlRow {
  portfolio_id: string;
  security_id: string;
  side: BookSide;
  lot_id: string;
  /** Position in the book (opening order); not every query selects it. */
  seq?: number;
  opened_on: string;
  quantity: string;
  cost: string;
  open_quantity: string;
  open_price: string;
}

export function toTaxLot(r: LotSqlRow): TaxLot {
  return {
    lotId: r.lot_id,
    openedOn: fromSqlDate(r.opened_on),
    quantity: dec(r.quantity),
    cost: dec(r.cost),
    openQuantity: dec(r.open_quantity),
    openPrice: dec(r.open_price),
  };
}

export interface ReservationSqlRow {
  reservation_id: string;
  order_id: string;
  portfolio_id: string;
  security_id: string | null;
  amount: string;
  consumed: string;
  released: string;
  status: ReservationStatus;
  created_at: Date;
  updated_at: Date;
}

export function toReservation(r: ReservationSqlRow): Reservation {
  return {
    reservationId: r.reservation_id,
    orderId: r.order_id,
    portfolioId: r.portfolio_id,
    securityId: r.security_id,
    amount: dec(r.amount),
    consumed: dec(r.consumed),
    released: dec(r.released),
    status: r.status,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
  };
}

export interface CashMovementSqlRow {
  idempotency_key: string;
  portfolio_id: string;
  kind: CashMovementKind;
  amount: string;
  transaction_id: string;
  balance_after: string;
  created_at: Date;
}

export function toCashMovement(r: CashMovementSqlRow): CashMovement {
  return {
    idempotencyKey: r.idempotency_key,
    portfolioId: r.portfolio_id,
    kind: r.kind,
    amount: dec(r.amount),
    transactionId: r.transaction_id,
    balanceAfter: dec(r.balance_after),
    createdAt: r.created_at,
  };
}

export interface TransactionSqlRow {
  id: string;
  portfolio_id: string;
  security_id: string | null;
  source_id: string;
  status: TransactionStatus;
  transaction_type: TransactionType;
  quantity: string;
  price: string;
  fee: string;
  transaction_date: string;
  reprocessing_attempts: number;
  version: number;
  error_message: string | null;
  created_at: Date;
  updated_at: Date;
}

export function toStoredTransaction(r: TransactionSqlRow): StoredTransaction {
  return {
    id: r.id,
    portfolioId: r.portfolio_id,
    securityId: r.security_id,
    sourceId: r.source_id,
    status: r.status,
    type: r.transaction_type,
    quantity: dec(r.quantity),
    price: dec(r.price),
    fee: dec(r.fee),
    transactionDate: fromSqlDate(r.transaction_date),
    reprocessingAttempts: r.reprocessing_attempts,
    version: r.version,
    errorMessage: r.error_message,
  };
}

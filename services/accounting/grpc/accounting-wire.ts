// Domain values ↔ generated messages: decimals as canonical strings, ids as int64 strings, enums by name.
import Decimal from "decimal.js";
import {
  CostBasisMethod as WireMethod,
  LedgerDifferenceKind as WireDifferenceKind,
  ReservationStatus as WireReservationStatus,
  TransactionStatus as WireStatus,
  TransactionType as WireType,
  type Balance,
  type ImportRow as WireImportRow,
  type LotRealization,
  type Reservation as WireReservation,
  type TaxLot as WireLot,
  type Transaction,
  type TransactionInput as WireInput,
} from "../../../generated/tradeplane/accounting/v1/accounting";
import type { BalanceRecord, TransactionRecord } from "../adapters/ledger-queries";
import type { LedgerDifferenceKind } from "../domain/audit-ledger";
import type { ImportRow } from "../domain/csv-import";
import type { StoredTransaction } from "../domain/ledger-session";
import { formatDecimal } from "../domain/money";
import { remainingOf, type Reservation } from "../domain/reservation";
import { unitCost, type CostBasisMethod, type LotClosure, type TaxLot } from "../domain/tax-lots";
import type { TransactionStatus, TransactionType } from "../domain/transaction-type";
import type { TransactionInput } from "../domain/validate-transaction";

const TYPE_NAMES: Record<number, TransactionType> = {
  [WireType.TRANSACTION_TYPE_BUY]: "BUY",
  [WireType.TRANSACTION_TYPE_SELL]: "SELL",
  [WireType.TRANSACTION_TYPE_SHORT]: "SHORT",
  [WireType.TRANSACTION_TYPE_COVER]: "COVER",
  [WireType.TRANSACTION_TYPE_DEP]: "DEP",
  [WireType.TRANSACTION_TYPE_WD]: "WD",
  [WireType.TRANSACTION_TYPE_IN]: "IN",
  [WireType.TRANSACTION_TYPE_OUT]: "OUT",
};
const TYPE_VALUES = Object.fromEntries(Object.entries(TYPE_NAMES).map(([k, v]) => [v, Number(k)])) as Record<TransactionType, WireType>;
const STATUS_VALUES: Record<TransactionStatus, WireStatus> = {
  NEW: WireStatus.TRANSACTION_STATUS_NEW,
  PROC: WireStatus.TRANSACTION_STATUS_PROC,
  ERROR: WireStatus.TRANSACTION_STATUS_ERROR,
  FATAL: WireStatus.TRANSACTION_STATUS_FATAL,
};
const METHOD_VALUES: Record<CostBasisMethod, WireMethod> = {
  FIFO: WireMethod.COST_BASIS_METHOD_FIFO,
  LIFO: WireMethod.COST_BASIS_METHOD_LIFO,
  HIFO: WireMethod.COST_BASIS_METHOD_HIFO,
  AVERAGE: WireMethod.COST_BASIS_METHOD_AVERAGE,
};

/** The enum value's GlobeCo code; UNSPECIFIED becomes "" so validation reports it like a missing type. */
export function typeName(value: WireType): string {
  return TYPE_NAMES[value] ?? (value === WireType.TRANSACTION_TYPE_UNSPECIFIED ? "" : String(value));
}

export function typeValue(type: TransactionType): WireType {
  return TYPE_VALUES[type];
}

export function statusName(value: WireStatus): TransactionStatus | null {
  const entry = Object.entries(STATUS_VALUES).find(([, v]) => v === value);
  return entry ? (entry[0] as TransactionStatus) : null;
}

export function methodName(value: WireMethod): CostBasisMethod | null {
  const entry = Object.entries(METHOD_VALUES).find(([, v]) => v === value);
  return entry ? (entry[0] as CostBasisMethod) : null;
}

export function methodValue(method: CostBasisMethod): WireMethod {
  return METHOD_VALUES[method];
}

/** A posted item in domain form; an empty security id means "none" (proto3 strings have no null). */
export function fromWireInput(input: WireInput): TransactionInput {
  return {
    portfolioId: input.portfolioId,
    securityId: input.securityId === "" ? null : input.securityId,
    sourceId: input.sourceId,
    transactionType: typeName(input.transactionType),
    quantity: input.quantity,
    price: input.price,
    transactionDate: input.transactionDate,
  };
}

export function toWireTransaction(t: StoredTransaction | TransactionRecord): Partial<Transaction> {
  const record = t as Partial<TransactionRecord>;
  return {
    id: t.id,
    portfolioId: t.portfolioId,
    securityId: t.securityId ?? "",
    sourceId: t.sourceId,
    status: STATUS_VALUES[t.status],
    transactionType: typeValue(t.type),
    quantity: formatDecimal(t.quantity),
    price: formatDecimal(t.price),
    transactionDate: t.transactionDate,
    reprocessingAttempts: t.reprocessingAttempts,
    version: t.version,
    errorMessage: t.errorMessage ?? "",
    createTime: record.createdAt,
    updateTime: record.updatedAt,
  };
}

export function toWireBalance(b: BalanceRecord): Partial<Balance> {
  return {
    id: b.id,
    portfolioId: b.portfolioId,
    securityId: b.securityId ?? "",
    quantityLong: formatDecimal(b.quantityLong),
    quantityShort: formatDecimal(b.quantityShort),
    version: b.version,
    lastUpdated: b.lastUpdated,
    quantityReserved: formatDecimal(b.reserved),
    quantityAvailable: formatDecimal(b.quantityLong.minus(b.reserved)),
  };
}

export function toWireLot(lot: TaxLot): Partial<WireLot> {
  return {
    lotId: lot.lotId,
    openDate: lot.openedOn,
    quantity: formatDecimal(lot.quantity),
    costPerUnit: formatDecimal(unitCost(lot).toDecimalPlaces(8, Decimal.ROUND_HALF_EVEN)),
    costBasis: formatDecimal(lot.cost),
    originalQuantity: formatDecimal(lot.openQuantity),
  };
}

export function toWireRealization(c: LotClosure & { saleDate: string }): Partial<LotRealization> {
  const units = c.quantity.abs();
  const perUnit = (v: Decimal) => formatDecimal(units.isZero() ? v : v.div(c.quantity).toDecimalPlaces(8, Decimal.ROUND_HALF_EVEN));
  return {
    saleTransactionId: c.transactionId,
    lotId: c.lotId,
    saleDate: c.saleDate,
    quantity: formatDecimal(units),
    costPerUnit: perUnit(c.cost),
    proceedsPerUnit: perUnit(c.proceeds),
    realizedPnl: formatDecimal(c.realizedPnl),
  };
}

export function toWireReservation(r: Reservation): Partial<WireReservation> {
  const status = { OPEN: WireReservationStatus.RESERVATION_STATUS_OPEN, RELEASED: WireReservationStatus.RESERVATION_STATUS_RELEASED, CONSUMED: WireReservationStatus.RESERVATION_STATUS_CONSUMED }[r.status];
  return {
    reservationId: r.reservationId,
    portfolioId: r.portfolioId,
    orderId: r.orderId,
    securityId: r.securityId ?? "",
    amount: formatDecimal(r.amount),
    remaining: formatDecimal(remainingOf(r)),
    status,
    createTime: r.createdAt,
    updateTime: r.updatedAt,
  };
}

export function differenceKindValue(kind: LedgerDifferenceKind): WireDifferenceKind {
  return WireDifferenceKind[`LEDGER_DIFFERENCE_KIND_${kind}` as keyof typeof WireDifferenceKind] as WireDifferenceKind;
}

export function fromWireImportRow(row: WireImportRow): ImportRow {
  return {
    lineNumber: Number(row.lineNumber),
    portfolioId: row.portfolioId,
    securityId: row.securityId,
    sourceId: row.sourceId,
    transactionType: row.transactionType,
    quantity: row.quantity,
    price: row.price,
    transactionDate: row.transactionDate,
  };
}

export function toWireImportRow(row: ImportRow): WireImportRow {
  return { ...row, lineNumber: String(row.lineNumber) };
}

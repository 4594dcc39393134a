import Decimal from "decimal.js";
import { accountingDecimal, ZERO } from "./money";

/** The eight GlobeCo transaction type codes, in the order the reference lists them in its messages. */
export const TRANSACTION_TYPES = ["BUY", "SELL", "SHORT", "COVER", "DEP", "WD", "IN", "OUT"] as const;
export type TransactionType = (typeof TRANSACTION_TYPES)[number];

/** Processing statuses: NEW (inserted), PROC (balances updated), ERROR (retryable), FATAL (not retryable). */
export const TRANSACTION_STATUSES = ["NEW", "PROC", "ERROR", "FATAL"] as const;
export type TransactionStatus = (typeof TRANSACTION_STATUSES)[number];

/** True for a known code, matched case-sensitively as the reference API does. */
export function isTransactionType(value: string): value is TransactionType {
  return (TRANSACTION_TYPES as readonly string[]).includes(value);
}

/** DEP and WD move cash only; they carry no security and a price of exactly 1. */
export function isCashType(type: TransactionType): boolean {
  return type === "DEP" || type === "WD";
}

/** How one transaction moves the security row and the cash row (null where the reference says N/A). */
export interface TransactionImpact {
  longDelta: Decimal | null;
  shortDelta: Decimal | null;
  cashDelta: Decimal | null;
}

/**
 * The reference impact table (§1.2): the security leg moves by ± quantity; the cash leg of a trade moves by the
 * notional quantity × price (the reference implementation and its tests, not the ambiguous spec wording);
 * DEP/WD move cash by quantity; IN/OUT never touch cash. A negative quantity simply flips every sign. A fee,
 * which only fills carry, always costs cash.
 */
export function transactionImpact(
  type: TransactionType,
  quantity: Decimal,
  price: Decimal,
  fee: Decimal = ZERO,
): TransactionImpact {
  const q = accountingDecimal(quantity);
  switch (type) {
    case "BUY":
      return { longDelta: q, shortDelta: null, cashDelta: minusFee(q.times(price).negated(), fee) };
    case "SELL":
      return { longDelta: q.negated(), shortDelta: null, cashDelta: minusFee(q.times(price), fee) };
    case "SHORT":
      return { longDelta: null, shortDelta: q, cashDelta: minusFee(q.times(price), fee) };
    case "COVER":
      return { longDelta: null, shortDelta: q.negated(), cashDelta: minusFee(q.times(price).negated(), fee) };
    case "DEP":
      return { longDelta: null, shortDelta: null, cashDelta: q };
    case "WD":
      return { longDelta: null, shortDelta: null, cashDelta: q.negated() };
    case "IN":
      return { longDelta: q, shortDelta: null, cashDelta: null };
    case "OUT":
      return { longDelta: q.negated(), shortDelta: null, cashDelta: null };
  }
}

/** Only fills carry a fee: skip the subtraction (and its allocation) for the fee-less rest. */
function minusFee(amount: Decimal, fee: Decimal): Decimal {
  return fee.isZero() ? amount : amount.minus(fee);
}

import Decimal from "decimal.js";
import { fitsStoredRange, parseDecimal, roundToStoredScale, ZERO } from "./money";
import { isCashType, isTransactionType, TRANSACTION_TYPES, type TransactionType } from "./transaction-type";

/** A transaction as a client posts it: every value still a string, the security id absent for cash. */
export interface TransactionInput {
  portfolioId: string;
  /** Absent (undefined/null) means "no security"; an empty string counts as present, as in the reference. */
  securityId?: string | null;
  sourceId: string;
  transactionType: string;
  /** Decimal string; empty means 0, which the reference rejects as "quantity cannot be zero". */
  quantity: string;
  /** Decimal string; empty means 0, which the reference rejects as "must be positive". */
  price: string;
  /** YYYYMMDD. */
  transactionDate: string;
}

/** One reason an item failed, in the reference's `{field, message, value}` shape. */
export interface TransactionFieldError {
  field: string;
  message: string;
  value: string;
}

/** A transaction that passed every validation layer, normalised to the stored scale. */
export interface ValidTransaction {
  portfolioId: string;
  securityId: string | null;
  sourceId: string;
  type: TransactionType;
  quantity: Decimal;
  price: Decimal;
  /** Commission in cash; only fills carry one, posted transactions always have 0. */
  fee: Decimal;
  /** YYYYMMDD. */
  transactionDate: string;
}

export type ValidationResult = { ok: true; transaction: ValidTransaction } | { ok: false; errors: TransactionFieldError[] };

const ALPHANUMERIC = /^[a-zA-Z0-9]+$/;
const TYPE_LIST = TRANSACTION_TYPES.join(", ");

/**
 * Runs the reference's validation layers in order (§1.4): the request checks (all failures collected), then
 * the domain builder (one "transaction" error listing its reasons), so a client sees exactly the messages
 * GlobeCo returns. The uniqueness of source ids is checked later, against the store and the batch.
 */
export function validateTransaction(input: TransactionInput, index: number): ValidationResult {
  const fields = validateRequestFields(input);
  if (fields.errors !== null) return { ok: false, errors: fields.errors };
  const { quantity, price } = fields;

  const type = input.transactionType as TransactionType;
  const securityId = input.securityId ?? null;
  const sourceId = input.sourceId.trim();

  // Collected lazily: a valid item (nearly every one) allocates no list of reasons.
  let builderErrors: string[] | null = null;
  const portfolioError = idError("portfolio", input.portfolioId);
  if (portfolioError !== null) builderErrors = added(builderErrors, portfolioError);
  if (securityId !== null && securityId !== "") {
    const securityError = idError("security", securityId);
    if (securityError !== null) builderErrors = added(builderErrors, securityError);
  }
  if (sourceId.length === 0) builderErrors = added(builderErrors, "source ID cannot be empty");
  else if (sourceId.length > 50) builderErrors = added(builderErrors, "source ID must not exceed 50 characters");
  if (isCashType(type)) {
    if (securityId) builderErrors = added(builderErrors, "cash transactions (DEP/WD) must have empty security ID");
    if (!price.equals(1)) builderErrors = added(builderErrors, "cash transactions must have price of 1.0");
  } else if (!securityId) {
    builderErrors = added(builderErrors, "security transactions require a valid security ID");
  }
  if (quantity.isZero()) builderErrors = added(builderErrors, "quantity cannot be zero");
  if (price.isNegative()) builderErrors = added(builderErrors, "price cannot be negative");
  if (builderErrors !== null) {
    return {
      ok: false,
      errors: [{ field: "transaction", message: `transaction validation failed: [${builderErrors.join(" ")}]`, value: `index_${index}` }],
    };
  }

  // The reference's DECIMAL(18,8) columns round extra decimals and reject more than 10 integer digits with a
  // database error, which it reports as a "repository" failure; we decide both before touching the database.
  const storedQuantity = roundToStoredScale(quantity);
  const storedPrice = roundToStoredScale(price);
  if (!fitsStoredRange(storedQuantity) || !fitsStoredRange(storedPrice) || storedQuantity.isZero() || storedPrice.isZero()) {
    return {
      ok: false,
      errors: [{ field: "repository", message: "repository error in create for transaction: numeric field overflow", value: `index_${index}` }],
    };
  }
  return {
    ok: true,
    transaction: {
      portfolioId: input.portfolioId,
      securityId: isCashType(type) ? null : (securityId as string),
      sourceId,
      type,
      quantity: storedQuantity,
      price: storedPrice,
      fee: ZERO,
      transactionDate: input.transactionDate,
    },
  };
}

/**
 * Layer A of the reference: checks on the posted fields, every failure collected, messages verbatim. Returns
 * the parsed quantity and price too, so each decimal string is parsed once; `errors` is null when all pass.
 */
function validateRequestFields(
  input: TransactionInput,
): { errors: null; quantity: Decimal; price: Decimal } | { errors: TransactionFieldError[]; quantity: Decimal | null; price: Decimal | null } {
  let errors: TransactionFieldError[] | null = null;
  const securityPresent = input.securityId !== undefined && input.securityId !== null;
  if (input.portfolioId.length !== 24) errors = added(errors, field("portfolioId", "must be exactly 24 characters", input.portfolioId));
  if (securityPresent && (input.securityId as string).length !== 24) {
    errors = added(errors, field("securityId", "must be exactly 24 characters", input.securityId as string));
  }
  if (input.sourceId.length > 50) errors = added(errors, field("sourceId", "must not exceed 50 characters", input.sourceId));
  const typeKnown = isTransactionType(input.transactionType);
  if (!typeKnown) errors = added(errors, field("transactionType", `must be one of: ${TYPE_LIST}`, input.transactionType));
  // A malformed number made the whole reference request fail as INVALID_JSON; over gRPC the value arrives as a
  // string, so we report it against its own item instead of rejecting the batch.
  const quantity = input.quantity === "" ? ZERO : parseDecimal(input.quantity);
  if (quantity === null) errors = added(errors, field("quantity", "must be a valid decimal number", input.quantity));
  const price = input.price === "" ? ZERO : parseDecimal(input.price);
  if (price === null) errors = added(errors, field("price", "must be a valid decimal number", input.price));
  // Same as greaterThan(0), without making a Decimal of the 0 for every item.
  else if (price.isZero() || price.isNegative()) errors = added(errors, field("price", "must be positive", input.price));
  if (!isYyyymmdd(input.transactionDate)) errors = added(errors, field("transactionDate", "must be in YYYYMMDD format", input.transactionDate));
  if (typeKnown) {
    const cash = isCashType(input.transactionType as TransactionType);
    if (cash && securityPresent) errors = added(errors, field("securityId", "must be null for DEP/WD transactions", input.securityId as string));
    if (!cash && !securityPresent) errors = added(errors, field("securityId", "is required for non-cash transactions", ""));
  }
  if (errors === null && quantity !== null && price !== null) return { errors: null, quantity, price };
  return { errors: errors ?? [], quantity, price };
}

/** The list with the item appended, created on the first one (valid items, nearly all of them, make no list). */
function added<T>(list: T[] | null, item: T): T[] {
  if (list === null) return [item];
  list.push(item);
  return list;
}

function field(field: string, message: string, value: string): TransactionFieldError {
  return { field, message, value };
}

/** The builder's reason an id is malformed, or null. */
function idError(kind: "portfolio" | "security", id: string): string | null {
  if (id.length !== 24) return `${kind} ID must be exactly 24 characters, got ${id.length}`;
  if (!ALPHANUMERIC.test(id)) return `${kind} ID must contain only alphanumeric characters`;
  return null;
}

/** True for an exact 8-digit calendar date (Go's layout 20060102 checks month and day ranges too). */
export function isYyyymmdd(text: string): boolean {
  if (!YYYYMMDD.test(text)) return false;
  // Eight digits: read them in place rather than through three substrings.
  const year = digitAt(text, 0) * 1000 + digitAt(text, 1) * 100 + digitAt(text, 2) * 10 + digitAt(text, 3);
  const month = digitAt(text, 4) * 10 + digitAt(text, 5);
  const day = digitAt(text, 6) * 10 + digitAt(text, 7);
  if (month < 1 || month > 12 || day < 1) return false;
  // The proleptic Gregorian calendar, as Go's time package and JavaScript dates use it (year 0 is a leap year),
  // computed rather than asked of a Date: this runs for every posted item.
  const leap = year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
  const daysInMonth = month === 2 ? (leap ? 29 : 28) : DAYS_IN_MONTH[month - 1];
  return day <= daysInMonth;
}

const YYYYMMDD = /^\d{8}$/;
const digitAt = (text: string, i: number) => text.charCodeAt(i) - 48;
const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

/** The per-item failure for a source id that already exists (in the store or earlier in the same batch). */
export function duplicateSourceIdError(sourceId: string): TransactionFieldError {
  return { field: "sourceId", message: "source ID must be unique", value: sourceId };
}

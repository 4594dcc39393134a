import Decimal from "decimal.js";
import { AccountingError } from "./accounting-error";
import { dec, formatDecimal, parseDecimal } from "./money";

/** A deposit (recorded as a DEP transaction) or a withdrawal (recorded as WD). */
export type CashMovementKind = "DEPOSIT" | "WITHDRAWAL";

/** One idempotent cash movement and the transaction that recorded it. */
export interface CashMovement {
  idempotencyKey: string;
  portfolioId: string;
  kind: CashMovementKind;
  amount: Decimal;
  transactionId: string;
  /** Cash balance right after the movement. */
  balanceAfter: Decimal;
  createdAt: Date;
}

/** Per portfolio and UTC day; CNOP's defaults, configurable per deployment. */
export interface DailyCashLimits {
  deposit: Decimal;
  withdrawal: Decimal;
}

export const DEFAULT_DAILY_CASH_LIMITS: DailyCashLimits = { deposit: dec(10_000), withdrawal: dec(5_000) };
/** CNOP's bounds on one movement: 0 < amount ≤ 1,000,000 with at most 2 decimals. */
export const MAX_CASH_MOVEMENT = dec(1_000_000);
const MAX_AMOUNT_DECIMALS = 2;

/** Validates an amount with CNOP's messages; the field violation names `amount`. */
export function validateCashAmount(text: string): Decimal {
  const amount = parseDecimal(text);
  const fail = (description: string) => new AccountingError("INVALID_ARGUMENT", description, [{ field: "amount", description }]);
  if (amount === null) throw fail("Amount must be a decimal number");
  if (!amount.greaterThan(0)) throw fail("Amount must be greater than 0");
  if (amount.greaterThan(MAX_CASH_MOVEMENT)) throw fail("Amount cannot exceed 1,000,000");
  if (amount.decimalPlaces() > MAX_AMOUNT_DECIMALS) throw fail("Amount cannot have more than 2 decimal places");
  return amount;
}

/** Start of the UTC calendar day containing `now`: the window of the daily limits. */
export function utcDayStart(now: Date): Date {
  return new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate()));
}

/**
 * Rejects a movement that would take the day's total past the limit; reaching the limit exactly is allowed.
 * The message is CNOP's, which tells the user what is left today.
 */
export function checkDailyLimit(kind: CashMovementKind, alreadyToday: Decimal, amount: Decimal, limits: DailyCashLimits): void {
  const limit = kind === "DEPOSIT" ? limits.deposit : limits.withdrawal;
  if (alreadyToday.plus(amount).lessThanOrEqualTo(limit)) return;
  const message =
    kind === "DEPOSIT"
      ? `Daily deposit limit exceeded. Limit: ${usd(limit)}, Already deposited today: ${usd(alreadyToday)}, Requested: ${usd(amount)}. Try again tomorrow.`
      : `Daily withdrawal limit exceeded. Limit: ${usd(limit)}, Already withdrawn today: ${usd(alreadyToday)}, Requested: ${usd(amount)}. Try again tomorrow.`;
  throw new AccountingError("DAILY_LIMIT_EXCEEDED", message, [], {
    limit: formatDecimal(limit),
    used_today: formatDecimal(alreadyToday),
    requested: formatDecimal(amount),
  });
}

/** Rejects a withdrawal larger than the available (unreserved) cash, with CNOP's message. */
export function checkWithdrawable(available: Decimal, amount: Decimal): void {
  if (amount.lessThanOrEqualTo(available)) return;
  const shortfall = amount.minus(available);
  throw new AccountingError(
    "INSUFFICIENT_FUNDS",
    `Insufficient balance for withdrawal. Current balance: ${usd(available)}, Required amount: ${usd(amount)}, Shortfall: ${usd(shortfall)}. Please deposit additional funds or reduce withdrawal amount.`,
    [],
    { available: formatDecimal(available), requested: formatDecimal(amount) },
  );
}

/** A retried request with the same key must carry the same movement; anything else is a client bug. */
export function checkSameMovement(existing: CashMovement, request: { portfolioId: string; kind: CashMovementKind; amount: Decimal }): void {
  if (existing.portfolioId === request.portfolioId && existing.kind === request.kind && existing.amount.equals(request.amount)) return;
  throw new AccountingError("IDEMPOTENCY_KEY_REUSED", "idempotency key was already used for a different cash movement", [], {
    idempotency_key: existing.idempotencyKey,
  });
}

/** "$10,000.00": dollars with thousands separators and cents, rounded half-even for display only. */
export function usd(amount: Decimal): string {
  const fixed = dec(amount).toFixed(2, Decimal.ROUND_HALF_EVEN);
  const negative = fixed.startsWith("-");
  const [whole, cents] = (negative ? fixed.slice(1) : fixed).split(".");
  return `${negative ? "-" : ""}$${whole.replace(/\B(?=(\d{3})+(?!\d))/g, ",")}.${cents}`;
}

import Decimal from "decimal.js";

/**
 * Accounting arithmetic runs on its own Decimal constructor with 60 significant digits: the default 20 would
 * round the exact product of two DECIMAL(18,8) values (up to 36 digits) before we round it to the stored scale,
 * a double rounding that could move the last stored digit.
 */
export const AccountingDecimal = Decimal.clone({ precision: 60, rounding: Decimal.ROUND_HALF_UP });

/** Stored scale of quantities, prices and balances (GlobeCo's DECIMAL(18,8)). */
export const QUANTITY_SCALE = 8;

/**
 * PostgreSQL rounds NUMERIC half away from zero; decimal.js calls that ROUND_HALF_UP. Rounding with the same
 * rule in code means the value we compute is exactly the value the database stores, so a recomputation from
 * the log (the audit) can demand equality rather than "close enough".
 */
export const POSTGRES_NUMERIC_ROUNDING = Decimal.ROUND_HALF_UP;

/** Balances, quantities and prices must stay below 10^10 in magnitude: DECIMAL(18,8) holds 10 integer digits. */
export const STORED_MAGNITUDE_LIMIT = new AccountingDecimal("1e10");

/** Converts a decimal string, number-free, into an accounting Decimal; throws on anything that is not a decimal. */
export function dec(value: Decimal.Value): Decimal {
  return new AccountingDecimal(value);
}

/** Zero, shared: Decimals are immutable, so one instance serves every fee-less transaction. */
export const ZERO: Decimal = new AccountingDecimal(0);

/**
 * The value itself when it already is an accounting Decimal, else a copy that is one. Arithmetic takes its
 * precision from the left operand's constructor, so values from elsewhere are converted, but copying our own
 * values on every step only fed the garbage collector.
 */
export function accountingDecimal(value: Decimal): Decimal {
  return value.constructor === AccountingDecimal ? value : new AccountingDecimal(value);
}

/**
 * Parses a wire decimal string strictly, as common.proto defines it: optional sign, digits, optional fraction
 * ("100.25", "-5025"); no exponent ("1e3"), no bare point ("5.", ".5"). Returns null when malformed.
 */
export function parseDecimal(text: string): Decimal | null {
  const trimmed = text.trim();
  if (!/^[+-]?\d+(\.\d+)?$/.test(trimmed)) return null;
  return new AccountingDecimal(trimmed);
}

/** Rounds to the stored scale with the database's own rule (see POSTGRES_NUMERIC_ROUNDING). */
export function roundToStoredScale(value: Decimal): Decimal {
  const d = accountingDecimal(value);
  // Sums and differences of stored values already have at most 8 decimals: nothing to round, nothing to allocate.
  return d.isFinite() && d.decimalPlaces() <= QUANTITY_SCALE ? d : d.toDecimalPlaces(QUANTITY_SCALE, POSTGRES_NUMERIC_ROUNDING);
}

/** True when the value fits a DECIMAL(18,8) column. */
export function fitsStoredRange(value: Decimal): boolean {
  // decimal.js keeps the base-10 exponent of the leading digit in `e`: |x| < 10^10 exactly when e < 10
  // (zero has e = 0). Same answer as abs().lessThan(1e10) without two allocations per check.
  return value.isFinite() && value.e < 10;
}

/**
 * Canonical wire form: plain notation, trailing zeros trimmed ("100", "50.25", "-5025"), like the
 * shopspring/decimal strings GlobeCo emits, so clients comparing strings see the reference's values.
 */
export function formatDecimal(value: Decimal): string {
  // toFixed() without places prints every digit whatever the constructor's precision: no copy needed.
  if (value.isZero()) return "0";
  return value.toFixed();
}

/** Formats with exactly `places` decimals, half away from zero (the `%.8f` of the allocation file). */
export function formatFixed(value: Decimal, places: number): string {
  return dec(value).toFixed(places, POSTGRES_NUMERIC_ROUNDING);
}

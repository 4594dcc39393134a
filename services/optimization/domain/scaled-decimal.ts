// Exact fixed-point arithmetic on BigInt for the solver. Money and quantities arrive as decimal strings;
// the solver lifts every one of them to a common power-of-ten scale so that sums, products and comparisons
// are exact integer operations (no binary floating point, no rounding), whatever the magnitudes.

import { invalidRebalanceInput } from "./optimization-error";

const DECIMAL_PATTERN = /^(-?)(\d+)(?:\.(\d+))?$/;

/** Number of digits after the decimal point of a plain decimal string ("12.50" → 2). */
export function decimalPlaces(value: string): number {
  const match = DECIMAL_PATTERN.exec(value);
  if (!match) throw invalidDecimal(value);
  return match[3] ? match[3].length : 0;
}

/** The integer value × 10^scale of a decimal string; throws if it has more than `scale` decimals. */
export function toScaled(value: string, scale: number): bigint {
  const match = DECIMAL_PATTERN.exec(value);
  if (!match) throw invalidDecimal(value);
  const fraction = match[3] ?? "";
  if (fraction.length > scale) throw invalidDecimal(value);
  const digits = BigInt(match[2] + fraction.padEnd(scale, "0"));
  return match[1] === "-" ? -digits : digits;
}

/** The plain decimal string of integer `n` × 10^-scale, without trailing zeros. */
export function fromScaled(n: bigint, scale: number): string {
  const negative = n < 0n;
  const digits = (negative ? -n : n).toString().padStart(scale + 1, "0");
  const whole = digits.slice(0, digits.length - scale);
  const fraction = digits.slice(digits.length - scale).replace(/0+$/, "");
  const body = fraction.length > 0 ? `${whole}.${fraction}` : whole;
  return negative && body !== "0" ? `-${body}` : body;
}

/** 10^exponent as a BigInt. */
export function pow10(exponent: number): bigint {
  return 10n ** BigInt(exponent);
}

/** ⌊a / b⌋ for b > 0 (BigInt division truncates toward zero, which is wrong for negative a). */
export function floorDiv(a: bigint, b: bigint): bigint {
  const q = a / b;
  return a % b !== 0n && a < 0n ? q - 1n : q;
}

/** ⌈a / b⌉ for b > 0. */
export function ceilDiv(a: bigint, b: bigint): bigint {
  const q = a / b;
  return a % b !== 0n && a > 0n ? q + 1n : q;
}

function invalidDecimal(value: string) {
  return invalidRebalanceInput(`"${value}" is not a plain decimal number`, [
    { field: "decimal", description: `"${value}" is not a plain decimal number` },
  ]);
}

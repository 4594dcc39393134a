import { createHash } from "node:crypto";
import type Decimal from "decimal.js";
import { OrderError } from "./order-error";
import type { SubmitCommand } from "./submit-command";

/**
 * The fingerprint of a submit payload: sha256 over a canonical form of every field that changes what the order
 * does. Decimals are normalised ("10.0" and "10" are the same order), the symbol is upper-cased and the time in
 * force defaulted before this runs, and the key itself is left out.
 */
export function fingerprintOf(command: SubmitCommand): string {
  const canonical = [
    command.portfolioId,
    command.symbol,
    command.securityId,
    command.side,
    command.type,
    command.timeInForce,
    decimalText(command.quantity),
    decimalText(command.notional),
    decimalText(command.limitPrice),
    decimalText(command.stopPrice),
  ].join("\u001f");
  return createHash("sha256").update(canonical, "utf8").digest("hex");
}

/**
 * Decides a replay: the same fingerprint gets the original order back; a different payload under the same key is
 * IDEMPOTENCY_KEY_REUSED (never silently a second order, never silently the first order for a different request).
 */
export function replayOrderId(stored: { fingerprint: string; orderId: string }, fingerprint: string): string {
  if (stored.fingerprint !== fingerprint) {
    throw new OrderError(
      "IDEMPOTENCY_KEY_REUSED",
      "idempotency_key was already used for a different order request",
      [{ field: "idempotency_key", description: "idempotency_key was already used for a different order request" }],
      { orderId: stored.orderId },
    );
  }
  return stored.orderId;
}

function decimalText(value: Decimal | null): string {
  return value === null ? "-" : value.toFixed();
}

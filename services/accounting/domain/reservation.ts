import Decimal from "decimal.js";
import { AccountingError } from "./accounting-error";
import { dec, formatDecimal } from "./money";

/** OPEN holds a remainder; CONSUMED was used up by fills; RELEASED gave its remainder back. */
export type ReservationStatus = "OPEN" | "CONSUMED" | "RELEASED";

/** A hold against a portfolio's cash (securityId null) or units of one security, made for one order. */
export interface Reservation {
  /** Server-assigned UUID. */
  reservationId: string;
  /** The order the hold is for; unique, it makes CreateReservation safe to retry. */
  orderId: string;
  portfolioId: string;
  securityId: string | null;
  /** Held amount: cash for a buy, units for a sell. */
  amount: Decimal;
  consumed: Decimal;
  released: Decimal;
  status: ReservationStatus;
  createdAt: Date;
  updatedAt: Date;
}

/** What is still held. */
export function remainingOf(reservation: Reservation): Decimal {
  return reservation.amount.minus(reservation.consumed).minus(reservation.released);
}

/** available = balance − open holds (never a negative hold: a negative balance just has negative availability). */
export function availableAmount(balance: Decimal, openHolds: Decimal): Decimal {
  return dec(balance).minus(openHolds);
}

/**
 * Opens a hold if it fits within what is available, otherwise FAILED_PRECONDITION-style INSUFFICIENT_FUNDS
 * (cash) or INSUFFICIENT_POSITION (units). The caller has locked the portfolio, so "available" cannot change
 * between this check and the write: concurrent holds never over-commit the same cash.
 */
export function openReservation(
  request: { reservationId: string; orderId: string; portfolioId: string; securityId: string | null; amount: Decimal },
  available: Decimal,
  now: Date,
): Reservation {
  const amount = dec(request.amount);
  if (amount.greaterThan(available)) {
    const what = request.securityId === null ? "cash" : `units of ${request.securityId}`;
    throw new AccountingError(
      request.securityId === null ? "INSUFFICIENT_FUNDS" : "INSUFFICIENT_POSITION",
      `cannot reserve ${formatDecimal(amount)} ${what}: only ${formatDecimal(Decimal.max(available, 0))} available`,
      [],
      { available: formatDecimal(available), requested: formatDecimal(amount) },
    );
  }
  return { ...request, amount, consumed: dec(0), released: dec(0), status: "OPEN", createdAt: now, updatedAt: now };
}

/** A new OPEN hold as it would be stored, before the availability check (which storage applies atomically). */
export function proposedReservation(
  request: { reservationId: string; orderId: string; portfolioId: string; securityId: string | null; amount: Decimal },
  now: Date,
): Reservation {
  return { ...request, amount: dec(request.amount), consumed: dec(0), released: dec(0), status: "OPEN", createdAt: now, updatedAt: now };
}

/** True when a retried CreateReservation asks for exactly the hold that exists. */
export function sameReservationRequest(
  existing: Reservation,
  request: { portfolioId: string; securityId: string | null; amount: Decimal },
): boolean {
  return existing.portfolioId === request.portfolioId && existing.securityId === request.securityId && existing.amount.equals(request.amount);
}

/** Frees the remainder. Releasing a hold that is no longer open changes nothing, so a retry is harmless. */
export function releaseReservation(reservation: Reservation, now: Date): Reservation {
  if (reservation.status !== "OPEN") return reservation;
  return { ...reservation, released: reservation.released.plus(remainingOf(reservation)), status: "RELEASED", updatedAt: now };
}

/**
 * Takes what a fill uses from the hold; `excess` is the part the hold could not cover, which the fill must
 * find in free (unreserved) balance. A hold used up by fills becomes CONSUMED.
 */
export function consumeReservation(
  reservation: Reservation,
  needed: Decimal,
  now: Date,
): { reservation: Reservation; fromHold: Decimal; excess: Decimal } {
  if (reservation.status !== "OPEN") return { reservation, fromHold: dec(0), excess: dec(needed) };
  const fromHold = Decimal.min(remainingOf(reservation), needed);
  const consumed = reservation.consumed.plus(fromHold);
  const next: Reservation = { ...reservation, consumed, updatedAt: now };
  if (remainingOf(next).isZero()) next.status = "CONSUMED";
  return { reservation: next, fromHold, excess: dec(needed).minus(fromHold) };
}

import Decimal from "decimal.js";
import { AccountingError } from "./accounting-error";
import { requireEntityId } from "./identifiers";
import { fitsStoredRange, parseDecimal, QUANTITY_SCALE } from "./money";
import { openReservation, proposedReservation, remainingOf, sameReservationRequest, type Reservation } from "./reservation";

/**
 * Reservations in storage. Each call is atomic and serialised with every other writer of the portfolio (fills,
 * cash movements, posts), so concurrent holds never over-commit a balance.
 */
export interface ReservationHolds {
  /**
   * Stores `proposed` if no hold exists for its order and its amount fits within what is available (balance − open
   * holds of the same asset). CREATED: stored, `available` is what is left after it. EXISTING: the order already
   * has a hold, nothing written. REFUSED: it does not fit, nothing written; `available` is what could be held.
   */
  hold(proposed: Reservation): Promise<
    { outcome: "CREATED"; reservation: Reservation; available: Decimal } | { outcome: "EXISTING"; reservation: Reservation; available: Decimal } | { outcome: "REFUSED"; available: Decimal }
  >;
  /** The reservation by its id or its order id after freeing its remainder (unchanged unless OPEN), or null. */
  release(reservationIdOrOrderId: string, now: Date): Promise<Reservation | null>;
}

export interface ReservationDeps {
  reservationHolds: ReservationHolds;
  now: () => Date;
  /** New reservation ids (UUIDs in production). */
  newId: () => string;
}

export interface CreateReservationRequest {
  portfolioId: string;
  orderId: string;
  /** Empty/null to hold cash, else the security whose long units to hold. */
  securityId: string | null;
  /** Decimal string > 0. */
  amount: string;
}

/**
 * Holds cash or units for an order, only within what is available (balance − open holds); the storage makes the
 * check and the insert one atomic step under the portfolio's lock, so any number of concurrent requests never hold
 * more than the balance. The order id is the natural key: a retry with the same payload returns the existing hold.
 */
export async function createReservation(
  deps: ReservationDeps,
  request: CreateReservationRequest,
): Promise<{ reservation: Reservation; availableAfter: Decimal; replayed: boolean }> {
  requireEntityId(request.portfolioId, "portfolio_id");
  const securityId = request.securityId ? requireEntityId(request.securityId, "security_id") : null;
  if (request.orderId.length < 1 || request.orderId.length > 64) {
    throw invalid("order_id", "must be 1-64 characters");
  }
  const amount = parseDecimal(request.amount);
  if (!amount || !amount.greaterThan(0) || amount.decimalPlaces() > QUANTITY_SCALE || !fitsStoredRange(amount)) {
    throw invalid("amount", `must be a decimal > 0 with at most ${QUANTITY_SCALE} decimals`);
  }

  const wanted = { reservationId: deps.newId(), orderId: request.orderId, portfolioId: request.portfolioId, securityId, amount };
  const now = deps.now();
  const result = await deps.reservationHolds.hold(proposedReservation(wanted, now));
  if (result.outcome === "EXISTING") {
    const existing = result.reservation;
    if (!sameReservationRequest(existing, { portfolioId: request.portfolioId, securityId, amount })) {
      throw new AccountingError("ALREADY_EXISTS", "a different reservation already exists for this order", [], {
        reason: "RESERVATION_EXISTS",
        reservation_id: existing.reservationId,
      });
    }
    return { reservation: existing, availableAfter: result.available, replayed: true };
  }
  if (result.outcome === "REFUSED") {
    // The domain's rule words the refusal (INSUFFICIENT_FUNDS / INSUFFICIENT_POSITION with what is available).
    openReservation(wanted, result.available, now);
    throw new Error(`storage refused a hold of ${amount.toFixed()} with ${result.available.toFixed()} available`);
  }
  return { reservation: result.reservation, availableAfter: result.available, replayed: false };
}

/** Frees what is left of a hold; a hold that is already released or consumed comes back unchanged. */
export async function releaseReservationById(deps: ReservationDeps, reservationIdOrOrderId: string): Promise<Reservation> {
  if (reservationIdOrOrderId.length < 1 || reservationIdOrOrderId.length > 64) throw invalid("reservation_id", "must be 1-64 characters");
  const released = await deps.reservationHolds.release(reservationIdOrOrderId, deps.now());
  if (!released) throw new AccountingError("NOT_FOUND", `reservation ${reservationIdOrOrderId} not found`, [], { reason: "RESERVATION_NOT_FOUND" });
  return released;
}

/** What a reservation still holds, for responses. */
export function reservationRemaining(reservation: Reservation): Decimal {
  return remainingOf(reservation);
}

function invalid(field: string, description: string): AccountingError {
  return new AccountingError("INVALID_ARGUMENT", `${field} ${description}`, [{ field, description }]);
}

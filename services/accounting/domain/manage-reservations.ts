import Decimal from "decimal.js";
import { AccountingError } from "./accounting-error";
import { requireEntityId } from "./identifiers";
import { balanceKey, createLedgerState } from "./ledger-state";
import type { WithLedgerSession } from "./ledger-session";
import { dec, fitsStoredRange, parseDecimal, QUANTITY_SCALE } from "./money";
import { withConflictRetry } from "./post-transactions";
import { availableAmount, openReservation, releaseReservation, remainingOf, sameReservationRequest, type Reservation } from "./reservation";

export interface ReservationDeps {
  withLedgerSession: WithLedgerSession;
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
 * Holds cash or units for an order, only within what is available (balance − open holds). The portfolio's lock
 * makes check-and-insert atomic, so any number of concurrent requests never hold more than the balance. The
 * order id is the natural key: a retry with the same payload returns the existing hold.
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

  return withConflictRetry(deps.withLedgerSession, async (session) => {
    await session.lockPortfolios([request.portfolioId]);
    const existing = await session.findReservation(request.orderId);
    const state = await session.loadState([request.portfolioId], securityId ? [{ portfolioId: request.portfolioId, securityId }] : []);
    const balance = state.balances.get(balanceKey(request.portfolioId, securityId))?.quantityLong ?? dec(0);
    const held = await session.openReservationTotal(request.portfolioId, securityId);
    if (existing) {
      if (existing.orderId !== request.orderId || !sameReservationRequest(existing, { portfolioId: request.portfolioId, securityId, amount })) {
        throw new AccountingError("ALREADY_EXISTS", "a different reservation already exists for this order", [], {
          reason: "RESERVATION_EXISTS",
          reservation_id: existing.reservationId,
        });
      }
      return { reservation: existing, availableAfter: availableAmount(balance, held), replayed: true };
    }
    const reservation = openReservation(
      { reservationId: deps.newId(), orderId: request.orderId, portfolioId: request.portfolioId, securityId, amount },
      availableAmount(balance, held),
      deps.now(),
    );
    await session.save({ transactions: [], closures: [], state, reservations: [reservation], cashMovements: [] });
    return { reservation, availableAfter: availableAmount(balance, held.plus(amount)), replayed: false };
  });
}

/** Frees what is left of a hold; a hold that is already released or consumed comes back unchanged. */
export async function releaseReservationById(deps: ReservationDeps, reservationIdOrOrderId: string): Promise<Reservation> {
  if (reservationIdOrOrderId.length < 1 || reservationIdOrOrderId.length > 64) throw invalid("reservation_id", "must be 1-64 characters");
  return deps.withLedgerSession(async (session) => {
    const found = await session.findReservation(reservationIdOrOrderId);
    if (!found) throw new AccountingError("NOT_FOUND", `reservation ${reservationIdOrOrderId} not found`, [], { reason: "RESERVATION_NOT_FOUND" });
    await session.lockPortfolios([found.portfolioId]);
    // Re-read under the lock: a fill may have consumed it between the lookup and the lock.
    const current = (await session.findReservation(found.reservationId)) as Reservation;
    const released = releaseReservation(current, deps.now());
    if (released !== current) {
      await session.save({ transactions: [], closures: [], state: createLedgerState(), reservations: [released], cashMovements: [] });
    }
    return released;
  });
}

/** What a reservation still holds, for responses. */
export function reservationRemaining(reservation: Reservation): Decimal {
  return remainingOf(reservation);
}

function invalid(field: string, description: string): AccountingError {
  return new AccountingError("INVALID_ARGUMENT", `${field} ${description}`, [{ field, description }]);
}

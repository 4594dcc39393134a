import Decimal from "decimal.js";
import { AccountingError } from "./accounting-error";
import type { Fill } from "./fill-event";
import { utcDateString } from "./identifiers";
import { balanceKey } from "./ledger-state";
import type { StoredTransaction, WithLedgerSession } from "./ledger-session";
import { formatDecimal, roundToStoredScale } from "./money";
import { postInSession, withConflictRetry } from "./post-transactions";
import type { ValidTransaction } from "./validate-transaction";
import { consumeReservation, releaseReservation, remainingOf, type Reservation } from "./reservation";

/** What a fill did: posted now, or already posted by an earlier delivery of the same message. */
export type PostFillResult = { kind: "POSTED"; transaction: StoredTransaction } | { kind: "ALREADY_POSTED"; existingTransactionId: string };

/**
 * The position worker's use case: in one database transaction, post each fill as a BUY/SELL whose source_id is the
 * fill id (a redelivery finds it and changes nothing), update balances and lots, and consume the order's reservation
 * (releasing its remainder when the fill closes it). Fills are applied in the given order exactly as posting them one
 * after another would. The order path must never drive a balance negative or eat another order's hold, so fills the
 * holds plus free balance cannot cover are refused (INSUFFICIENT_FUNDS / INSUFFICIENT_POSITION, checked on the
 * batch's end state), which the worker treats as permanent. Any failure rejects the whole batch and stores nothing;
 * the worker then posts the fills one by one, so a fill that cannot be posted fails alone with its own error.
 *
 * Whatever the batch's size, it costs five round trips: BEGIN, the portfolio locks, one read (the working set with the
 * reservations and open holds), one write (ledger, reservations and security symbols together), COMMIT.
 */
export async function postFills(deps: { withLedgerSession: WithLedgerSession; now: () => Date }, fills: Fill[]): Promise<PostFillResult[]> {
  return withConflictRetry(deps.withLedgerSession, async (session) => {
    await session.lockPortfolios(fills.map((fill) => fill.portfolioId));
    const posted = await postInSession(session, fills.map(transactionOf), {
      reservationIdsOrOrderIds: [...new Set(fills.map((fill) => fill.reservationId))],
      holdKeys: fills.map((fill) => ({ portfolioId: fill.portfolioId, securityId: heldKeyOf(fill) })),
    });
    const held = posted.openHolds;
    // The working copy of each reservation, reachable by its id and by its order id.
    const reservationIdOf = new Map<string, string>();
    const current = new Map<string, Reservation>();
    for (const reservation of posted.reservations) {
      current.set(reservation.reservationId, reservation);
      reservationIdOf.set(reservation.reservationId, reservation.reservationId);
      if (!reservationIdOf.has(reservation.orderId)) reservationIdOf.set(reservation.orderId, reservation.reservationId);
    }
    const changed = new Map<string, Reservation>();
    const checks = new Map<string, HoldCheck>();
    const symbols = new Map<string, string>();
    const now = deps.now();

    const results = fills.map((fill, i): PostFillResult => {
      const outcome = posted.outcomes[i];
      if (outcome.kind === "DUPLICATE") return { kind: "ALREADY_POSTED", existingTransactionId: outcome.existingTransactionId };
      if (outcome.transaction.status !== "PROC") {
        throw new AccountingError("INVALID_ARGUMENT", outcome.transaction.errorMessage ?? "fill could not be processed");
      }
      const heldKey = heldKeyOf(fill);
      const needed = fill.side === "BUY" ? roundToStoredScale(fill.quantity.times(fill.price).plus(fill.fee)) : fill.quantity;
      const id = reservationIdOf.get(fill.reservationId);
      const candidate = id === undefined ? undefined : current.get(id);
      const reservation = candidate && candidate.portfolioId === fill.portfolioId && candidate.securityId === heldKey ? candidate : null;
      const consumption = reservation ? consumeReservation(reservation, needed, now) : null;
      // The order's last fill gives back what its hold kept beyond the fills (e.g. a market buy's price buffer).
      const settled = consumption && fill.closesReservation ? releaseReservation(consumption.reservation, now) : consumption?.reservation;
      const freed = consumption && settled ? remainingOf(consumption.reservation).minus(remainingOf(settled)) : new Decimal(0);
      if (settled) {
        current.set(settled.reservationId, settled);
        changed.set(settled.reservationId, settled);
      }
      const key = balanceKey(fill.portfolioId, heldKey);
      held.set(key, (held.get(key) ?? new Decimal(0)).minus(consumption?.fromHold ?? 0).minus(freed));
      let check = checks.get(key);
      if (check === undefined) checks.set(key, (check = { fills: [], needed: new Decimal(0), reservationsRemaining: new Map() }));
      check.fills.push(fill);
      check.needed = check.needed.plus(needed);
      if (reservation && !check.reservationsRemaining.has(reservation.reservationId)) {
        check.reservationsRemaining.set(reservation.reservationId, remainingOf(reservation));
      }
      symbols.set(fill.securityId, fill.symbol);
      return { kind: "POSTED", transaction: outcome.transaction };
    });

    for (const [key, check] of checks) {
      const balanceAfter = posted.state.balances.get(key)?.quantityLong ?? new Decimal(0);
      const heldAfter = held.get(key) ?? new Decimal(0);
      if (balanceAfter.lessThan(heldAfter)) throw insufficient(check, balanceAfter.plus(check.needed).minus(heldAfter));
    }
    await session.save({
      transactions: posted.transactions,
      closures: posted.closures,
      state: posted.state,
      reservations: [...changed.values()],
      cashMovements: [],
      securitySymbols: [...symbols].map(([securityId, symbol]) => ({ securityId, symbol })),
    });
    return results;
  });
}

/** The posted fills of one balance row (a portfolio's cash, or its units of one security), checked together. */
interface HoldCheck {
  fills: Fill[];
  /** What they need in total: cash for buys, units for sells. */
  needed: Decimal;
  /** What each of their reservations held before the batch's first fill of it. */
  reservationsRemaining: Map<string, Decimal>;
}

/** The refusal of fills their holds and the free balance cannot cover, naming the fills (one alone, as it always did). */
function insufficient(check: HoldCheck, covered: Decimal): AccountingError {
  const [first] = check.fills;
  const buy = first.side === "BUY";
  const what = buy ? "cash" : `units of ${first.securityId}`;
  const ids = check.fills.map((fill) => fill.fillId);
  const reservationRemaining = [...check.reservationsRemaining.values()].reduce((sum, remaining) => sum.plus(remaining), new Decimal(0));
  const subject = ids.length === 1 ? `fill ${ids[0]} needs` : `fills ${ids.join(", ")} need`;
  const whose = ids.length === 1 ? "its reservation" : "their reservations";
  return new AccountingError(
    buy ? "INSUFFICIENT_FUNDS" : "INSUFFICIENT_POSITION",
    `${subject} ${formatDecimal(check.needed)} ${what} but ${whose} and the free balance cover only ${formatDecimal(covered)}`,
    [],
    { fill_id: ids.join(","), reservation_remaining: formatDecimal(reservationRemaining) },
  );
}

/** What a fill's hold is on: cash (null) for a buy, units of its security for a sell. */
function heldKeyOf(fill: Fill): string | null {
  return fill.side === "BUY" ? null : fill.securityId;
}

/** The BUY or SELL transaction a fill books, its source id the fill id (so a redelivered fill is a duplicate). */
function transactionOf(fill: Fill): ValidTransaction {
  return {
    portfolioId: fill.portfolioId,
    securityId: fill.securityId,
    sourceId: fill.fillId,
    type: fill.side,
    quantity: fill.quantity,
    price: fill.price,
    fee: fill.fee,
    transactionDate: utcDateString(fill.executedAt),
  };
}

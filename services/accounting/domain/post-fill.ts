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
 * The position worker's use case: in one database transaction, post the fill as a BUY/SELL whose source_id is
 * the fill id (a redelivery finds it and changes nothing), update balances and lots, and consume the order's
 * reservation (releasing its remainder when the fill closes it). The order path must never drive a balance
 * negative or eat another order's hold, so a fill the hold plus free balance cannot cover is refused
 * (INSUFFICIENT_FUNDS / INSUFFICIENT_POSITION), which the worker treats as permanent.
 */
export async function postFill(deps: { withLedgerSession: WithLedgerSession; now: () => Date }, fill: Fill): Promise<PostFillResult> {
  return withConflictRetry(deps.withLedgerSession, async (session) => {
    await session.lockPortfolios([fill.portfolioId]);
    const posted = await postInSession(session, [transactionOf(fill)]);
    const outcome = posted.outcomes[0];
    if (outcome.kind === "DUPLICATE") return { kind: "ALREADY_POSTED", existingTransactionId: outcome.existingTransactionId };
    if (outcome.transaction.status !== "PROC") {
      throw new AccountingError("INVALID_ARGUMENT", outcome.transaction.errorMessage ?? "fill could not be processed");
    }

    const buy = fill.side === "BUY";
    const heldKey = buy ? null : fill.securityId;
    const needed = buy ? roundToStoredScale(fill.quantity.times(fill.price).plus(fill.fee)) : fill.quantity;
    const found = await session.findReservation(fill.reservationId);
    const reservation = found && found.portfolioId === fill.portfolioId && found.securityId === heldKey ? found : null;
    const consumption = reservation ? consumeReservation(reservation, needed, deps.now()) : null;
    // The order's last fill gives back what its hold kept beyond the fills (e.g. a market buy's price buffer).
    const settled = consumption && fill.closesReservation ? releaseReservation(consumption.reservation, deps.now()) : consumption?.reservation;
    const freed = consumption && settled ? remainingOf(consumption.reservation).minus(remainingOf(settled)) : new Decimal(0);

    const heldBefore = await session.openReservationTotal(fill.portfolioId, heldKey);
    const heldAfter = heldBefore.minus(consumption?.fromHold ?? 0).minus(freed);
    const row = posted.state.balances.get(balanceKey(fill.portfolioId, heldKey));
    const balanceAfter = row?.quantityLong ?? new Decimal(0);
    if (balanceAfter.lessThan(heldAfter)) {
      const what = buy ? "cash" : `units of ${fill.securityId}`;
      throw new AccountingError(
        buy ? "INSUFFICIENT_FUNDS" : "INSUFFICIENT_POSITION",
        `fill ${fill.fillId} needs ${formatDecimal(needed)} ${what} but its reservation and the free balance cover only ${formatDecimal(
          balanceAfter.plus(needed).minus(heldAfter),
        )}`,
        [],
        { fill_id: fill.fillId, reservation_remaining: reservation ? formatDecimal(remainingOf(reservation)) : "0" },
      );
    }
    await session.save({
      transactions: posted.transactions,
      closures: posted.closures,
      state: posted.state,
      reservations: settled ? [settled] : [],
      cashMovements: [],
      securitySymbols: [{ securityId: fill.securityId, symbol: fill.symbol }],
    });
    return { kind: "POSTED", transaction: outcome.transaction };
  });
}

/**
 * postFill for several fills in one database transaction: the position worker's batch when fills arrive together.
 * Fills are applied in the given order exactly as one postFill after another would, each consuming (and, when it
 * closes it, releasing) its own reservation, but a batch of n costs the statements of one fill instead of n. The
 * hold check is made on the batch's end state. Any failure rejects the whole batch and stores nothing; the worker
 * then posts the fills one by one, so a fill that cannot be posted fails alone with its own error.
 */
export async function postFills(deps: { withLedgerSession: WithLedgerSession; now: () => Date }, fills: Fill[]): Promise<PostFillResult[]> {
  return withConflictRetry(deps.withLedgerSession, async (session) => {
    await session.lockPortfolios(fills.map((fill) => fill.portfolioId));
    const posted = await postInSession(session, fills.map(transactionOf));
    const heldKeys = fills.map((fill) => ({ portfolioId: fill.portfolioId, securityId: fill.side === "BUY" ? null : fill.securityId }));
    const found = await session.findReservations([...new Set(fills.map((fill) => fill.reservationId))]);
    const held = await session.openReservationTotals(heldKeys);
    // The working copy of each reservation, reachable by its id and by its order id.
    const reservationIdOf = new Map<string, string>();
    const current = new Map<string, Reservation>();
    for (const reservation of found) {
      current.set(reservation.reservationId, reservation);
      reservationIdOf.set(reservation.reservationId, reservation.reservationId);
      if (!reservationIdOf.has(reservation.orderId)) reservationIdOf.set(reservation.orderId, reservation.reservationId);
    }
    const changed = new Map<string, Reservation>();
    const checked = new Map<string, Fill>();
    const now = deps.now();

    const results = fills.map((fill, i): PostFillResult => {
      const outcome = posted.outcomes[i];
      if (outcome.kind === "DUPLICATE") return { kind: "ALREADY_POSTED", existingTransactionId: outcome.existingTransactionId };
      if (outcome.transaction.status !== "PROC") {
        throw new AccountingError("INVALID_ARGUMENT", outcome.transaction.errorMessage ?? "fill could not be processed");
      }
      const buy = fill.side === "BUY";
      const heldKey = buy ? null : fill.securityId;
      const needed = buy ? roundToStoredScale(fill.quantity.times(fill.price).plus(fill.fee)) : fill.quantity;
      const id = reservationIdOf.get(fill.reservationId);
      const candidate = id === undefined ? undefined : current.get(id);
      const reservation = candidate && candidate.portfolioId === fill.portfolioId && candidate.securityId === heldKey ? candidate : null;
      const consumption = reservation ? consumeReservation(reservation, needed, now) : null;
      const settled = consumption && fill.closesReservation ? releaseReservation(consumption.reservation, now) : consumption?.reservation;
      const freed = consumption && settled ? remainingOf(consumption.reservation).minus(remainingOf(settled)) : new Decimal(0);
      if (settled) {
        current.set(settled.reservationId, settled);
        changed.set(settled.reservationId, settled);
      }
      const key = balanceKey(fill.portfolioId, heldKey);
      held.set(key, (held.get(key) ?? new Decimal(0)).minus(consumption?.fromHold ?? 0).minus(freed));
      if (!checked.has(key)) checked.set(key, fill);
      return { kind: "POSTED", transaction: outcome.transaction };
    });

    for (const [key, fill] of checked) {
      const balanceAfter = posted.state.balances.get(key)?.quantityLong ?? new Decimal(0);
      if (balanceAfter.lessThan(held.get(key) ?? 0)) {
        throw new AccountingError(fill.side === "BUY" ? "INSUFFICIENT_FUNDS" : "INSUFFICIENT_POSITION", `fills of ${key} need more than their holds and the free balance`);
      }
    }
    const symbols = new Map(fills.map((fill) => [fill.securityId, fill.symbol]));
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

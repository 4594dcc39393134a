import Decimal from "decimal.js";
import { AccountingError } from "./accounting-error";
import type { Fill } from "./fill-event";
import { utcDateString } from "./identifiers";
import { balanceKey } from "./ledger-state";
import type { StoredTransaction, WithLedgerSession } from "./ledger-session";
import { formatDecimal, roundToStoredScale } from "./money";
import { postInSession, withConflictRetry } from "./post-transactions";
import { consumeReservation, remainingOf } from "./reservation";

/** What a fill did: posted now, or already posted by an earlier delivery of the same message. */
export type PostFillResult = { kind: "POSTED"; transaction: StoredTransaction } | { kind: "ALREADY_POSTED"; existingTransactionId: string };

/**
 * The position worker's use case: in one database transaction, post the fill as a BUY/SELL whose source_id is
 * the fill id (a redelivery finds it and changes nothing), update balances and lots, and consume the order's
 * reservation. The order path must never drive a balance negative or eat another order's hold, so a fill the
 * hold plus free balance cannot cover is refused (INSUFFICIENT_FUNDS / INSUFFICIENT_POSITION), which the worker
 * treats as permanent.
 */
export async function postFill(deps: { withLedgerSession: WithLedgerSession; now: () => Date }, fill: Fill): Promise<PostFillResult> {
  return withConflictRetry(deps.withLedgerSession, async (session) => {
    await session.lockPortfolios([fill.portfolioId]);
    const posted = await postInSession(session, [
      {
        portfolioId: fill.portfolioId,
        securityId: fill.securityId,
        sourceId: fill.fillId,
        type: fill.side,
        quantity: fill.quantity,
        price: fill.price,
        fee: fill.fee,
        transactionDate: utcDateString(fill.executedAt),
      },
    ]);
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

    const heldBefore = await session.openReservationTotal(fill.portfolioId, heldKey);
    const heldAfter = heldBefore.minus(consumption?.fromHold ?? 0);
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
      reservations: consumption ? [consumption.reservation] : [],
      cashMovements: [],
      securitySymbols: [{ securityId: fill.securityId, symbol: fill.symbol }],
    });
    return { kind: "POSTED", transaction: outcome.transaction };
  });
}

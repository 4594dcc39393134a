import Decimal from "decimal.js";
import type { Order, OrderEvent } from "./order";
import type { MarketSnapshot } from "./market-snapshot";
import type { MarketAcceptance } from "./validate-against-market";
import type { ReservationSize } from "./reservation-sizing";
import type { SubmitCommand } from "./submit-command";

/** A freshly submitted order in PENDING_NEW and its first event (version 1, seq assigned by the store). */
export function openOrder(
  orderId: string,
  command: SubmitCommand,
  market: MarketSnapshot,
  acceptance: MarketAcceptance,
  reservation: ReservationSize & { id: string },
  now: Date,
): { order: Order; event: OrderEvent } {
  const order: Order = {
    id: orderId,
    portfolioId: command.portfolioId,
    symbol: market.instrument.symbol,
    securityId: market.instrument.securityId,
    side: command.side,
    type: command.type,
    timeInForce: command.timeInForce,
    quantity: command.quantity,
    notional: command.notional,
    limitPrice: command.limitPrice,
    stopPrice: command.stopPrice,
    status: "PENDING_NEW",
    version: 1,
    filledQuantity: new Decimal(0),
    filledAmount: new Decimal(0),
    stopTriggered: false,
    marketPriceAtSubmission: acceptance.marketPrice,
    lotSize: market.instrument.lotSize,
    currency: market.instrument.currency,
    reservation: { id: reservation.id, asset: reservation.asset, amount: reservation.amount },
    expiresAt: command.timeInForce === "DAY" ? dayOrderExpiry(acceptance.session.closesAt, now) : null,
    idempotencyKey: command.idempotencyKey,
    lastReason: "SUBMITTED",
    createdAt: now,
    updatedAt: now,
    doneAt: null,
  };
  const event: OrderEvent = {
    seq: 0,
    orderId,
    portfolioId: command.portfolioId,
    orderVersion: 1,
    fromStatus: null,
    toStatus: "PENDING_NEW",
    reason: "SUBMITTED",
    fill: null,
    filledQuantityAfter: order.filledQuantity,
    filledAmountAfter: order.filledAmount,
    occurredAt: now,
  };
  return { order, event };
}

/**
 * When a DAY order expires: the session close; for instruments without one (crypto trades around the clock) the
 * next 00:00 UTC, so "DAY" still means one day.
 */
export function dayOrderExpiry(sessionClose: Date | null, now: Date): Date {
  if (sessionClose !== null && sessionClose.getTime() > now.getTime()) return sessionClose;
  return new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate() + 1));
}

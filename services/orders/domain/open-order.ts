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
  reservation: ReservationSize,
  now: Date,
): { order: Order; event: OrderEvent } {
  const order: Order = {
    id: orderId,
    portfolioId: command.portfolioId,
    symbol: command.symbol,
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
    marketPriceAtSubmission: acceptance.submissionPrice,
    lotSize: market.instrument.lotSize,
    currency: market.instrument.currency,
    reservation: { id: orderId, asset: reservation.asset, amount: reservation.amount },
    expiresAt: command.timeInForce === "DAY" ? dayOrderExpiry(market, now) : null,
    idempotencyKey: command.idempotencyKey,
    clientTag: command.clientTag,
    lastReason: "SUBMITTED",
    createdAt: now,
    updatedAt: now,
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
    occurredAt: now,
  };
  return { order, event };
}

/**
 * When a DAY order expires: the session close market data reports; for instruments without a close (crypto trades
 * around the clock) the end of the current UTC day, so "DAY" still means one day.
 */
export function dayOrderExpiry(market: MarketSnapshot, now: Date): Date {
  const close = market.session.closesAt;
  if (close !== null && close.getTime() > now.getTime()) return close;
  return new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate() + 1));
}

// The rows of the orders and order_events tables as pg returns them, and their mapping to the domain's Order and
// OrderEvent (used by the order store, order-store.ts).
import Decimal from "decimal.js";
import { type Order, type OrderEvent, type OrderReason, type OrderStatus } from "../domain/order";
import { fillIdOf, isTerminal } from "../domain/order-state-machine";
import type { EventWithOrder } from "../domain/ports";

export interface OrderRow {
  id: string;
  portfolio_id: string;
  symbol: string;
  security_id: string;
  side: Order["side"];
  type: Order["type"];
  time_in_force: Order["timeInForce"];
  quantity: string | null;
  notional: string | null;
  limit_price: string | null;
  stop_price: string | null;
  status: OrderStatus;
  version: number;
  filled_quantity: string;
  filled_amount: string;
  stop_triggered: boolean;
  market_price_at_submission: string;
  lot_size: string;
  currency: string;
  reservation_id: string;
  reservation_asset: "CASH" | "SECURITY";
  reserved_amount: string;
  expires_at: Date | null;
  idempotency_key: string;
  last_reason: OrderReason;
  created_at: Date;
  updated_at: Date;
  done_at: Date | null;
}

export interface EventRow {
  seq: string;
  order_version: number;
  from_status: OrderStatus | null;
  to_status: OrderStatus;
  reason: OrderReason;
  fill_id: string | null;
  fill_quantity: string | null;
  fill_price: string | null;
  filled_quantity_after: string;
  filled_amount_after: string;
  occurred_at: Date;
}

const dec = (value: string | null): Decimal | null => (value === null ? null : new Decimal(value));

export function orderFromRow(row: OrderRow): Order {
  return {
    id: row.id,
    portfolioId: row.portfolio_id,
    symbol: row.symbol,
    securityId: row.security_id,
    side: row.side,
    type: row.type,
    timeInForce: row.time_in_force,
    quantity: dec(row.quantity),
    notional: dec(row.notional),
    limitPrice: dec(row.limit_price),
    stopPrice: dec(row.stop_price),
    status: row.status,
    version: row.version,
    filledQuantity: new Decimal(row.filled_quantity),
    filledAmount: new Decimal(row.filled_amount),
    stopTriggered: row.stop_triggered,
    marketPriceAtSubmission: new Decimal(row.market_price_at_submission),
    lotSize: new Decimal(row.lot_size),
    currency: row.currency,
    reservation: { id: row.reservation_id, asset: row.reservation_asset, amount: new Decimal(row.reserved_amount) },
    expiresAt: row.expires_at,
    idempotencyKey: row.idempotency_key,
    lastReason: row.last_reason,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    doneAt: row.done_at,
  };
}

export function eventWithOrderFromRow(row: OrderRow & EventRow): EventWithOrder {
  const current = orderFromRow(row);
  const filledQuantity = new Decimal(row.filled_quantity_after);
  const filledAmount = new Decimal(row.filled_amount_after);
  // The order as it stood right after this event: static fields from the row, progress from the event.
  const order: Order = {
    ...current,
    status: row.to_status,
    version: row.order_version,
    filledQuantity,
    filledAmount,
    lastReason: row.reason,
    updatedAt: row.occurred_at,
    doneAt: isTerminal(row.to_status) ? row.occurred_at : null,
  };
  const fillQuantity = dec(row.fill_quantity);
  const fillPrice = dec(row.fill_price);
  const event: OrderEvent = {
    seq: Number(row.seq),
    orderId: row.id,
    portfolioId: row.portfolio_id,
    orderVersion: row.order_version,
    fromStatus: row.from_status,
    toStatus: row.to_status,
    reason: row.reason,
    fill:
      fillQuantity !== null && fillPrice !== null
        ? {
            fillId: row.fill_id ?? fillIdOf(row.id, row.order_version),
            orderId: row.id,
            portfolioId: row.portfolio_id,
            symbol: row.symbol,
            securityId: row.security_id,
            side: row.side,
            quantity: fillQuantity,
            price: fillPrice,
            amount: fillQuantity.times(fillPrice),
            currency: row.currency,
            reservationId: row.id,
            executedAt: row.occurred_at,
          }
        : null,
    filledQuantityAfter: filledQuantity,
    filledAmountAfter: filledAmount,
    occurredAt: row.occurred_at,
  };
  return { event, order };
}

// Conversions between the orders domain and the generated tradeplane.orders.v1 messages. Decimals travel as
// strings; enums as the generated numeric enums.
import { Side } from "../../../generated/tradeplane/common/v1/common";
import {
  OrderEventType,
  OrderStatus as WireStatus,
  OrderType as WireType,
  TimeInForce as WireTif,
  type Order as WireOrder,
  type OrderEvent as WireEvent,
} from "../../../generated/tradeplane/orders/v1/orders";
import Decimal from "decimal.js";
import { averageFillPrice, REASON_MESSAGES, type Order, type OrderEvent, type OrderStatus, type OrderType, type TimeInForce } from "../domain/order";
import { eventTypeOf, isTerminal } from "../domain/order-state-machine";

const STATUS_TO_WIRE: Record<OrderStatus, WireStatus> = {
  PENDING_NEW: WireStatus.ORDER_STATUS_PENDING_NEW,
  NEW: WireStatus.ORDER_STATUS_NEW,
  PARTIALLY_FILLED: WireStatus.ORDER_STATUS_PARTIALLY_FILLED,
  FILLED: WireStatus.ORDER_STATUS_FILLED,
  CANCELED: WireStatus.ORDER_STATUS_CANCELED,
  REJECTED: WireStatus.ORDER_STATUS_REJECTED,
  EXPIRED: WireStatus.ORDER_STATUS_EXPIRED,
};
const TYPE_TO_WIRE: Record<OrderType, WireType> = {
  MARKET: WireType.ORDER_TYPE_MARKET,
  LIMIT: WireType.ORDER_TYPE_LIMIT,
  STOP: WireType.ORDER_TYPE_STOP,
  STOP_LIMIT: WireType.ORDER_TYPE_STOP_LIMIT,
};
const TIF_TO_WIRE: Record<TimeInForce, WireTif> = {
  DAY: WireTif.TIME_IN_FORCE_DAY,
  GTC: WireTif.TIME_IN_FORCE_GTC,
  IOC: WireTif.TIME_IN_FORCE_IOC,
  FOK: WireTif.TIME_IN_FORCE_FOK,
};
const EVENT_TYPE_TO_WIRE = {
  CREATED: OrderEventType.ORDER_EVENT_TYPE_CREATED,
  ACCEPTED: OrderEventType.ORDER_EVENT_TYPE_ACCEPTED,
  FILLED: OrderEventType.ORDER_EVENT_TYPE_FILLED,
  CANCELED: OrderEventType.ORDER_EVENT_TYPE_CANCELED,
  REJECTED: OrderEventType.ORDER_EVENT_TYPE_REJECTED,
  EXPIRED: OrderEventType.ORDER_EVENT_TYPE_EXPIRED,
} as const;

/** Domain side name of a wire side ("" when unset, which the command check rejects). */
export function sideFromWire(side: Side): string {
  return side === Side.SIDE_BUY ? "BUY" : side === Side.SIDE_SELL ? "SELL" : "";
}

/** Domain type name of a wire order type ("" when unset). */
export function typeFromWire(type: WireType): string {
  const entry = Object.entries(TYPE_TO_WIRE).find(([, wire]) => wire === type);
  return entry === undefined ? "" : entry[0];
}

/** Domain time in force of a wire one ("" = unset = DAY). */
export function timeInForceFromWire(tif: WireTif): string {
  const entry = Object.entries(TIF_TO_WIRE).find(([, wire]) => wire === tif);
  return entry === undefined ? "" : entry[0];
}

/** Domain status name of a wire status ("" when unset or unknown). */
export function statusFromWire(status: WireStatus): string {
  const entry = Object.entries(STATUS_TO_WIRE).find(([, wire]) => wire === status);
  return entry === undefined ? `UNKNOWN_${status}` : entry[0];
}

const text = (value: Decimal | null): string => (value === null ? "" : value.toFixed());

/** The wire form of an order. */
export function orderToWire(order: Order): WireOrder {
  const exits = order.status === "CANCELED" || order.status === "REJECTED" || order.status === "EXPIRED";
  const average = averageFillPrice(order);
  return {
    orderId: order.id,
    portfolioId: order.portfolioId,
    symbol: order.symbol,
    securityId: order.securityId,
    side: order.side === "BUY" ? Side.SIDE_BUY : Side.SIDE_SELL,
    type: TYPE_TO_WIRE[order.type],
    timeInForce: TIF_TO_WIRE[order.timeInForce],
    // A notional order reports what it bought so far (empty before its first fill), as the contract says.
    quantity: order.quantity !== null ? order.quantity.toFixed() : order.filledQuantity.isZero() ? "" : order.filledQuantity.toFixed(),
    notional: text(order.notional),
    limitPrice: text(order.limitPrice),
    stopPrice: text(order.stopPrice),
    status: STATUS_TO_WIRE[order.status],
    filledQuantity: order.filledQuantity.toFixed(),
    averageFillPrice: average === null ? "" : average.toDecimalPlaces(8, Decimal.ROUND_HALF_EVEN).toFixed(),
    reasonCode: exits ? order.lastReason : "",
    reasonMessage: exits ? REASON_MESSAGES[order.lastReason] : "",
    idempotencyKey: order.idempotencyKey,
    version: order.version,
    marketPriceAtSubmission: order.marketPriceAtSubmission.toFixed(),
    reservedAmount: order.reservation.amount.toFixed(),
    reservationId: order.reservation.id,
    createTime: order.createdAt,
    updateTime: order.updatedAt,
    doneTime: isTerminal(order.status) ? (order.doneAt ?? order.updatedAt) : undefined,
    expireTime: order.expiresAt ?? undefined,
  };
}

/** The wire form of an event with the order as it stood right after it. */
export function eventToWire(event: OrderEvent, order: Order): WireEvent {
  return {
    portfolioId: event.portfolioId,
    seq: String(event.seq),
    orderId: event.orderId,
    orderVersion: event.orderVersion,
    type: EVENT_TYPE_TO_WIRE[eventTypeOf(event)],
    fromStatus: event.fromStatus === null ? WireStatus.ORDER_STATUS_UNSPECIFIED : STATUS_TO_WIRE[event.fromStatus],
    toStatus: STATUS_TO_WIRE[event.toStatus],
    reasonCode: event.reason,
    reasonMessage: REASON_MESSAGES[event.reason],
    fill:
      event.fill === null
        ? undefined
        : {
            fillId: event.fill.fillId,
            quantity: event.fill.quantity.toFixed(),
            price: event.fill.price.toFixed(),
            notional: event.fill.amount.toFixed(),
            fillTime: event.fill.executedAt,
          },
    eventTime: event.occurredAt,
    order: orderToWire(order),
  };
}

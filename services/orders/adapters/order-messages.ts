// What the orders service publishes through its outbox, and the bodies of its own queue messages. Every message has
// a stable id (consumers deduplicate on it) and a schema version.
import {
  encodeFillEvent,
  FILL_EVENT_ROUTING_KEY,
  FILL_EVENT_SCHEMA_VERSION,
  FILL_QUEUE_NAME,
} from "../../accounting/domain/fill-event";
import type { OutgoingMessage } from "../../platform/messaging";
import type { Order, OrderEvent } from "../domain/order";
import { isTerminal } from "../domain/order-state-machine";

/** Routing key (and queue) of "execute this order" messages. */
export const EXECUTE_ROUTING_KEY = "orders.execute";
/** Routing key (and queue) of "release what is left of this order's hold" messages. */
export const RELEASE_ROUTING_KEY = "orders.reservation.release";
export const ORDERS_SCHEMA_VERSION = 1;
/**
 * The work queues an order's messages pass through, whose dead letters the orders service's ListDeadLetters and
 * RetryDeadLetter cover: its own two, and accounting's fill queue (a fill that could not be booked is an order
 * whose effect is missing, and the operator re-drives it from the same desk).
 */
export const ORDER_WORK_QUEUES = [EXECUTE_ROUTING_KEY, RELEASE_ROUTING_KEY, FILL_QUEUE_NAME] as const;

/** Body of an orders.execute message. */
export interface ExecuteMessage {
  schema_version: number;
  order_id: string;
}

/** Body of an orders.reservation.release message. */
export interface ReleaseMessage {
  schema_version: number;
  order_id: string;
  portfolio_id: string;
  reservation_id: string;
}

/** The execute message written with a new order. */
export function executeMessage(order: Order): OutgoingMessage {
  const body: ExecuteMessage = { schema_version: ORDERS_SCHEMA_VERSION, order_id: order.id };
  return {
    routingKey: EXECUTE_ROUTING_KEY,
    messageId: `execute:${order.id}`,
    schemaVersion: ORDERS_SCHEMA_VERSION,
    body: JSON.stringify(body),
  };
}

/**
 * Messages for a batch of transitions: one fill event (accounting's contract, schema v1) per fill, and once the order
 * is terminal the unused part of the hold goes back to the portfolio: with the batch's last fill when it has one,
 * else by a release request.
 */
export function transitionMessages(order: Order, events: readonly OrderEvent[]): OutgoingMessage[] {
  const messages: OutgoingMessage[] = [];
  const last = events[events.length - 1];
  const ends = last !== undefined && isTerminal(last.toStatus);
  // When the order ends in this batch after a fill, that fill is the order's last: it carries closes_reservation and
  // accounting frees the rest of the hold in the fill's own transaction, so no release message (and no release that
  // could overtake the fill) is needed.
  const closingFill = ends ? [...events].reverse().find((event) => event.fill !== null)?.fill ?? null : null;
  for (const event of events) {
    if (event.fill !== null) {
      const fill = event.fill;
      messages.push({
        routingKey: FILL_EVENT_ROUTING_KEY,
        messageId: fill.fillId,
        schemaVersion: FILL_EVENT_SCHEMA_VERSION,
        body: JSON.stringify(
          encodeFillEvent({
            fillId: fill.fillId,
            orderId: fill.orderId,
            portfolioId: fill.portfolioId,
            securityId: fill.securityId,
            symbol: fill.symbol,
            side: fill.side,
            quantity: fill.quantity,
            price: fill.price,
            fee: fill.quantity.times(0),
            executedAt: fill.executedAt,
            reservationId: fill.reservationId,
            closesReservation: fill === closingFill,
          }),
        ),
      });
    }
  }
  if (ends && closingFill === null) {
    const body: ReleaseMessage = {
      schema_version: ORDERS_SCHEMA_VERSION,
      order_id: order.id,
      portfolio_id: order.portfolioId,
      reservation_id: order.reservation.id,
    };
    messages.push({
      routingKey: RELEASE_ROUTING_KEY,
      messageId: `release:${order.id}`,
      schemaVersion: ORDERS_SCHEMA_VERSION,
      body: JSON.stringify(body),
    });
  }
  return messages;
}

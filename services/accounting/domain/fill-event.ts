import Decimal from "decimal.js";
import { AccountingError, type FieldViolation } from "./accounting-error";
import { dec, fitsStoredRange, parseDecimal, QUANTITY_SCALE } from "./money";

/*
 * The contract between the orders execution worker (producer) and the accounting position worker (consumer).
 *
 * Transport: published through the platform broker (outbox relay → topic exchange `tradeplane.events`) as an
 * OutgoingMessage with routingKey FILL_EVENT_ROUTING_KEY, messageId = fill_id, schemaVersion =
 * FILL_EVENT_SCHEMA_VERSION (the body carries it too), body = JSON.stringify(encodeFillEvent(fill)), and the
 * trace context from injectTraceContext() in its headers. The position worker consumes queue `accounting.fills`.
 *
 * Body: a JSON object of shape FillEventMessage (snake_case keys, every number a decimal string).
 *
 * Consumer semantics: the fill is posted as a BUY/SELL accounting transaction whose `source_id` is the fill_id,
 * so a redelivered message is a no-op. In the same database transaction the reservation named by
 * `reservation_id` (the reservation's own id, or the order id it was created with) is consumed: quantity × price + fee of cash
 * for a BUY, the quantity of the security for a SELL. A fill that costs more than its reservation's remainder
 * draws the difference from free (unreserved) cash; if that is not enough the fill is rejected as
 * INSUFFICIENT_FUNDS and dead-lettered, because the order path must never drive a balance negative: the
 * producer must reserve enough (for example limit price × quantity, or the price band's upper bound for a
 * market order, plus the fee). A fill marked `closes_reservation` (the order's last) also releases what the
 * reservation still holds after it, in the same transaction.
 */

/** Version of the body below; bump only with a new parse branch here (consumers accept every known version). */
export const FILL_EVENT_SCHEMA_VERSION = 1;
/** AMQP routing key on the `tradeplane.events` exchange. */
export const FILL_EVENT_ROUTING_KEY = "orders.fill.executed";
/**
 * The position worker's queue. Part of the contract because the orders service's dead-letter desk lists and
 * re-drives this queue's dead letters too: a fill is an order's effect, whichever service failed to book it.
 */
export const FILL_QUEUE_NAME = "accounting.fills";
/** AMQP `type` property of a fill message. */
export const FILL_EVENT_TYPE = "tradeplane.orders.FillExecuted";

/** The JSON body of a fill message exactly as it travels (schema version 1). */
export interface FillEventMessage {
  /** Unique id of this fill; also the AMQP message_id and the accounting transaction's source_id (1–50 chars). */
  fill_id: string;
  /** Always FILL_EVENT_SCHEMA_VERSION (1) for this shape. */
  schema_version: number;
  /** The order that was (partially) filled. */
  order_id: string;
  /** 24-character alphanumeric portfolio id. */
  portfolio_id: string;
  /** 24-character alphanumeric security id the accounting balance row is keyed by. */
  security_id: string;
  /** Ticker symbol, used to price the position from market data. */
  symbol: string;
  /** BUY adds to the long position and costs cash; SELL reduces it and returns cash. */
  side: "BUY" | "SELL";
  /** Filled quantity in units, decimal string > 0, at most 8 decimals. */
  quantity: string;
  /** Execution price per unit, decimal string > 0, at most 8 decimals. */
  price: string;
  /** Commission charged in cash, decimal string ≥ 0; "0" when there is none. */
  fee: string;
  /** Execution time, RFC 3339 in UTC (e.g. "2025-07-01T14:30:00.123Z"); its UTC date is the transaction date. */
  executed_at: string;
  /** The reservation to consume: its reservation_id, or the order id it was created with (CreateReservation's order_id). */
  reservation_id: string;
  /**
   * Optional, default false: this is the order's last fill, so whatever the reservation still holds after it is
   * released in the same transaction (no separate ReleaseReservation, which could overtake the fill).
   */
  closes_reservation?: boolean;
}

/** A validated fill in domain form. */
export interface Fill {
  fillId: string;
  orderId: string;
  portfolioId: string;
  securityId: string;
  symbol: string;
  side: "BUY" | "SELL";
  quantity: Decimal;
  price: Decimal;
  fee: Decimal;
  executedAt: Date;
  reservationId: string;
  /** The order's last fill: the reservation's remainder is released with it. */
  closesReservation?: boolean;
}

const ID_24 = /^[a-zA-Z0-9]{24}$/;
const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;

/** Builds the wire body for a fill (the producer's side of the contract). */
export function encodeFillEvent(fill: Fill): FillEventMessage {
  return {
    fill_id: fill.fillId,
    schema_version: FILL_EVENT_SCHEMA_VERSION,
    order_id: fill.orderId,
    portfolio_id: fill.portfolioId,
    security_id: fill.securityId,
    symbol: fill.symbol,
    side: fill.side,
    quantity: dec(fill.quantity).toFixed(),
    price: dec(fill.price).toFixed(),
    fee: dec(fill.fee).toFixed(),
    executed_at: fill.executedAt.toISOString(),
    reservation_id: fill.reservationId,
    ...(fill.closesReservation ? { closes_reservation: true } : {}),
  };
}

/**
 * Validates a decoded message body. A malformed message can never succeed on retry, so the error code
 * MALFORMED_FILL tells the worker to dead-letter it at once.
 */
export function parseFillEvent(body: unknown): Fill {
  if (typeof body !== "object" || body === null || Array.isArray(body)) {
    throw malformed([{ field: "body", description: "must be a JSON object" }]);
  }
  const raw = body as Record<string, unknown>;
  const violations: FieldViolation[] = [];
  const text = (field: string, min: number, max: number): string => {
    const value = raw[field];
    if (typeof value !== "string" || value.length < min || value.length > max) {
      violations.push({ field, description: `must be a string of ${min}-${max} characters` });
      return "";
    }
    return value;
  };
  const positiveDecimal = (field: string, allowZero: boolean): Decimal => {
    const value = raw[field] ?? (allowZero ? "0" : undefined);
    const parsed = typeof value === "string" ? parseDecimal(value) : null;
    if (!parsed || parsed.isNegative() || (!allowZero && parsed.isZero()) || parsed.decimalPlaces() > QUANTITY_SCALE || !fitsStoredRange(parsed)) {
      violations.push({
        field,
        description: `must be a decimal string ${allowZero ? ">= 0" : "> 0"} with at most ${QUANTITY_SCALE} decimals`,
      });
      return dec(0);
    }
    return parsed;
  };

  if (raw.schema_version !== FILL_EVENT_SCHEMA_VERSION) {
    violations.push({ field: "schema_version", description: `must be ${FILL_EVENT_SCHEMA_VERSION}` });
  }
  const fillId = text("fill_id", 1, 50);
  const orderId = text("order_id", 1, 64);
  const portfolioId = text("portfolio_id", 24, 24);
  const securityId = text("security_id", 24, 24);
  if (portfolioId && !ID_24.test(portfolioId)) violations.push({ field: "portfolio_id", description: "must be alphanumeric" });
  if (securityId && !ID_24.test(securityId)) violations.push({ field: "security_id", description: "must be alphanumeric" });
  const symbol = text("symbol", 1, 20);
  const side = raw.side;
  if (side !== "BUY" && side !== "SELL") violations.push({ field: "side", description: "must be BUY or SELL" });
  const quantity = positiveDecimal("quantity", false);
  const price = positiveDecimal("price", false);
  const fee = positiveDecimal("fee", true);
  const executedAtText = text("executed_at", 20, 40);
  const executedAt = new Date(executedAtText);
  if (executedAtText && (!RFC3339.test(executedAtText) || Number.isNaN(executedAt.getTime()))) {
    violations.push({ field: "executed_at", description: "must be an RFC 3339 timestamp" });
  }
  const reservationId = text("reservation_id", 1, 64);
  const closes = raw.closes_reservation ?? false;
  if (typeof closes !== "boolean") violations.push({ field: "closes_reservation", description: "must be a boolean" });

  if (violations.length > 0) throw malformed(violations);
  return {
    fillId,
    orderId,
    portfolioId,
    securityId,
    symbol,
    side: side as "BUY" | "SELL",
    quantity,
    price,
    fee,
    executedAt,
    reservationId,
    closesReservation: closes === true,
  };
}

function malformed(violations: FieldViolation[]): AccountingError {
  return new AccountingError("MALFORMED_FILL", "fill event is malformed", violations);
}

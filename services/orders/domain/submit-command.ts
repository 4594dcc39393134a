import Decimal from "decimal.js";
import { OrderError, type FieldViolation } from "./order-error";
import {
  ORDER_SIDES,
  ORDER_TYPES,
  TIMES_IN_FORCE,
  type OrderSide,
  type OrderType,
  type TimeInForce,
} from "./order";

/** A submit request as it arrives from the transport: enums and decimals still as strings, empty = absent. */
export interface SubmitOrderInput {
  portfolioId: string;
  idempotencyKey: string;
  /** Ticker; exactly one of symbol and securityId. */
  symbol: string;
  securityId?: string;
  side: string;
  type: string;
  /** Empty means DAY, the usual broker default. */
  timeInForce?: string;
  quantity?: string;
  notional?: string;
  limitPrice?: string;
  stopPrice?: string;
}

/** A submit request that passed the command checks: typed, upper-cased symbol, Decimal amounts. */
export interface SubmitCommand {
  portfolioId: string;
  idempotencyKey: string;
  /** Upper-cased ticker, or "" when the order names the instrument by securityId. */
  symbol: string;
  /** "" when the order names the instrument by symbol. */
  securityId: string;
  side: OrderSide;
  type: OrderType;
  timeInForce: TimeInForce;
  quantity: Decimal | null;
  notional: Decimal | null;
  limitPrice: Decimal | null;
  stopPrice: Decimal | null;
}

/** Plain decimal strings only: no sign, exponent, or more digits than NUMERIC(38,18) holds. */
const DECIMAL_PATTERN = /^\d{1,20}(\.\d{1,18})?$/;
/** Printable ASCII without spaces, as the IETF idempotency-key draft suggests; 1-128 chars (orders.proto). */
const IDEMPOTENCY_KEY_PATTERN = /^[\x21-\x7e]{1,128}$/;
const ID_24_PATTERN = /^[A-Za-z0-9]{24}$/;
const SYMBOL_PATTERN = /^[A-Z0-9][A-Z0-9./_-]{0,31}$/;

/**
 * Checks a submit request on its own, before any lookup, and collects every violation so the caller can fix them
 * in one go. Messages follow the Hub reference (`"quantity must be positive"`, `"LIMIT orders require a price"`,
 * `"market orders cannot have a price"`, `"price must be positive"`).
 */
export function parseSubmitCommand(input: SubmitOrderInput): SubmitCommand {
  const violations: FieldViolation[] = [];
  const fail = (field: string, description: string): void => {
    violations.push({ field, description });
  };

  const portfolioId = input.portfolioId.trim();
  if (portfolioId === "") fail("portfolio_id", "portfolio_id is required");
  else if (!ID_24_PATTERN.test(portfolioId)) fail("portfolio_id", "portfolio_id must be 24 alphanumeric characters");

  const idempotencyKey = input.idempotencyKey;
  if (idempotencyKey === "") fail("idempotency_key", "idempotency_key is required");
  else if (!IDEMPOTENCY_KEY_PATTERN.test(idempotencyKey)) {
    fail("idempotency_key", "idempotency_key must be 1-128 printable characters without spaces");
  }

  // The Hub HTTP path upper-cases the symbol and its gRPC path does not; we always do, so both agree.
  const symbol = input.symbol.trim().toUpperCase();
  const securityId = (input.securityId ?? "").trim();
  if (symbol === "" && securityId === "") fail("symbol", "symbol is required");
  else if (symbol !== "" && securityId !== "") fail("security_id", "give either symbol or security_id, not both");
  else if (symbol !== "" && !SYMBOL_PATTERN.test(symbol)) {
    fail("symbol", `symbol ${symbol} is not valid or not tradeable`);
  } else if (securityId !== "" && !ID_24_PATTERN.test(securityId)) {
    fail("security_id", "security_id must be 24 alphanumeric characters");
  }

  const side = parseEnum(input.side, ORDER_SIDES, "order_side", fail);
  const type = parseEnum(input.type, ORDER_TYPES, "order_type", fail);
  const timeInForce =
    input.timeInForce === undefined || input.timeInForce === ""
      ? "DAY"
      : parseEnum(input.timeInForce, TIMES_IN_FORCE, "time_in_force", fail);

  const quantity = parseDecimal(input.quantity, "quantity", fail);
  const notional = parseDecimal(input.notional, "notional", fail);
  const limitPrice = parseDecimal(input.limitPrice, "limit_price", fail);
  const stopPrice = parseDecimal(input.stopPrice, "stop_price", fail);

  if (quantity !== null && notional !== null) {
    fail("notional", "quantity and notional are mutually exclusive");
  } else if (quantity === null && notional === null && isBlank(input.quantity) && isBlank(input.notional)) {
    fail("quantity", "quantity is required");
  }
  if (quantity !== null && !quantity.gt(0)) fail("quantity", "quantity must be positive");
  if (notional !== null && !notional.gt(0)) fail("notional", "notional must be positive");
  else if (notional !== null && notional.decimalPlaces() > 2) fail("notional", "notional has at most 2 decimals");
  if (notional !== null && (type !== "MARKET" || side !== "BUY")) {
    fail("notional", "notional is only accepted for market buy orders");
  }

  if (type === "MARKET") {
    if (limitPrice !== null || stopPrice !== null) fail("limit_price", "market orders cannot have a price");
    // A market order that cannot fill now has nothing to wait for; GTC would only let it fill at a stale price.
    if (timeInForce === "GTC") fail("time_in_force", "market orders accept DAY, IOC or FOK");
  }
  if (type === "LIMIT" || type === "STOP_LIMIT") {
    if (limitPrice === null && isBlank(input.limitPrice)) fail("limit_price", `${type} orders require a price`);
  }
  if (type === "STOP" || type === "STOP_LIMIT") {
    if (stopPrice === null && isBlank(input.stopPrice)) fail("stop_price", `${type} orders require a stop price`);
  }
  if (type === "LIMIT" && stopPrice !== null) fail("stop_price", "LIMIT orders cannot have a stop price");
  if (type === "STOP" && limitPrice !== null) fail("limit_price", "STOP orders cannot have a limit price");
  if (limitPrice !== null && !limitPrice.gt(0)) fail("limit_price", "price must be positive");
  if (stopPrice !== null && !stopPrice.gt(0)) fail("stop_price", "price must be positive");

  if (violations.length > 0 || side === null || type === null || timeInForce === null) {
    const first = violations[0];
    throw new OrderError("INVALID_ORDER", first ? first.description : "invalid order", violations);
  }
  return {
    portfolioId,
    idempotencyKey,
    symbol,
    securityId,
    side,
    type,
    timeInForce,
    quantity,
    notional,
    limitPrice,
    stopPrice,
  };
}

function isBlank(value: string | undefined): boolean {
  return value === undefined || value.trim() === "";
}

function parseEnum<T extends string>(
  raw: string,
  allowed: readonly T[],
  field: string,
  fail: (field: string, description: string) => void,
): T | null {
  const value = raw.trim().toUpperCase();
  if (value === "") {
    fail(field, `${field} is required`);
    return null;
  }
  if (!(allowed as readonly string[]).includes(value)) {
    fail(field, `invalid ${field}: ${raw}`);
    return null;
  }
  return value as T;
}

function parseDecimal(
  raw: string | undefined,
  field: string,
  fail: (field: string, description: string) => void,
): Decimal | null {
  if (isBlank(raw)) return null;
  const text = (raw as string).trim();
  if (text.startsWith("-")) {
    // A negative number is well-formed; the positivity checks give it the reference's message.
    if (DECIMAL_PATTERN.test(text.slice(1))) return new Decimal(text);
  }
  if (!DECIMAL_PATTERN.test(text)) {
    fail(field, `${field} must be a decimal number such as "10.25"`);
    return null;
  }
  return new Decimal(text);
}

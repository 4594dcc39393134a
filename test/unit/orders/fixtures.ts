import Decimal from "decimal.js";
import type { MarketSnapshot, QuoteInfo } from "../../../services/orders/domain/market-snapshot";
import { DEFAULT_ORDER_RULES } from "../../../services/orders/domain/order-rules";
import { openOrder } from "../../../services/orders/domain/open-order";
import type { Order } from "../../../services/orders/domain/order";
import { parseSubmitCommand, type SubmitOrderInput } from "../../../services/orders/domain/submit-command";
import { validateAgainstMarket } from "../../../services/orders/domain/validate-against-market";
import { sizeReservation } from "../../../services/orders/domain/reservation-sizing";

export const NOW = new Date("2026-03-02T15:00:00Z");
export const CLOSE = new Date("2026-03-02T21:00:00Z");

export const d = (value: string | number): Decimal => new Decimal(value);

/** A quote around 100 with a 10-cent spread and no depth unless given. */
export function quote(overrides: Partial<QuoteInfo> = {}): QuoteInfo {
  return {
    bid: d("99.95"),
    ask: d("100.05"),
    last: d("100"),
    bidSize: null,
    askSize: null,
    at: NOW,
    ...overrides,
  };
}

/** An open equity with lot size 1. */
export function market(overrides: { quote?: Partial<QuoteInfo>; instrument?: Partial<MarketSnapshot["instrument"]>; session?: Partial<MarketSnapshot["session"]> } = {}): MarketSnapshot {
  return {
    instrument: {
      symbol: "AAPL",
      assetClass: "EQUITY",
      tradable: true,
      lotSize: d(1),
      minQuantity: d(1),
      fractionable: false,
      currency: "USD",
      ...overrides.instrument,
    },
    quote: quote(overrides.quote),
    session: { open: true, closesAt: CLOSE, ...overrides.session },
  };
}

export function input(overrides: Partial<SubmitOrderInput> = {}): SubmitOrderInput {
  return {
    portfolioId: "p1",
    idempotencyKey: "key-1",
    symbol: "AAPL",
    side: "BUY",
    type: "MARKET",
    timeInForce: "DAY",
    quantity: "10",
    ...overrides,
  };
}

/** A PENDING_NEW order built through the real submit path. */
export function pendingOrder(overrides: Partial<SubmitOrderInput> = {}, snapshot: MarketSnapshot = market()): Order {
  const command = parseSubmitCommand(input(overrides));
  const acceptance = validateAgainstMarket(command, snapshot, DEFAULT_ORDER_RULES);
  const size = sizeReservation(command, acceptance.submissionPrice, DEFAULT_ORDER_RULES);
  return openOrder("order-1", command, snapshot, acceptance, size, NOW).order;
}

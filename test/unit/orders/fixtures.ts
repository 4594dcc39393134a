import Decimal from "decimal.js";
import type { InstrumentInfo, MarketSnapshot, QuoteInfo } from "../../../services/orders/domain/market-snapshot";
import { DEFAULT_ORDER_RULES } from "../../../services/orders/domain/order-rules";
import { openOrder } from "../../../services/orders/domain/open-order";
import type { Order } from "../../../services/orders/domain/order";
import { parseSubmitCommand, type SubmitOrderInput } from "../../../services/orders/domain/submit-command";
import { validateAgainstMarket } from "../../../services/orders/domain/validate-against-market";
import { sizeReservation } from "../../../services/orders/domain/reservation-sizing";

/** Monday 2 March 2026, 10:00 in New York (EST, UTC-5): the equity session is open. */
export const NOW = new Date("2026-03-02T15:00:00Z");
/** 16:00 New York that day. */
export const CLOSE = new Date("2026-03-02T21:00:00Z");
export const PORTFOLIO = "p00000000000000000000001";
export const OTHER_PORTFOLIO = "p00000000000000000000002";
export const SECURITY = "s0000000000000000000aapl";

export const d = (value: string | number): Decimal => new Decimal(value);

/** A quote around 100 with a 10-cent spread and no depth unless given. */
export function quote(overrides: Partial<QuoteInfo> = {}): QuoteInfo {
  return { bid: d("99.95"), ask: d("100.05"), last: d("100"), bidSize: null, askSize: null, at: NOW, ...overrides };
}

/** A tradable US equity, lot size 1, tick 0.01, session 09:30-16:00 New York. */
export function instrument(overrides: Partial<InstrumentInfo> = {}): InstrumentInfo {
  return {
    securityId: SECURITY,
    symbol: "AAPL",
    assetClass: "EQUITY",
    tradable: true,
    lotSize: d(1),
    minQuantity: d(1),
    tickSize: d("0.01"),
    fractionable: false,
    currency: "USD",
    session: { timeZone: "America/New_York", openTime: "09:30", closeTime: "16:00", alwaysOpen: false },
    ...overrides,
  };
}

/** A crypto pair: fractional lots, always open. */
export function crypto(overrides: Partial<InstrumentInfo> = {}): InstrumentInfo {
  return instrument({
    securityId: "s00000000000000000btcusd",
    symbol: "BTC-USD",
    assetClass: "CRYPTO",
    lotSize: d("0.00000001"),
    minQuantity: d("0.0001"),
    tickSize: d("0.01"),
    fractionable: true,
    session: { timeZone: "UTC", openTime: "", closeTime: "", alwaysOpen: true },
    ...overrides,
  });
}

export function market(
  overrides: { quote?: Partial<QuoteInfo>; instrument?: Partial<InstrumentInfo> } = {},
): MarketSnapshot {
  return { instrument: instrument(overrides.instrument), quote: quote(overrides.quote) };
}

export function input(overrides: Partial<SubmitOrderInput> = {}): SubmitOrderInput {
  return {
    portfolioId: PORTFOLIO,
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
  const acceptance = validateAgainstMarket(command, snapshot, DEFAULT_ORDER_RULES, NOW);
  const size = sizeReservation(command, acceptance, DEFAULT_ORDER_RULES);
  return openOrder("0b7c3f3e-1111-4a5b-9c6d-000000000001", command, snapshot, acceptance, { ...size, id: "res-1" }, NOW).order;
}

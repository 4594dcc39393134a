import { expect } from "chai";
import { OrderError } from "../../../services/orders/domain/order-error";
import { DEFAULT_ORDER_RULES } from "../../../services/orders/domain/order-rules";
import { parseSubmitCommand } from "../../../services/orders/domain/submit-command";
import { validateAgainstMarket } from "../../../services/orders/domain/validate-against-market";
import type { MarketSnapshot } from "../../../services/orders/domain/market-snapshot";
import type { SubmitOrderInput } from "../../../services/orders/domain/submit-command";
import { crypto, d, input, market, NOW, quote } from "./fixtures";

const SATURDAY = new Date("2026-03-07T15:00:00Z");

function check(overrides: Partial<SubmitOrderInput>, snapshot: MarketSnapshot = market(), now = NOW) {
  return validateAgainstMarket(parseSubmitCommand(input(overrides)), snapshot, DEFAULT_ORDER_RULES, now);
}

function failure(fn: () => unknown): OrderError {
  try {
    fn();
  } catch (error) {
    if (error instanceof OrderError) return error;
    throw error;
  }
  throw new Error("expected an OrderError");
}

describe("orders domain: submit checks against the market", () => {
  it("accepts an order in an open session and reports the market and touch prices", () => {
    const accepted = check({});
    expect(accepted.marketPrice.toFixed()).to.equal("100");
    expect(accepted.touchPrice.toFixed()).to.equal("100.05");
    expect(accepted.orderValue.toFixed()).to.equal("1000.5");
    expect(accepted.session.closesAt?.toISOString()).to.equal("2026-03-02T21:00:00.000Z");
  });

  it("rejects an instrument that is not tradable with the reference message", () => {
    const error = failure(() => check({}, market({ instrument: { tradable: false } })));
    expect(error.code).to.equal("INSTRUMENT_NOT_TRADABLE");
    expect(error.message).to.equal("symbol AAPL is not valid or not tradeable");
  });

  it("rejects an instrument without a positive price as not tradable", () => {
    const snapshot = { ...market(), quote: quote({ bid: d(0), ask: d(0), last: null }) };
    expect(failure(() => check({}, snapshot)).code).to.equal("INSTRUMENT_NOT_TRADABLE");
  });

  it("rejects equities outside their session with the reference message", () => {
    const error = failure(() => check({}, market(), SATURDAY));
    expect(error.code).to.equal("MARKET_CLOSED");
    expect(error.message).to.equal("market is closed for symbol AAPL");
  });

  it("accepts crypto at the weekend: crypto is always open", () => {
    const snapshot: MarketSnapshot = { instrument: crypto(), quote: quote() };
    const accepted = check({ symbol: "BTC-USD", quantity: "0.5" }, snapshot, SATURDAY);
    expect(accepted.session.open).to.equal(true);
  });

  it("accepts limit prices at exactly ±10% of the market price and rejects beyond", () => {
    expect(() => check({ type: "LIMIT", limitPrice: "90.00" })).not.to.throw();
    expect(() => check({ type: "LIMIT", limitPrice: "110.00" })).not.to.throw();
    const error = failure(() => check({ type: "LIMIT", limitPrice: "110.01" }));
    expect(error.code).to.equal("PRICE_OUT_OF_BAND");
    expect(error.message).to.equal(
      "order price $110.01 is outside acceptable range ($90.00 - $110.00) based on current market price $100.00",
    );
    expect(error.fieldViolations[0].field).to.equal("limit_price");
  });

  it("names the band's edges as prices it accepts: rounded into the band and onto the tick grid", () => {
    // 100.05 ± 10 % is 90.045 - 110.055; to the nearest cent that would read 90.04 - 110.06, both outside the band.
    const snapshot = { ...market(), quote: quote({ last: d("100.05") }) };
    const error = failure(() => check({ type: "LIMIT", limitPrice: "110.06" }, snapshot));
    expect(error.message).to.equal(
      "order price $110.06 is outside acceptable range ($90.05 - $110.05) based on current market price $100.05",
    );
    expect(error.metadata).to.deep.equal({ low: "90.045", high: "110.055" });
    expect(() => check({ type: "LIMIT", limitPrice: "90.05" }, snapshot)).not.to.throw();
    expect(() => check({ type: "LIMIT", limitPrice: "110.05" }, snapshot)).not.to.throw();
    expect(failure(() => check({ type: "LIMIT", limitPrice: "90.04" }, snapshot)).code).to.equal("PRICE_OUT_OF_BAND");

    // A coarser tick: the edges move inward to the nearest multiple of 0.25.
    const quarters = { ...market({ instrument: { tickSize: d("0.25") } }), quote: quote({ last: d("100.05") }) };
    expect(failure(() => check({ type: "LIMIT", limitPrice: "111.00" }, quarters)).message).to.contain("($90.25 - $110.00)");
    expect(() => check({ type: "LIMIT", limitPrice: "90.25" }, quarters)).not.to.throw();
  });

  it("applies the band to stop prices too", () => {
    const error = failure(() => check({ side: "SELL", type: "STOP", stopPrice: "89.99" }));
    expect(error.code).to.equal("PRICE_OUT_OF_BAND");
    expect(error.fieldViolations[0].field).to.equal("stop_price");
  });

  it("rejects prices off the tick grid", () => {
    const error = failure(() => check({ type: "LIMIT", limitPrice: "100.005" }));
    expect(error.code).to.equal("PRICE_NOT_ON_TICK");
  });

  it("rejects a quantity that is not a multiple of the lot size", () => {
    const error = failure(() => check({ quantity: "150" }, market({ instrument: { lotSize: d(100), minQuantity: d(100) } })));
    expect(error.code).to.equal("QUANTITY_NOT_LOT_MULTIPLE");
    expect(error.message).to.equal("quantity 150 is not a multiple of the lot size 100");
  });

  it("rejects a quantity below the instrument minimum with the CNOP message", () => {
    const snapshot: MarketSnapshot = { instrument: crypto(), quote: quote() };
    const error = failure(() => check({ symbol: "BTC-USD", quantity: "0.00005" }, snapshot));
    expect(error.code).to.equal("QUANTITY_BELOW_MINIMUM");
    expect(error.message).to.equal("Order quantity below minimum threshold (0.0001)");
  });

  it("rejects an order worth more than the configured maximum", () => {
    const error = failure(() => check({ type: "LIMIT", limitPrice: "100.00", quantity: "10001" }));
    expect(error.code).to.equal("ORDER_VALUE_TOO_LARGE");
    expect(error.message).to.equal("Order value 1000100.00 exceeds maximum allowed 1000000.00");
  });

  it("accepts notional buys only on fractionable instruments", () => {
    expect(failure(() => check({ quantity: "", notional: "500" })).code).to.equal("INVALID_ORDER");
    const snapshot: MarketSnapshot = { instrument: crypto(), quote: quote() };
    expect(check({ symbol: "BTC-USD", quantity: "", notional: "500" }, snapshot).orderValue.toFixed()).to.equal("500");
  });
});

import { expect } from "chai";
import { DEFAULT_ORDER_RULES } from "../../../services/orders/domain/order-rules";
import { sizeReservation } from "../../../services/orders/domain/reservation-sizing";
import { parseSubmitCommand, type SubmitOrderInput } from "../../../services/orders/domain/submit-command";
import { validateAgainstMarket } from "../../../services/orders/domain/validate-against-market";
import { crypto, d, input, market, NOW, quote } from "./fixtures";
import type { MarketSnapshot } from "../../../services/orders/domain/market-snapshot";

function size(overrides: Partial<SubmitOrderInput>, snapshot: MarketSnapshot = market()) {
  const command = parseSubmitCommand(input(overrides));
  const reservation = sizeReservation(command, validateAgainstMarket(command, snapshot, DEFAULT_ORDER_RULES, NOW), DEFAULT_ORDER_RULES);
  return { asset: reservation.asset, amount: reservation.amount.toFixed() };
}

describe("orders domain: reservation sizing", () => {
  it("holds the quantity itself for sells", () => {
    expect(size({ side: "SELL", quantity: "7" })).to.deep.equal({ asset: "SECURITY", amount: "7" });
  });

  it("holds quantity × limit for limit buys", () => {
    expect(size({ type: "LIMIT", limitPrice: "99.50" })).to.deep.equal({ asset: "CASH", amount: "995" });
  });

  it("holds quantity × ask plus the 5% buffer for market buys, rounded up to the cent", () => {
    // 3 × 100.05 × 1.05 = 315.1575 → 315.16
    expect(size({ quantity: "3" })).to.deep.equal({ asset: "CASH", amount: "315.16" });
  });

  it("bases a market buy on the market price when it is above the ask", () => {
    const snapshot = { ...market(), quote: quote({ ask: d("99.00"), bid: d("98.90"), last: d("100") }) };
    expect(size({ quantity: "1" }, snapshot)).to.deep.equal({ asset: "CASH", amount: "105" });
  });

  it("bases a stop buy on the stop when it is above the market", () => {
    // 2 × 104 × 1.05 = 218.4
    expect(size({ type: "STOP", stopPrice: "104.00", quantity: "2" })).to.deep.equal({ asset: "CASH", amount: "218.4" });
  });

  it("holds exactly the notional for notional buys", () => {
    const snapshot: MarketSnapshot = { instrument: crypto(), quote: quote() };
    expect(size({ symbol: "BTC-USD", quantity: "", notional: "250.25" }, snapshot)).to.deep.equal({
      asset: "CASH",
      amount: "250.25",
    });
  });
});


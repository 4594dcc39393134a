import { expect } from "chai";
import type { Order } from "../../../services/orders/domain/order";
import { DEFAULT_ORDER_RULES } from "../../../services/orders/domain/order-rules";
import { transition, transitionAll } from "../../../services/orders/domain/order-state-machine";
import { planExecution, type ExecutionContext } from "../../../services/orders/domain/plan-execution";
import type { QuoteInfo } from "../../../services/orders/domain/market-snapshot";
import { CLOSE, crypto, d, market, NOW, pendingOrder, quote } from "./fixtures";

const SOON = new Date(NOW.getTime() + 1000);

function ctx(q: Partial<QuoteInfo> = {}, extra: Partial<ExecutionContext> = {}): ExecutionContext {
  return { quote: quote(q), tradable: true, sessionOpen: true, now: SOON, rules: DEFAULT_ORDER_RULES, ...extra };
}

/** The plan as [to, reason, fill quantity@price] rows, easy to compare. */
function outcome(order: Order, context: ExecutionContext): string[] {
  return planExecution(order, context).steps.map(
    (s) => `${s.to} ${s.reason}${s.fill ? ` ${s.fill.quantity.toFixed()}@${s.fill.price.toFixed()}` : ""}`,
  );
}

function working(order: Order): Order {
  return transition(order, { to: "NEW", reason: "RESTING", at: NOW }).order;
}

describe("orders domain: execution rules", () => {
  describe("market orders", () => {
    it("fill a buy at the ask and a sell at the bid, straight from PENDING_NEW", () => {
      expect(outcome(pendingOrder(), ctx())).to.deep.equal(["FILLED MARKETABLE 10@100.05"]);
      expect(outcome(pendingOrder({ side: "SELL" }), ctx())).to.deep.equal(["FILLED MARKETABLE 10@99.95"]);
    });

    it("are rejected when the price moved more than 5% since submission (Hub's limit)", () => {
      expect(outcome(pendingOrder(), ctx({ ask: d("105.01") }))).to.deep.equal(["REJECTED PRICE_MOVED"]);
      expect(outcome(pendingOrder({ side: "SELL" }), ctx({ bid: d("94.99") }))).to.deep.equal(["REJECTED PRICE_MOVED"]);
    });

    it("fill at exactly the 5% limit", () => {
      expect(outcome(pendingOrder(), ctx({ ask: d("105.00") }))).to.deep.equal(["FILLED MARKETABLE 10@105"]);
    });

    it("are canceled, not rejected, when the price moves away after a partial fill", () => {
      const partly = transition(pendingOrder(), {
        to: "PARTIALLY_FILLED",
        reason: "PARTIAL_LIQUIDITY",
        at: NOW,
        fill: { quantity: d(4), price: d("100.05") },
      }).order;
      expect(outcome(partly, ctx({ ask: d(106) }))).to.deep.equal(["CANCELED PRICE_MOVED"]);
    });

    it("are rejected when the session is closed or the instrument halted at execution", () => {
      expect(outcome(pendingOrder(), ctx({}, { sessionOpen: false }))).to.deep.equal(["REJECTED MARKET_CLOSED"]);
      expect(outcome(pendingOrder(), ctx({}, { tradable: false }))).to.deep.equal(["REJECTED INSTRUMENT_NOT_TRADABLE"]);
    });
  });

  describe("partial fills", () => {
    it("take only the quote size, and the rest fills on a later quote", () => {
      const first = planExecution(pendingOrder(), ctx({ askSize: d(4) }));
      expect(first.steps.map((s) => `${s.to} ${s.fill?.quantity.toFixed()}`)).to.deep.equal(["PARTIALLY_FILLED 4"]);
      const partly = transitionAll(pendingOrder(), first.steps).order;
      expect(outcome(partly, ctx({ askSize: d(100) }))).to.deep.equal(["FILLED MARKETABLE 6@100.05"]);
    });

    it("round the available size down to the lot size", () => {
      const snapshot = market({ instrument: { lotSize: d(100), minQuantity: d(100) } });
      const order = pendingOrder({ type: "LIMIT", limitPrice: "101.00", quantity: "500" }, snapshot);
      expect(outcome(order, ctx({ askSize: d(250) }))).to.deep.equal(["PARTIALLY_FILLED PARTIAL_LIQUIDITY 200@100.05"]);
      expect(outcome(order, ctx({ askSize: d(50) }))).to.deep.equal(["NEW RESTING"]);
    });
  });

  describe("limit orders", () => {
    it("rest as NEW when not marketable, then fill at the better touch price once they are", () => {
      const order = pendingOrder({ type: "LIMIT", limitPrice: "99.00", timeInForce: "GTC" });
      expect(outcome(order, ctx())).to.deep.equal(["NEW RESTING"]);
      expect(outcome(working(order), ctx())).to.deep.equal([]);
      expect(outcome(working(order), ctx({ ask: d("98.90"), bid: d("98.80") }))).to.deep.equal([
        "FILLED MARKETABLE 10@98.9",
      ]);
    });

    it("fill sells when the bid is at or above the limit", () => {
      const order = pendingOrder({ side: "SELL", type: "LIMIT", limitPrice: "99.95" });
      expect(outcome(order, ctx())).to.deep.equal(["FILLED MARKETABLE 10@99.95"]);
      expect(outcome(order, ctx({ bid: d("99.94") }))).to.deep.equal(["NEW RESTING"]);
    });

    it("wait through a closed session instead of being rejected", () => {
      const order = pendingOrder({ type: "LIMIT", limitPrice: "101.00", timeInForce: "GTC" });
      expect(outcome(order, ctx({}, { sessionOpen: false }))).to.deep.equal(["NEW RESTING"]);
      expect(outcome(working(order), ctx({}, { sessionOpen: false }))).to.deep.equal([]);
    });
  });

  describe("time in force", () => {
    it("IOC fills what it can and cancels the remainder", () => {
      const order = pendingOrder({ type: "LIMIT", limitPrice: "101.00", timeInForce: "IOC" });
      expect(outcome(order, ctx({ askSize: d(3) }))).to.deep.equal([
        "PARTIALLY_FILLED PARTIAL_LIQUIDITY 3@100.05",
        "CANCELED IOC_REMAINDER",
      ]);
      expect(outcome(order, ctx({ ask: d(102) }))).to.deep.equal(["CANCELED IOC_REMAINDER"]);
    });

    it("FOK fills completely at once or expires without a fill", () => {
      const order = pendingOrder({ timeInForce: "FOK" });
      expect(outcome(order, ctx({ askSize: d(9) }))).to.deep.equal(["EXPIRED FOK_NOT_FILLED"]);
      expect(outcome(order, ctx({ askSize: d(10) }))).to.deep.equal(["FILLED MARKETABLE 10@100.05"]);
    });

    it("DAY orders expire at the session close", () => {
      const order = working(pendingOrder({ type: "LIMIT", limitPrice: "99.00" }));
      expect(order.expiresAt).to.deep.equal(CLOSE);
      expect(outcome(order, ctx({}, { now: new Date(CLOSE.getTime() - 1) }))).to.deep.equal([]);
      expect(outcome(order, ctx({}, { now: CLOSE, sessionOpen: false }))).to.deep.equal(["EXPIRED SESSION_CLOSED"]);
    });

    it("crypto DAY orders expire at the next 00:00 UTC", () => {
      const order = pendingOrder(
        { symbol: "BTC-USD", type: "LIMIT", limitPrice: "99.00", quantity: "1" },
        { instrument: crypto(), quote: quote() },
      );
      expect(order.expiresAt?.toISOString()).to.equal("2026-03-03T00:00:00.000Z");
    });

    it("GTC orders never expire", () => {
      const order = working(pendingOrder({ type: "LIMIT", limitPrice: "99.00", timeInForce: "GTC" }));
      expect(order.expiresAt).to.equal(null);
      expect(outcome(order, ctx({}, { now: new Date("2027-01-01T15:00:00Z") }))).to.deep.equal([]);
    });
  });

  describe("stop orders", () => {
    it("a buy stop waits below the stop and fills at the ask once the market price reaches it", () => {
      const order = pendingOrder({ type: "STOP", stopPrice: "102.00", timeInForce: "GTC" });
      expect(outcome(order, ctx())).to.deep.equal(["NEW RESTING"]);
      const steps = planExecution(working(order), ctx({ last: d(102), ask: d("102.05"), bid: d("101.95") })).steps;
      expect(steps.map((s) => `${s.to} ${s.fill?.price.toFixed()} ${s.stopTriggered}`)).to.deep.equal([
        "FILLED 102.05 true",
      ]);
    });

    it("a sell stop triggers when the market price falls to the stop", () => {
      const order = working(pendingOrder({ side: "SELL", type: "STOP", stopPrice: "98.00" }));
      expect(outcome(order, ctx({ last: d("98.01") }))).to.deep.equal([]);
      expect(outcome(order, ctx({ last: d(98), bid: d("97.95"), ask: d("98.05") }))).to.deep.equal([
        "FILLED MARKETABLE 10@97.95",
      ]);
    });

    it("a triggered stop that gaps more than 5% past the stop is canceled with PRICE_MOVED", () => {
      const order = working(pendingOrder({ side: "SELL", type: "STOP", stopPrice: "98.00" }));
      expect(outcome(order, ctx({ last: d(92), bid: d("92.00"), ask: d("92.10") }))).to.deep.equal([
        "CANCELED PRICE_MOVED",
      ]);
    });

    it("a stop-limit remembers its trigger when the limit is not yet marketable", () => {
      const order = working(pendingOrder({ type: "STOP_LIMIT", stopPrice: "102.00", limitPrice: "102.10" }));
      const plan = planExecution(order, ctx({ last: d(102), ask: d("102.20"), bid: d("102.00") }));
      expect(plan).to.deep.equal({ steps: [], rememberStopTrigger: true });
      const triggered = { ...order, stopTriggered: true };
      // The market price fell back below the stop: a triggered stop-limit still fills as a limit order.
      expect(outcome(triggered, ctx({ last: d(101), ask: d("101.00"), bid: d("100.90") }))).to.deep.equal([
        "FILLED MARKETABLE 10@101",
      ]);
    });
  });

  describe("notional buys", () => {
    const snapshot = { instrument: crypto(), quote: quote() };

    it("buy as many lots as the notional pays for at the ask", () => {
      const order = pendingOrder({ symbol: "BTC-USD", quantity: "", notional: "250.00" }, snapshot);
      // 250 / 100.05 = 2.49875062... → 2.49875062 (lot 0.00000001)
      expect(outcome(order, ctx())).to.deep.equal(["FILLED MARKETABLE 2.49875062@100.05"]);
    });

    it("keep buying with the remaining cash after a partial fill and finish when it cannot buy a lot", () => {
      const order = pendingOrder({ symbol: "BTC-USD", quantity: "", notional: "250.00" }, snapshot);
      const first = planExecution(order, ctx({ askSize: d(1) }));
      expect(first.steps[0].to).to.equal("PARTIALLY_FILLED");
      const partly = transitionAll(order, first.steps).order;
      expect(outcome(partly, ctx())).to.deep.equal(["FILLED MARKETABLE 1.49875062@100.05"]);
      const spent = { ...partly, filledAmount: d("249.9999999") };
      expect(outcome(spent, ctx())).to.deep.equal(["FILLED NOTIONAL_EXHAUSTED"]);
    });
  });

  it("does nothing with a terminal order", () => {
    const filled = transitionAll(pendingOrder(), planExecution(pendingOrder(), ctx()).steps).order;
    expect(filled.status).to.equal("FILLED");
    expect(planExecution(filled, ctx())).to.deep.equal({ steps: [], rememberStopTrigger: false });
  });
});

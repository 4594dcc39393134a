import { expect } from "chai";
import Decimal from "decimal.js";
import { randomUUID } from "node:crypto";
import { cancelOrder } from "../../../services/orders/domain/cancel-order";
import { executeOrder } from "../../../services/orders/domain/execute-order";
import { getOrder } from "../../../services/orders/domain/get-order";
import { OrderError } from "../../../services/orders/domain/order-error";
import { DEFAULT_ORDER_RULES } from "../../../services/orders/domain/order-rules";
import type { Caller } from "../../../services/orders/domain/ports";
import { submitOrder, type SubmitOrderDeps } from "../../../services/orders/domain/submit-order";
import { d, input, market, NOW, OTHER_PORTFOLIO, PORTFOLIO } from "./fixtures";
import { FixedMarketData, InMemoryAccounting, InMemoryOrders } from "./in-memory-ports";

const trader: Caller = { subject: "alice", roles: ["trader"], portfolios: [PORTFOLIO], allPortfolios: false };
const stranger: Caller = { subject: "bob", roles: ["trader"], portfolios: [OTHER_PORTFOLIO], allPortfolios: false };

function setup(cash = "100000") {
  const store = new InMemoryOrders();
  const accounting = new InMemoryAccounting(new Map([[PORTFOLIO, new Decimal(cash)]]), new Map([[`${PORTFOLIO}/AAPL`, d(5)]]));
  const marketData = new FixedMarketData(market());
  const deps: SubmitOrderDeps = {
    marketData,
    accounting,
    keys: store,
    store,
    clock: { now: () => NOW },
    rules: DEFAULT_ORDER_RULES,
    newOrderId: randomUUID,
    sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
    inFlightWaitMs: 2000,
    inFlight: new Map(),
  };
  return { store, accounting, marketData, deps };
}

async function codeOf(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof OrderError) return error.code;
    throw error;
  }
  throw new Error("expected an OrderError");
}

describe("orders domain: use cases", () => {
  describe("submitOrder", () => {
    it("answers with a PENDING_NEW order, holds cash and writes the first event", async () => {
      const { deps, store, accounting } = setup();
      const { order, replayed } = await submitOrder(deps, trader, input());
      expect(replayed).to.equal(false);
      expect(order.status).to.equal("PENDING_NEW");
      expect(order.reservation.amount.toFixed()).to.equal("1050.53"); // 10 × 100.05 × 1.05, rounded up
      expect(accounting.holds.get(order.id)?.amount.toFixed()).to.equal("1050.53");
      expect(store.events.map((e) => [e.seq, e.toStatus, e.reason])).to.deep.equal([[1, "PENDING_NEW", "SUBMITTED"]]);
    });

    it("returns the original order for the same key and payload, without a second hold", async () => {
      const { deps, store, accounting } = setup();
      const first = await submitOrder(deps, trader, input());
      const again = await submitOrder(deps, trader, input({ quantity: "10.00", symbol: "aapl" }));
      expect(again.replayed).to.equal(true);
      expect(again.order.id).to.equal(first.order.id);
      expect(store.orders.size).to.equal(1);
      expect(accounting.holds.size).to.equal(1);
    });

    it("refuses the same key with a different payload as IDEMPOTENCY_KEY_REUSED", async () => {
      const { deps } = setup();
      await submitOrder(deps, trader, input());
      expect(await codeOf(submitOrder(deps, trader, input({ quantity: "11" })))).to.equal("IDEMPOTENCY_KEY_REUSED");
    });

    it("creates exactly one order for 1,000 concurrent submits with one key", async () => {
      const { deps, store, accounting } = setup();
      const results = await Promise.all(Array.from({ length: 1000 }, () => submitOrder(deps, trader, input())));
      expect(new Set(results.map((r) => r.order.id)).size).to.equal(1);
      expect(results.filter((r) => !r.replayed)).to.have.length(1);
      expect(store.orders.size).to.equal(1);
      expect(accounting.holds.size).to.equal(1);
      expect(store.events).to.have.length(1);
    });

    it("creates one order when two service instances race on one key (the key claim arbitrates)", async () => {
      const { deps, store, accounting } = setup();
      const other = { ...deps, inFlight: new Map() };
      const results = await Promise.all(
        Array.from({ length: 20 }, (_, i) => submitOrder(i % 2 === 0 ? deps : other, trader, input())),
      );
      expect(new Set(results.map((r) => r.order.id)).size).to.equal(1);
      expect(store.orders.size).to.equal(1);
      expect(accounting.holds.size).to.equal(1);
    });

    it("fails with INSUFFICIENT_FUNDS and frees the key for a corrected retry", async () => {
      const { deps, store } = setup("500");
      expect(await codeOf(submitOrder(deps, trader, input()))).to.equal("INSUFFICIENT_FUNDS");
      expect(store.orders.size).to.equal(0);
      const retry = await submitOrder(deps, trader, input({ quantity: "4" }));
      expect(retry.order.quantity?.toFixed()).to.equal("4");
    });

    it("keeps the key when a reserve's answer is lost, so the retry completes the same order with one hold", async () => {
      const { deps, store, accounting, marketData } = setup();
      accounting.loseNextAnswer = true;
      expect(await codeOf(submitOrder(deps, trader, input()))).to.equal("DEPENDENCY_UNAVAILABLE");
      // The claim still holds the key: a retry while it is leased waits, then reports the key in flight.
      expect(await codeOf(submitOrder({ ...deps, inFlightWaitMs: 10 }, trader, input()))).to.equal(
        "IDEMPOTENCY_KEY_IN_FLIGHT",
      );
      // After the lease, a retry takes the claim over with the same order id: one hold, one order.
      const claimedId = store.keys.get(`${PORTFOLIO}/key-1`)?.orderId;
      store.expireLeases();
      // The market moved meanwhile: the retry must still ask for the same hold, or accounting refuses the order id.
      marketData.current = market({ quote: { ask: d("101.00"), bid: d("100.90"), last: d("101") } });
      const { order } = await submitOrder(deps, trader, input());
      expect(order.id).to.equal(claimedId);
      expect(order.reservation.amount.toFixed()).to.equal("1050.53");
      expect(accounting.holds.size).to.equal(1);
      expect(store.orders.size).to.equal(1);
    });

    it("fails with INSUFFICIENT_POSITION for a sell larger than the free position", async () => {
      const { deps } = setup();
      expect(await codeOf(submitOrder(deps, trader, input({ side: "SELL", quantity: "6" })))).to.equal(
        "INSUFFICIENT_POSITION",
      );
    });

    it("refuses to trade for a portfolio that is not in the caller's token", async () => {
      const { deps } = setup();
      expect(await codeOf(submitOrder(deps, stranger, input()))).to.equal("PERMISSION_DENIED");
    });

    it("reports an unknown instrument as not tradable", async () => {
      const { deps, marketData } = setup();
      marketData.current = null;
      expect(await codeOf(submitOrder(deps, trader, input()))).to.equal("INSTRUMENT_NOT_TRADABLE");
    });
  });

  describe("getOrder and cancelOrder", () => {
    it("hide another portfolio's order as ORDER_NOT_FOUND", async () => {
      const { deps } = setup();
      const { order } = await submitOrder(deps, trader, input());
      expect(await codeOf(getOrder(deps, stranger, order.id))).to.equal("ORDER_NOT_FOUND");
      expect(await codeOf(cancelOrder(deps, stranger, order.id))).to.equal("ORDER_NOT_FOUND");
      expect((await getOrder(deps, trader, order.id)).id).to.equal(order.id);
    });

    it("cancels a pending order, and a repeated cancel returns it unchanged", async () => {
      const { deps, store } = setup();
      const { order } = await submitOrder(deps, trader, input());
      const canceled = await cancelOrder(deps, trader, order.id);
      expect(canceled.status).to.equal("CANCELED");
      expect(canceled.lastReason).to.equal("USER_REQUESTED");
      const again = await cancelOrder(deps, trader, order.id);
      expect(again.version).to.equal(canceled.version);
      expect(store.events.map((e) => e.toStatus)).to.deep.equal(["PENDING_NEW", "CANCELED"]);
    });

    it("refuses to cancel a filled order with ORDER_NOT_CANCELLABLE", async () => {
      const { deps } = setup();
      const { order } = await submitOrder(deps, trader, input());
      await executeOrder(deps, order.id);
      expect(await codeOf(cancelOrder(deps, trader, order.id))).to.equal("ORDER_NOT_CANCELLABLE");
    });
  });

  describe("executeOrder", () => {
    it("fills a market order and writes the fill event; running it again changes nothing", async () => {
      const { deps, store } = setup();
      const { order } = await submitOrder(deps, trader, input());
      const first = await executeOrder(deps, order.id);
      expect(first.order.status).to.equal("FILLED");
      expect(first.events.map((e) => [e.seq, e.toStatus, e.fill?.price.toFixed()])).to.deep.equal([
        [2, "FILLED", "100.05"],
      ]);
      const second = await executeOrder(deps, order.id);
      expect(second.events).to.deep.equal([]);
      expect(store.events).to.have.length(2);
    });

    it("does not fill an order that was canceled in between", async () => {
      const { deps } = setup();
      const { order } = await submitOrder(deps, trader, input());
      await cancelOrder(deps, trader, order.id);
      const result = await executeOrder(deps, order.id);
      expect(result.order.status).to.equal("CANCELED");
      expect(result.events).to.deep.equal([]);
    });

    it("keeps per-portfolio seqs contiguous across submit, execution and cancel", async () => {
      const { deps, store, marketData } = setup();
      const a = await submitOrder(deps, trader, input({ idempotencyKey: "a", type: "LIMIT", limitPrice: "99.00" }));
      const b = await submitOrder(deps, trader, input({ idempotencyKey: "b" }));
      await executeOrder(deps, a.order.id);
      await executeOrder(deps, b.order.id);
      marketData.current = market({ quote: { ask: d("98.50"), bid: d("98.40"), last: d("98.45") } });
      await executeOrder(deps, a.order.id);
      expect(store.events.map((e) => `${e.seq}:${e.toStatus}`)).to.deep.equal([
        "1:PENDING_NEW",
        "2:PENDING_NEW",
        "3:NEW",
        "4:FILLED",
        "5:FILLED",
      ]);
    });
  });
});

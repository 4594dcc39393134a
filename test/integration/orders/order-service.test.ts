import { expect } from "chai";
import Decimal from "decimal.js";
import { randomBytes } from "node:crypto";
import { ClientError, Status } from "nice-grpc";
import { Side } from "../../../generated/tradeplane/common/v1/common";
import {
  DeadLetterStatus,
  OrderStatus,
  OrderType,
  TimeInForce,
  type Order,
} from "../../../generated/tradeplane/orders/v1/orders";
import type { SubmitOrderRequest } from "../../../generated/tradeplane/orders/v1/order_service";
import type { TradeplaneClients } from "../../../clients/node";
import { encodeFillEvent, FILL_EVENT_ROUTING_KEY, FILL_EVENT_SCHEMA_VERSION } from "../../../services/accounting/domain/fill-event";
import { register as registerAccounting } from "../../../services/accounting/main";
import { register as registerOrders } from "../../../services/orders/main";
import { Client as PgClient } from "pg";
import { connectionSettings } from "../../../services/platform/database";
import { eventually } from "../../support/eventually";
import { startSystem, type TestSystem } from "../../support/system";
import { FakeMarket } from "./fake-market-data";

const id24 = (prefix: string): string => (prefix + randomBytes(12).toString("hex")).slice(0, 24);

async function statusOf(call: Promise<unknown>): Promise<{ code: Status; details: string }> {
  try {
    await call;
  } catch (error) {
    if (error instanceof ClientError) return { code: error.code, details: error.details };
    throw error;
  }
  throw new Error("expected the call to fail");
}

describe("OrderService against a running orders + accounting system", function () {
  this.timeout(60_000);
  const market = new FakeMarket();
  const SYMBOL = `T${randomBytes(3).toString("hex").toUpperCase()}`;
  const SECURITY = id24("sec");
  const portfolio = id24("pf");
  const otherPortfolio = id24("px");
  let system: TestSystem;
  let trader: TradeplaneClients;
  let stranger: TradeplaneClients;

  const buy = (overrides: Partial<SubmitOrderRequest> = {}): Partial<SubmitOrderRequest> => ({
    idempotencyKey: `k-${randomBytes(6).toString("hex")}`,
    portfolioId: portfolio,
    symbol: SYMBOL,
    side: Side.SIDE_BUY,
    type: OrderType.ORDER_TYPE_MARKET,
    timeInForce: TimeInForce.TIME_IN_FORCE_DAY,
    quantity: "10",
    ...overrides,
  });

  const orderOf = (orderId: string) => trader.orders.getOrder({ orderId }).then((r) => r.order as Order);
  const settled = (orderId: string, status: OrderStatus) => eventually(() => orderOf(orderId), (o) => o.status === status);

  before(async () => {
    market.addInstrument(SYMBOL, SECURITY);
    market.setQuote(SYMBOL, { bid: "99.95", ask: "100.05", last: "100" });
    system = await startSystem([market.register(), registerAccounting, registerOrders], {
      env: { ORDERS_SWEEP_INTERVAL: "200ms", ORDERS_RETRY_DELAYS_MS: "50,100" },
      logLevel: (process.env.TEST_LOG_LEVEL as "error" | undefined) ?? "silent",
    });
    trader = await system.clientsAs({ sub: "alice", roles: ["trader"], portfolios: [portfolio] });
    stranger = await system.clientsAs({ sub: "bob", roles: ["trader"], portfolios: [otherPortfolio] });
    await system.clients.accounting.deposit({ portfolioId: portfolio, amount: "9000", idempotencyKey: `dep-${portfolio}` });
  });

  after(async () => {
    await system?.stop();
  });

  it("answers SubmitOrder with PENDING_NEW, then fills it and accounting books the position", async () => {
    const { order, replayed } = await trader.orders.submitOrder(buy());
    expect(replayed).to.equal(false);
    expect(order?.status).to.equal(OrderStatus.ORDER_STATUS_PENDING_NEW);
    expect(order?.reservedAmount).to.equal("1050.53");
    const filled = await settled(order!.orderId, OrderStatus.ORDER_STATUS_FILLED);
    expect(filled.status).to.equal(OrderStatus.ORDER_STATUS_FILLED);
    expect(filled.filledQuantity).to.equal("10");
    expect(filled.averageFillPrice).to.equal("100.05");
    const position = await eventually(
      () => system.clients.accounting.getBalance({ portfolioId: portfolio, securityId: SECURITY }).catch(() => null),
      (r) => r?.balance?.quantityLong === "10",
    );
    expect(position?.balance?.quantityLong).to.equal("10");
    const cash = await eventually(
      () => system.clients.accounting.getBalance({ portfolioId: portfolio, securityId: "" }),
      (r) => r.balance?.quantityReserved === "0",
    );
    // 9000 - 10 × 100.05, and the unused buffer of the hold is released once the order is done.
    expect(cash.balance?.quantityLong).to.equal("7999.5");
    expect(cash.balance?.quantityReserved).to.equal("0");
  });

  it("returns the original order for a replayed key and refuses the key with another payload", async () => {
    const request = buy({ type: OrderType.ORDER_TYPE_LIMIT, limitPrice: "95.00", timeInForce: TimeInForce.TIME_IN_FORCE_GTC, quantity: "1" });
    const first = await trader.orders.submitOrder(request);
    const again = await trader.orders.submitOrder(request);
    expect(again.replayed).to.equal(true);
    expect(again.order?.orderId).to.equal(first.order?.orderId);
    const reused = await statusOf(trader.orders.submitOrder({ ...request, quantity: "2" }));
    expect(reused.code).to.equal(Status.ALREADY_EXISTS);
    await trader.orders.cancelOrder({ orderId: first.order!.orderId });
  });

  it("creates exactly one order for 1,000 concurrent submits with one key", async () => {
    const request = buy({ quantity: "1" });
    const results = await Promise.allSettled(Array.from({ length: 1000 }, () => trader.orders.submitOrder(request)));
    const answered = results.flatMap((r) => (r.status === "fulfilled" ? [r.value] : []));
    const ids = new Set(answered.map((r) => r.order?.orderId));
    expect(ids.size).to.equal(1);
    expect(answered.filter((r) => !r.replayed)).to.have.length(1);
    const failures = results.flatMap((r) => (r.status === "rejected" ? [(r.reason as ClientError).code] : []));
    // Duplicates that outwait the original get ABORTED (retry later), never a second order.
    expect(failures.filter((code) => code !== Status.ABORTED), `failure codes ${failures}`).to.deep.equal([]);
    const listed = await trader.orders.listOrders({ portfolioId: portfolio, pageSize: 1000 });
    expect(listed.orders.filter((o) => o.idempotencyKey === request.idempotencyKey)).to.have.length(1);
  });

  it("refuses a buy the cash does not cover with FAILED_PRECONDITION", async () => {
    const refused = await statusOf(trader.orders.submitOrder(buy({ quantity: "500" })));
    expect(refused.code).to.equal(Status.FAILED_PRECONDITION);
  });

  it("refuses a sell larger than the position with FAILED_PRECONDITION", async () => {
    const refused = await statusOf(trader.orders.submitOrder(buy({ side: Side.SIDE_SELL, quantity: "1000" })));
    expect(refused.code).to.equal(Status.FAILED_PRECONDITION);
  });

  it("rejects a limit price outside the ±10% band with the reference message", async () => {
    const refused = await statusOf(
      trader.orders.submitOrder(buy({ type: OrderType.ORDER_TYPE_LIMIT, limitPrice: "120.00" })),
    );
    expect(refused.code).to.equal(Status.FAILED_PRECONDITION);
    expect(refused.details).to.equal(
      "order price $120.00 is outside acceptable range ($90.00 - $110.00) based on current market price $100.00",
    );
  });

  it("rests a limit order as NEW and fills it when a quote makes it marketable", async () => {
    const { order } = await trader.orders.submitOrder(
      buy({ type: OrderType.ORDER_TYPE_LIMIT, limitPrice: "99.00", quantity: "2", timeInForce: TimeInForce.TIME_IN_FORCE_GTC }),
    );
    await settled(order!.orderId, OrderStatus.ORDER_STATUS_NEW);
    market.setQuote(SYMBOL, { bid: "98.80", ask: "98.90", last: "98.85" });
    const filled = await settled(order!.orderId, OrderStatus.ORDER_STATUS_FILLED);
    expect(filled.averageFillPrice).to.equal("98.9");
    market.setQuote(SYMBOL, { bid: "99.95", ask: "100.05", last: "100" });
  });

  it("expires a resting DAY order at its session close and releases its hold", async () => {
    const { order } = await trader.orders.submitOrder(
      buy({ type: OrderType.ORDER_TYPE_LIMIT, limitPrice: "95.00", quantity: "3", timeInForce: TimeInForce.TIME_IN_FORCE_DAY }),
    );
    await settled(order!.orderId, OrderStatus.ORDER_STATUS_NEW);
    const db = new PgClient(connectionSettings(system.runtime.databaseUrl));
    await db.connect();
    try {
      const hold = () =>
        db
          .query<{ status: string; amount: string; released: string }>(
            "select status, amount, released from accounting.reservations where order_id = $1",
            [order!.orderId],
          )
          .then((r) => r.rows[0]);
      expect(await hold()).to.deep.equal({ status: "OPEN", amount: "285.00000000", released: "0.00000000" });
      // The session's close arrives: rather than wait for the calendar, the order's stored expiry (the close it was
      // given at submission) is moved to now; the sweeper must expire it and accounting must free its hold.
      await db.query("update orders.orders set expires_at = now() where id = $1", [order!.orderId]);
      const expired = await settled(order!.orderId, OrderStatus.ORDER_STATUS_EXPIRED);
      expect(expired.reasonCode).to.equal("SESSION_CLOSED");
      const released = await eventually(hold, (h) => h.status !== "OPEN");
      expect(released).to.deep.equal({ status: "RELEASED", amount: "285.00000000", released: "285.00000000" });
    } finally {
      await db.end();
    }
  });

  it("cancels a resting order, repeats the cancel safely, and refuses to cancel a filled one", async () => {
    const { order } = await trader.orders.submitOrder(
      buy({ type: OrderType.ORDER_TYPE_LIMIT, limitPrice: "95.00", quantity: "1", timeInForce: TimeInForce.TIME_IN_FORCE_GTC }),
    );
    await settled(order!.orderId, OrderStatus.ORDER_STATUS_NEW);
    const canceled = await trader.orders.cancelOrder({ orderId: order!.orderId });
    expect(canceled.order?.status).to.equal(OrderStatus.ORDER_STATUS_CANCELED);
    expect(canceled.order?.reasonCode).to.equal("USER_REQUESTED");
    const again = await trader.orders.cancelOrder({ orderId: order!.orderId });
    expect(again.order?.version).to.equal(canceled.order?.version);

    const { order: market1 } = await trader.orders.submitOrder(buy({ quantity: "1" }));
    await settled(market1!.orderId, OrderStatus.ORDER_STATUS_FILLED);
    const refused = await statusOf(trader.orders.cancelOrder({ orderId: market1!.orderId }));
    expect(refused.code).to.equal(Status.FAILED_PRECONDITION);
  });

  it("shows a caller only the orders of portfolios in its token", async () => {
    const { order } = await trader.orders.submitOrder(buy({ quantity: "1" }));
    const orderId = order!.orderId;
    expect((await statusOf(stranger.orders.getOrder({ orderId }))).code).to.equal(Status.NOT_FOUND);
    expect((await statusOf(stranger.orders.cancelOrder({ orderId }))).code).to.equal(Status.NOT_FOUND);
    expect((await statusOf(stranger.orders.submitOrder(buy()))).code).to.equal(Status.PERMISSION_DENIED);
    expect((await statusOf(stranger.orders.listOrders({ portfolioId: portfolio })))).to.deep.include({
      code: Status.PERMISSION_DENIED,
    });
    const own = await stranger.orders.listOrders({});
    expect(own.orders).to.deep.equal([]);
    const stream = stranger.orders.watchOrderEvents({ portfolioId: portfolio, sinceSeq: "0" });
    expect((await statusOf((async () => { for await (const _ of stream) break; })())).code).to.equal(Status.PERMISSION_DENIED);
    expect((await statusOf(stranger.orders.listDeadLetters({}))).code).to.equal(Status.PERMISSION_DENIED);
  });

  it("streams the portfolio's event log without gaps and resumes from any since_seq", async () => {
    const read = async (sinceSeq: string, count: number) => {
      const controller = new AbortController();
      const seqs: number[] = [];
      try {
        for await (const frame of trader.orders.watchOrderEvents({ portfolioId: portfolio, sinceSeq }, { signal: controller.signal })) {
          if (frame.frame?.$case === "event") seqs.push(Number(frame.frame.value.seq));
          if (seqs.length >= count) break;
        }
      } finally {
        controller.abort();
      }
      return seqs;
    };
    const all = await read("0", 10);
    expect(all).to.deep.equal([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect(await read("4", 3)).to.deep.equal([5, 6, 7]);
  });

  it("dead-letters a poison message on orders.execute and lets an admin inspect and re-drive it", async () => {
    await system.runtime.broker.publish({
      routingKey: "orders.execute",
      messageId: `poison-${randomBytes(4).toString("hex")}`,
      schemaVersion: 1,
      body: "{not json",
    });
    const listed = await eventually(
      () => system.clients.orders.listDeadLetters({ queue: "orders.execute" }),
      (r) => r.deadLetters.some((d) => d.payloadJson === "{not json"),
    );
    const poison = listed.deadLetters.find((d) => d.payloadJson === "{not json");
    expect(poison?.status).to.equal(DeadLetterStatus.DEAD_LETTER_STATUS_PENDING);
    const retried = await system.clients.orders.retryDeadLetter({ deadLetterId: poison!.deadLetterId });
    expect(retried.deadLetter?.status).to.equal(DeadLetterStatus.DEAD_LETTER_STATUS_RETRIED);
  });

  it("lists a fill accounting could not book among the dead letters, and re-drives it so accounting books it", async () => {
    // A fill for a portfolio without the cash to pay for it: the position worker parks it as permanent.
    const broke = id24("pz");
    const fillId = `fill-${randomBytes(6).toString("hex")}`;
    const fill = encodeFillEvent({
      fillId,
      orderId: id24("oz"),
      portfolioId: broke,
      securityId: SECURITY,
      symbol: SYMBOL,
      side: "BUY",
      quantity: new Decimal("2"),
      price: new Decimal("100.05"),
      fee: new Decimal("0"),
      executedAt: new Date(),
      reservationId: id24("rz"),
      closesReservation: true,
    });
    await system.runtime.broker.publish({
      routingKey: FILL_EVENT_ROUTING_KEY,
      messageId: fillId,
      schemaVersion: FILL_EVENT_SCHEMA_VERSION,
      body: JSON.stringify(fill),
    });
    // Listed without a queue filter (every queue an order's messages pass through), under accounting's queue.
    const listed = await eventually(
      () => system.clients.orders.listDeadLetters({}),
      (r) => r.deadLetters.some((d) => d.messageId === fillId),
    );
    const letter = listed.deadLetters.find((d) => d.messageId === fillId)!;
    expect(letter).to.deep.include({ queue: "accounting.fills", routingKey: FILL_EVENT_ROUTING_KEY, status: DeadLetterStatus.DEAD_LETTER_STATUS_PENDING });
    expect(letter.reason).to.match(/INSUFFICIENT_FUNDS|insufficient/i);
    const byQueue = await system.clients.orders.listDeadLetters({ queue: "accounting.fills" });
    expect(byQueue.deadLetters.map((d) => d.deadLetterId)).to.include(letter.deadLetterId);
    expect((await system.clients.orders.listDeadLetters({ queue: "orders.execute" })).deadLetters.map((d) => d.messageId)).to.not.include(fillId);

    // The operator funds the portfolio and re-drives the fill: accounting books it, once.
    await system.clients.accounting.deposit({ portfolioId: broke, amount: "1000", idempotencyKey: `dep-${broke}` });
    const retried = await system.clients.orders.retryDeadLetter({ deadLetterId: letter.deadLetterId });
    expect(retried.deadLetter).to.deep.include({ queue: "accounting.fills", status: DeadLetterStatus.DEAD_LETTER_STATUS_RETRIED });
    const booked = await eventually(
      () => system.clients.accounting.listBalances({ portfolioId: broke }),
      (r) => r.balances.some((b) => b.securityId === SECURITY && b.quantityLong === "2"),
    );
    expect(booked.balances.find((b) => b.securityId === "")?.quantityLong).to.equal("799.9");
    const after = await system.clients.orders.listDeadLetters({ queue: "accounting.fills" });
    expect(after.deadLetters.find((d) => d.deadLetterId === letter.deadLetterId)?.status).to.equal(DeadLetterStatus.DEAD_LETTER_STATUS_RETRIED);
  });

  it("applies an execute message delivered twice only once", async () => {
    const { order } = await trader.orders.submitOrder(buy({ quantity: "1" }));
    const filled = await settled(order!.orderId, OrderStatus.ORDER_STATUS_FILLED);
    for (let i = 0; i < 2; i++) {
      await system.runtime.broker.publish({
        routingKey: "orders.execute",
        messageId: `execute:${order!.orderId}`,
        schemaVersion: 1,
        body: JSON.stringify({ schema_version: 1, order_id: order!.orderId }),
      });
    }
    await new Promise((resolve) => setTimeout(resolve, 500));
    const after = await orderOf(order!.orderId);
    expect(after.version).to.equal(filled.version);
    expect(after.filledQuantity).to.equal("1");
  });

  it("dead-letters a message that keeps failing after its retries, with the attempts it used", async () => {
    const symbol = `D${randomBytes(3).toString("hex").toUpperCase()}`;
    market.addInstrument(symbol, id24("sed"));
    market.setQuote(symbol, { bid: "49.95", ask: "50.05", last: "50" });
    const { order } = await trader.orders.submitOrder(
      buy({ symbol, type: OrderType.ORDER_TYPE_LIMIT, limitPrice: "49.00", quantity: "1", timeInForce: TimeInForce.TIME_IN_FORCE_GTC }),
    );
    await settled(order!.orderId, OrderStatus.ORDER_STATUS_NEW);
    market.unavailable.add(symbol);
    try {
      const messageId = `stuck-${order!.orderId}`;
      await system.runtime.broker.publish({
        routingKey: "orders.execute",
        messageId,
        schemaVersion: 1,
        body: JSON.stringify({ schema_version: 1, order_id: order!.orderId }),
      });
      const listed = await eventually(
        () => system.clients.orders.listDeadLetters({ queue: "orders.execute" }),
        (r) => r.deadLetters.some((d) => d.messageId === messageId),
        15_000,
      );
      const letter = listed.deadLetters.find((d) => d.messageId === messageId);
      expect(letter?.attempts).to.equal(5); // ORDERS_DELIVERY_LIMIT default
      expect(letter?.reason).to.match(/market data is not available/);
    } finally {
      market.unavailable.delete(symbol);
    }
  });
});

// A submit that claimed its key and reserved in accounting, then died with nobody retrying it, must not keep its hold
// forever: the claim reaper releases the hold once the claim is long abandoned and frees the key for a fresh submit.
import { randomBytes, randomUUID } from "node:crypto";
import { expect } from "chai";
import { Client as PgClient } from "pg";
import { Side } from "../../../generated/tradeplane/common/v1/common";
import { OrderStatus, OrderType, TimeInForce } from "../../../generated/tradeplane/orders/v1/orders";
import { register as registerAccounting } from "../../../services/accounting/main";
import { register as registerOrders } from "../../../services/orders/main";
import { connectionSettings } from "../../../services/platform/database";
import { eventually } from "../../support/eventually";
import { startSystem, type TestSystem } from "../../support/system";
import { FakeMarket } from "./fake-market-data";

const id24 = (prefix: string) => (prefix + randomBytes(12).toString("hex")).slice(0, 24);

describe("orders: holds of abandoned submits", function () {
  this.timeout(60_000);
  const market = new FakeMarket();
  const SYMBOL = `A${randomBytes(3).toString("hex").toUpperCase()}`;
  const portfolio = id24("pa");
  let system: TestSystem;
  let db: PgClient;

  before(async () => {
    market.addInstrument(SYMBOL, id24("sa"));
    market.setQuote(SYMBOL, { bid: "99.95", ask: "100.05", last: "100" });
    system = await startSystem([market.register(), registerAccounting, registerOrders], {
      env: { ORDERS_SWEEP_INTERVAL: "200ms" },
      logLevel: (process.env.TEST_LOG_LEVEL as "error" | undefined) ?? "silent",
    });
    await system.clients.accounting.deposit({ portfolioId: portfolio, amount: "5000", idempotencyKey: `dep-${portfolio}` });
    db = new PgClient(connectionSettings(system.runtime.databaseUrl));
    await db.connect();
  });

  after(async () => {
    await db?.end();
    await system?.stop();
  });

  it("releases the hold of a claim abandoned long ago and lets the key submit afresh", async () => {
    const abandonedOrderId = randomUUID();
    const key = `abandoned-${randomBytes(4).toString("hex")}`;
    // What a submit that died after reserving leaves behind: its claim (lease run out an hour ago) and its hold.
    await system.clients.accounting.createReservation({ portfolioId: portfolio, orderId: abandonedOrderId, securityId: "", amount: "1010.50" });
    await db.query(
      `insert into orders.idempotency_keys (portfolio_id, idempotency_key, fingerprint, order_id, held_amount, lease_until)
       values ($1, $2, 'fingerprint-of-the-dead-submit', $3, 1010.50, now() - interval '1 hour')`,
      [portfolio, key, abandonedOrderId],
    );
    const hold = () =>
      db
        .query<{ status: string; released: string }>("select status, released from accounting.reservations where order_id = $1", [abandonedOrderId])
        .then((r) => r.rows[0]);
    expect(await hold()).to.deep.equal({ status: "OPEN", released: "0.00000000" });

    const released = await eventually(hold, (h) => h.status !== "OPEN");
    expect(released).to.deep.equal({ status: "RELEASED", released: "1010.50000000" });
    const claim = () => db.query("select 1 from orders.idempotency_keys where portfolio_id = $1 and idempotency_key = $2", [portfolio, key]);
    expect((await eventually(claim, (r) => r.rowCount === 0)).rowCount).to.equal(0);
    const cash = await system.clients.accounting.getBalance({ id: "0", portfolioId: portfolio, securityId: "" });
    expect(cash.balance).to.deep.include({ quantityReserved: "0", quantityAvailable: "5000" });

    // The key is free: a retry now submits a new order with its own hold.
    const { order } = await system.clients.orders.submitOrder({
      idempotencyKey: key,
      portfolioId: portfolio,
      symbol: SYMBOL,
      side: Side.SIDE_BUY,
      type: OrderType.ORDER_TYPE_MARKET,
      timeInForce: TimeInForce.TIME_IN_FORCE_DAY,
      quantity: "1",
    });
    expect(order?.orderId).to.not.equal(abandonedOrderId);
    expect(order?.status).to.equal(OrderStatus.ORDER_STATUS_PENDING_NEW);
  });

  it("leaves a claim alone while its lease is recent", async () => {
    const orderId = randomUUID();
    const key = `recent-${randomBytes(4).toString("hex")}`;
    await system.clients.accounting.createReservation({ portfolioId: portfolio, orderId, securityId: "", amount: "10" });
    await db.query(
      `insert into orders.idempotency_keys (portfolio_id, idempotency_key, fingerprint, order_id, held_amount, lease_until)
       values ($1, $2, 'fp', $3, 10, now() - interval '1 minute')`,
      [portfolio, key, orderId],
    );
    await new Promise((resolve) => setTimeout(resolve, 1_000)); // five sweeps
    const { rows } = await db.query("select status from accounting.reservations where order_id = $1", [orderId]);
    expect(rows[0].status).to.equal("OPEN");
    const claims = await db.query("select 1 from orders.idempotency_keys where portfolio_id = $1 and idempotency_key = $2", [portfolio, key]);
    expect(claims.rowCount).to.equal(1);
  });
});

import { expect } from "chai";
import { randomUUID } from "node:crypto";
import { createTestDatabase, openDatabase, type Database, type TestDatabase } from "../../../services/platform/database";
import { createPgIdempotencyKeys } from "../../../services/orders/adapters/idempotency-keys";
import { createPgOrderStore } from "../../../services/orders/adapters/order-store";
import { transitionAll } from "../../../services/orders/domain/order-state-machine";
import type { IdempotencyKeys, OrderStore } from "../../../services/orders/domain/ports";
import { d, NOW, pendingOrder, PORTFOLIO } from "../../unit/orders/fixtures";

describe("orders adapters: Postgres order store and idempotency keys", function () {
  this.timeout(60_000);
  let testDb: TestDatabase;
  let db: Database;
  let store: OrderStore;
  let keys: IdempotencyKeys;

  before(async () => {
    testDb = await createTestDatabase();
    db = await openDatabase({ url: testDb.url, schema: "orders", migrationsDir: "services/orders/migrations", poolMax: 8 });
    store = createPgOrderStore({ knex: db.knex, schema: "orders" });
    keys = createPgIdempotencyKeys({ knex: db.knex, schema: "orders", leaseMs: 10_000 });
  });

  after(async () => {
    await db?.close();
    await testDb?.drop();
  });

  function newOrder(key: string, portfolioId = PORTFOLIO) {
    const order = { ...pendingOrder({ idempotencyKey: key, portfolioId }), id: randomUUID() };
    return { order, event: firstEvent(order) };
  }

  function firstEvent(order: ReturnType<typeof pendingOrder>) {
    return {
      seq: 0,
      orderId: order.id,
      portfolioId: order.portfolioId,
      orderVersion: 1,
      fromStatus: null,
      toStatus: "PENDING_NEW" as const,
      reason: "SUBMITTED" as const,
      fill: null,
      filledQuantityAfter: d(0),
      filledAmountAfter: d(0),
      occurredAt: NOW,
    };
  }

  it("stores an order with exact decimals and reads it back", async () => {
    const { order, event } = newOrder("store-1");
    await store.create(order, event);
    const found = await store.find(order.id);
    expect(found?.quantity?.toFixed()).to.equal("10");
    expect(found?.marketPriceAtSubmission.toFixed()).to.equal("100");
    expect(found?.reservation.amount.toFixed()).to.equal(order.reservation.amount.toFixed());
    expect(found?.expiresAt?.toISOString()).to.equal(order.expiresAt?.toISOString());
  });

  it("returns the stored order when the same order id is written twice", async () => {
    const { order, event } = newOrder("store-2");
    await store.create(order, event);
    const again = await store.create({ ...order, lastReason: "RESTING" }, event);
    expect(again.lastReason).to.equal("SUBMITTED");
  });

  it("appends transitions with contiguous per-portfolio seqs and refuses a stale version", async () => {
    const { order, event } = newOrder("store-3");
    await store.create(order, event);
    const { order: next, events } = transitionAll(order, [
      { to: "PARTIALLY_FILLED", reason: "PARTIAL_LIQUIDITY", at: NOW, fill: { quantity: d(4), price: d("100.05") } },
      { to: "CANCELED", reason: "IOC_REMAINDER", at: NOW },
    ]);
    const written = await store.transition(1, next, events);
    expect(written?.map((e) => e.seq)).to.have.length(2);
    expect(await store.transition(1, next, events)).to.equal(null);
    const log = await store.eventsSince(PORTFOLIO, 0, 100);
    expect(log.map((e) => e.event.seq)).to.deep.equal(log.map((_, i) => i + 1));
    const fillEntry = log.find((e) => e.event.fill !== null);
    expect(fillEntry?.order.status).to.equal("PARTIALLY_FILLED");
    expect(fillEntry?.order.filledQuantity.toFixed()).to.equal("4");
    expect(fillEntry?.event.fill?.price.toFixed()).to.equal("100.05");
    expect(await store.latestSeq(PORTFOLIO)).to.equal(log.length);
  });

  it("hands each committed statement's messages to the relay, leased, and wakes the watchers for every write", async () => {
    const handed: string[][] = [];
    let wakes = 0;
    const relay = { handOffLeaseMs: 60_000, handOff: (messages: readonly { routingKey: string }[]) => void handed.push(messages.map((m) => m.routingKey)) };
    const watched = createPgOrderStore({ knex: db.knex, schema: "orders", relay, onCommitted: () => wakes++ });
    const { order, event } = newOrder("store-handoff", "pfhandoff000000000000001");
    await watched.create(order, event);
    expect(handed).to.deep.equal([["orders.execute"]]);
    expect(wakes).to.equal(1);
    const [row] = await db.knex("orders.outbox").where("body", "like", `%${order.id}%`).select(db.knex.raw("next_attempt_at > now() + interval '50 seconds' as leased"));
    expect(row.leased, "the row waits for its writer's hand-off").to.equal(true);

    // Resting adds an event but no message: the watchers are still woken, the relay is handed nothing.
    const resting = transitionAll(order, [{ to: "NEW", reason: "RESTING", at: NOW }]);
    expect(await watched.transition(1, resting.order, resting.events)).to.have.length(1);
    expect(handed).to.have.length(1);
    expect(wakes).to.equal(2);
    // A transition that lost its version race wrote nothing: no hand-off, no wake-up.
    expect(await watched.transition(1, resting.order, resting.events)).to.equal(null);
    expect(wakes).to.equal(2);

    const filled = transitionAll(resting.order, [{ to: "FILLED", reason: "MARKETABLE", at: NOW, fill: { quantity: d(10), price: d("100.05") } }]);
    expect(await watched.transition(2, filled.order, filled.events)).to.have.length(1);
    expect(handed[1]).to.deep.equal(["orders.fill.executed"]);
    expect(wakes).to.equal(3);
  });

  it("pages ListOrders newest first without repeating or skipping orders", async () => {
    const seen: string[] = [];
    let token: string | null = null;
    do {
      const page: Awaited<ReturnType<OrderStore["list"]>> = await store.list({
        portfolioIds: [PORTFOLIO],
        statuses: [],
        symbol: null,
        side: null,
        createdFrom: null,
        createdTo: null,
        pageToken: token,
        pageSize: 2,
      });
      seen.push(...page.orders.map((o) => o.id));
      token = page.nextPageToken;
    } while (token !== null);
    expect(seen).to.have.length(3);
    expect(new Set(seen).size).to.equal(3);
  });

  it("lets exactly one of many concurrent claims of one key win", async () => {
    const claims = await Promise.all(
      Array.from({ length: 50 }, () => keys.claim(PORTFOLIO, "race-key", "fp", randomUUID(), null)),
    );
    expect(claims.filter((c) => c.kind === "claimed")).to.have.length(1);
    expect(claims.filter((c) => c.kind === "in_flight")).to.have.length(49);
  });

  it("reports a completed key with its order id and fingerprint, and forgets an unfinished claim", async () => {
    const claim = await keys.claim(PORTFOLIO, "done-key", "fp-1", randomUUID(), null);
    expect(claim.kind).to.equal("claimed");
    const orderId = (claim as { orderId: string }).orderId;
    const { order, event } = newOrder("done-key");
    await store.create({ ...order, id: orderId }, { ...event, orderId });
    expect(await keys.claim(PORTFOLIO, "done-key", "fp-2", randomUUID(), null)).to.deep.equal({
      kind: "completed",
      fingerprint: "fp-1",
      orderId,
    });
    const other = await keys.claim(PORTFOLIO, "forget-key", "fp", randomUUID(), null);
    await keys.forget(PORTFOLIO, "forget-key", (other as { orderId: string }).orderId);
    expect((await keys.claim(PORTFOLIO, "forget-key", "fp-new", randomUUID(), null)).kind).to.equal("claimed");
  });

  it("records the hold with a new claim, and hands it to the retry that takes the claim over", async () => {
    const shortKeys = createPgIdempotencyKeys({ knex: db.knex, schema: "orders", leaseMs: 1 });
    const first = await shortKeys.claim(PORTFOLIO, "hold-key", "fp", randomUUID(), d("1010.25"));
    expect(first).to.include({ kind: "claimed", fresh: true });
    expect((first as { heldAmount: unknown }).heldAmount?.toString()).to.equal("1010.25");
    await new Promise((resolve) => setTimeout(resolve, 20)); // the 1 ms lease runs out without an order
    const retry = await shortKeys.claim(PORTFOLIO, "hold-key", "fp", randomUUID(), d("2000"));
    expect(retry).to.include({ kind: "claimed", fresh: false, orderId: (first as { orderId: string }).orderId });
    expect((retry as { heldAmount: unknown }).heldAmount?.toString()).to.equal("1010.25");
  });

  it("writes concurrent transitions of many orders together: one winner per version, gap-free seqs, outbox rows only for the winners", async () => {
    const portfolios = ["pb0000000000000000000001", "pb0000000000000000000002"];
    const orders = [];
    for (let i = 0; i < 6; i++) {
      const order = { ...pendingOrder({ idempotencyKey: `batch-${i}`, portfolioId: portfolios[i % 2] }), id: randomUUID() };
      await store.create(order, { ...firstEvent(order), portfolioId: order.portfolioId });
      orders.push(order);
    }
    const fillStep = (quantity: number) => [
      { to: "PARTIALLY_FILLED" as const, reason: "PARTIAL_LIQUIDITY" as const, at: NOW, fill: { quantity: d(quantity), price: d("100.05") } },
    ];
    // Every order moves from version 1; the first one twice, with different fills, at the same moment.
    const attempts = [...orders.map((order) => transitionAll(order, fillStep(1))), transitionAll(orders[0], fillStep(2))];
    const written = await Promise.all(attempts.map(({ order, events }) => store.transition(1, order, events)));
    expect(written.slice(1, 6).every((w) => w !== null)).to.equal(true);
    expect([written[0], written[6]].filter((w) => w !== null)).to.have.length(1);
    for (const portfolioId of portfolios) {
      const log = await store.eventsSince(portfolioId, 0, 100);
      expect(log.map((e) => e.event.seq)).to.deep.equal([1, 2, 3, 4, 5, 6]);
      expect(log.filter((e) => e.event.fill !== null)).to.have.length(3);
    }
    const winner = written[0] !== null ? "1" : "2";
    expect((await store.find(orders[0].id))?.filledQuantity.toFixed()).to.equal(winner);
    const { rows } = await db.knex.raw<{ rows: { n: string }[] }>(
      "select count(*) as n from orders.outbox where routing_key = 'orders.fill.executed' and body like any(?::text[])",
      [orders.map((o) => `%${o.id}%`)],
    );
    expect(rows[0].n).to.equal("6");
  });

  it("writes concurrent new orders together: each stored once with its first event, key completion and execute message", async () => {
    const portfolios = ["pc0000000000000000000001", "pc0000000000000000000002"];
    const orders = [];
    for (let i = 0; i < 8; i++) {
      const key = `together-${i}`;
      const order = { ...pendingOrder({ idempotencyKey: key, portfolioId: portfolios[i % 2] }), id: randomUUID() };
      expect((await keys.claim(order.portfolioId, key, "fp", order.id, d(1))).kind).to.equal("claimed");
      orders.push(order);
    }
    // The first order is written twice at the same moment (a retry racing its original): stored once.
    const writes = [...orders, orders[0]].map((order) => store.create(order, { ...firstEvent(order), portfolioId: order.portfolioId }));
    const stored = await Promise.all(writes);
    expect(stored.map((o) => o.id)).to.deep.equal([...orders, orders[0]].map((o) => o.id));
    for (const portfolioId of portfolios) {
      const log = await store.eventsSince(portfolioId, 0, 100);
      expect(log.map((e) => e.event.seq)).to.deep.equal([1, 2, 3, 4]);
      expect(log.map((e) => e.event.toStatus)).to.deep.equal(["PENDING_NEW", "PENDING_NEW", "PENDING_NEW", "PENDING_NEW"]);
    }
    for (const order of orders) {
      expect(await keys.claim(order.portfolioId, order.idempotencyKey, "fp", randomUUID(), null)).to.deep.equal({
        kind: "completed",
        fingerprint: "fp",
        orderId: order.id,
      });
    }
    const { rows } = await db.knex.raw<{ rows: { n: string }[] }>(
      "select count(*) as n from orders.outbox where routing_key = 'orders.execute' and body like any(?::text[])",
      [orders.map((o) => `%${o.id}%`)],
    );
    expect(rows[0].n).to.equal("8");
  });

  it("answers each of many concurrent claims of different keys as if it were alone", async () => {
    const portfolio = "pd0000000000000000000001";
    const held = await keys.claim(portfolio, "mixed-held", "fp", randomUUID(), d(5));
    const done = await keys.claim(portfolio, "mixed-done", "fp", randomUUID(), d(5));
    const doneOrder = { ...pendingOrder({ idempotencyKey: "mixed-done", portfolioId: portfolio }), id: (done as { orderId: string }).orderId };
    await store.create(doneOrder, { ...firstEvent(doneOrder), portfolioId: portfolio });
    const fresh = Array.from({ length: 10 }, (_, i) => keys.claim(portfolio, `mixed-new-${i}`, "fp", randomUUID(), d(i + 1)));
    const [inFlight, completed, ...news] = await Promise.all([
      keys.claim(portfolio, "mixed-held", "fp", randomUUID(), d(5)),
      keys.claim(portfolio, "mixed-done", "fp", randomUUID(), d(5)),
      ...fresh,
    ]);
    expect(inFlight).to.deep.equal({ kind: "in_flight", fingerprint: "fp" });
    expect(completed).to.deep.equal({ kind: "completed", fingerprint: "fp", orderId: doneOrder.id });
    expect(news.map((c) => [c.kind, (c as { fresh?: boolean }).fresh, (c as { heldAmount?: unknown }).heldAmount?.toString()])).to.deep.equal(
      Array.from({ length: 10 }, (_, i) => ["claimed", true, String(i + 1)]),
    );
    expect(held.kind).to.equal("claimed");
  });
});

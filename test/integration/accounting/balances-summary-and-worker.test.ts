import { randomBytes } from "node:crypto";
import { expect } from "chai";
import { ClientError, Status } from "nice-grpc";
import { TransactionType } from "../../../generated/tradeplane/accounting/v1/accounting";
import { FILL_EVENT_ROUTING_KEY, FILL_EVENT_SCHEMA_VERSION } from "../../../services/accounting/domain/fill-event";
import { register } from "../../../services/accounting/main";
import { FILL_QUEUE_NAME } from "../../../services/accounting/workers/position-worker";
import { FakeMarket } from "../orders/fake-market-data";
import { startSystem, type TestSystem } from "../../support/system";

const id24 = () => randomBytes(12).toString("hex");

async function failure(promise: Promise<unknown>): Promise<ClientError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof ClientError) return error;
    throw error;
  }
  throw new Error("expected the call to fail");
}

describe("accounting balances, valuation and the position worker's dead letters", () => {
  let system: TestSystem;
  const market = new FakeMarket();
  before(async () => {
    system = await startSystem([market.register(), register]);
  });
  after(async () => {
    await system?.stop();
  });

  const tx = (portfolioId: string, securityId: string, sourceId: string, type: TransactionType, quantity: string, price: string) => ({
    portfolioId,
    securityId,
    sourceId,
    transactionType: type,
    quantity,
    price,
    transactionDate: "20240305",
  });
  const { DEP, BUY, SELL } = { DEP: TransactionType.TRANSACTION_TYPE_DEP, BUY: TransactionType.TRANSACTION_TYPE_BUY, SELL: TransactionType.TRANSACTION_TYPE_SELL };

  it("lists balances with the filters GlobeCo ignored (cash only, non-zero, zero), security and date filters, and pages", async () => {
    const [p, s1, s2] = [id24(), id24(), id24()];
    const a = system.clients.accounting;
    await a.postTransactions({
      transactions: [
        tx(p, "", `lb1-${p}`, DEP, "1000", "1"),
        tx(p, s1, `lb2-${p}`, BUY, "10", "5"),
        tx(p, s2, `lb3-${p}`, BUY, "5", "2"),
        tx(p, s2, `lb4-${p}`, SELL, "5", "3"),
      ],
    });
    const list = (filters: Record<string, unknown>) => a.listBalances({ portfolioId: p, ...filters } as never);
    const all = await list({});
    expect(all.totalSize).to.equal(3);
    // Default order: by security id, the cash row last.
    expect(all.balances.map((b) => [b.securityId, b.quantityLong])).to.deep.equal([...[[s1, "10"], [s2, "0"]].sort(), ["", "955"]]);
    expect((await list({ cashOnly: true })).balances.map((b) => [b.securityId, b.quantityLong])).to.deep.equal([["", "955"]]);
    expect((await list({ nonZeroOnly: true })).balances.map((b) => b.securityId).sort()).to.deep.equal(["", s1].sort());
    expect((await list({ zeroOnly: true })).balances.map((b) => b.securityId)).to.deep.equal([s2]);
    expect((await list({ securityId: s1 })).balances.map((b) => b.quantityLong)).to.deep.equal(["10"]);
    const tomorrow = new Date(Date.now() + 86_400_000).toISOString().slice(0, 10);
    expect((await list({ lastUpdatedFrom: tomorrow })).totalSize).to.equal(0);
    expect((await list({ lastUpdatedTo: tomorrow })).totalSize).to.equal(3);

    const first = await list({ pageSize: 2 });
    expect(first.balances).to.have.length(2);
    expect(first.nextPageToken).to.not.equal("");
    const second = await list({ pageSize: 2, pageToken: first.nextPageToken });
    expect(second.balances).to.have.length(1);
    expect(second.nextPageToken).to.equal("");
    expect([...first.balances, ...second.balances].map((b) => b.id)).to.deep.equal(all.balances.map((b) => b.id));

    expect((await failure(list({ zeroOnly: true, nonZeroOnly: true }))).code).to.equal(Status.INVALID_ARGUMENT);
    expect((await failure(list({ lastUpdatedFrom: "05/03/2024" }))).code).to.equal(Status.INVALID_ARGUMENT);
  });

  it("values holdings at market data's last price: market value, unrealized and realized P&L, weights and totals", async () => {
    const [p, s] = [id24(), id24()];
    const symbol = `V${randomBytes(2).toString("hex").toUpperCase()}`;
    market.addInstrument(symbol, s);
    market.setQuote(symbol, { bid: "109.9", ask: "110.1", last: "110" });
    await system.clients.accounting.postTransactions({
      transactions: [tx(p, "", `v1-${p}`, DEP, "10000", "1"), tx(p, s, `v2-${p}`, BUY, "20", "100"), tx(p, s, `v3-${p}`, SELL, "10", "105")],
    });
    const { summary } = await system.clients.accounting.getPortfolioSummary({ portfolioId: p });
    // Cash 10000 − 2000 + 1050 = 9050; 10 units left at cost 1000, worth 1100; the sale realized +50.
    expect(summary).to.deep.include({ cashBalance: "9050", totalMarketValue: "1100", totalValue: "10150", totalCostBasis: "1000", totalUnrealizedPnl: "100", totalRealizedPnl: "50", securityCount: 1 });
    expect(summary?.missingPrices).to.deep.equal([]);
    expect(summary?.securities[0]).to.deep.include({ symbol, netQuantity: "10", price: "110", marketValue: "1100", costBasis: "1000", unrealizedPnl: "100", realizedPnl: "50" });
    // Weights are shares of total value, to 6 decimals.
    expect(summary?.securities[0].weight).to.equal("0.108374");
    expect(summary?.cashWeight).to.equal("0.891626");
  });

  it("dead-letters a malformed fill as permanent, with no retry and no balance change", async () => {
    const messageId = `bad-fill-${id24()}`;
    await system.runtime.broker.publish({ routingKey: FILL_EVENT_ROUTING_KEY, messageId, schemaVersion: FILL_EVENT_SCHEMA_VERSION, body: "{not json" });
    const until = Date.now() + 10_000;
    for (;;) {
      const letter = (await system.runtime.broker.readDeadLetters(FILL_QUEUE_NAME, 10_000)).find((l) => l.messageId === messageId);
      if (letter) {
        expect(letter).to.deep.include({ kind: "permanent", attempts: 1 });
        break;
      }
      if (Date.now() > until) throw new Error("the malformed fill never reached the dead-letter queue");
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  });
});

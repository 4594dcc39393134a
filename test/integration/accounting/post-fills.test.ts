// The position worker's fill postings against the real ledger store: what a fill batch costs in statements (BEGIN,
// the portfolio locks, one read, one write, COMMIT, whatever the batch's size) and what it stores.
import { randomBytes, randomUUID } from "node:crypto";
import { expect } from "chai";
import Decimal from "decimal.js";
import { createLedgerStore } from "../../../services/accounting/adapters/ledger-store";
import { createReservationHolds } from "../../../services/accounting/adapters/reservation-holds";
import { AccountingError } from "../../../services/accounting/domain/accounting-error";
import type { Fill } from "../../../services/accounting/domain/fill-event";
import type { WithLedgerSession } from "../../../services/accounting/domain/ledger-session";
import { createReservation } from "../../../services/accounting/domain/manage-reservations";
import { postFills, type PostFillResult } from "../../../services/accounting/domain/post-fill";
import { postTransactions } from "../../../services/accounting/domain/post-transactions";
import { type Database } from "../../../services/platform/database";
import { openAccountingDatabase, type AccountingTestDatabase } from "../../support/accounting-database";

const id24 = () => randomBytes(12).toString("hex");
const byText = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

describe("accounting: posting fills", function () {
  this.timeout(60_000);
  let ledger: AccountingTestDatabase;
  let db: Database;
  let withLedgerSession: WithLedgerSession;
  const now = () => new Date();

  before(async () => {
    ledger = await openAccountingDatabase();
    db = ledger.db;
    // Wired as main.ts wires it, named statements included.
    withLedgerSession = createLedgerStore(db.knex, "accounting", db.prepared);
  });

  after(async () => {
    await ledger?.close();
  });

  /** The statements `work` sends to the database, in order (the pool serves nothing else meanwhile). */
  async function statementsOf<T>(work: () => Promise<T>): Promise<{ result: T; statements: string[] }> {
    const statements: string[] = [];
    const listener = (query: { sql: string }) => statements.push(query.sql.trim().split(/\s+/).slice(0, 3).join(" "));
    db.knex.on("query", listener);
    try {
      return { result: await work(), statements };
    } finally {
      db.knex.removeListener("query", listener);
    }
  }

  const post = (fills: Fill[]) => postFills({ withLedgerSession, now }, fills);

  async function deposit(portfolioId: string, amount: string): Promise<void> {
    const result = await postTransactions({ withLedgerSession }, [
      { portfolioId, securityId: null, sourceId: `dep-${randomUUID()}`, transactionType: "DEP", quantity: amount, price: "1", transactionDate: "20250701" },
    ]);
    expect(result.summary.successful).to.equal(1);
  }

  async function buyOutright(portfolioId: string, securityId: string, quantity: string, price: string): Promise<void> {
    const result = await postTransactions({ withLedgerSession }, [
      { portfolioId, securityId, sourceId: `buy-${randomUUID()}`, transactionType: "BUY", quantity, price, transactionDate: "20250701" },
    ]);
    expect(result.summary.successful).to.equal(1);
  }

  async function hold(portfolioId: string, orderId: string, securityId: string | null, amount: string): Promise<void> {
    const reservationHolds = createReservationHolds(db.knex, "accounting", db.prepared);
    await createReservation({ reservationHolds, now, newId: randomUUID }, { portfolioId, orderId, securityId, amount });
  }

  function fill(portfolioId: string, securityId: string, side: "BUY" | "SELL", quantity: string, price: string, orderId: string, extra: Partial<Fill> = {}): Fill {
    return {
      fillId: `fill-${randomUUID()}`,
      orderId,
      portfolioId,
      securityId,
      symbol: `S${securityId.slice(0, 4).toUpperCase()}`,
      side,
      quantity: new Decimal(quantity),
      price: new Decimal(price),
      fee: new Decimal(1),
      executedAt: new Date("2025-07-01T14:30:00Z"),
      reservationId: orderId,
      ...extra,
    };
  }

  /** What a user of these portfolios sees: balances, lots, realizations, reservations and open holds. */
  async function stored(portfolioIds: string[]) {
    const q = async (sql: string) => (await db.knex.raw(sql, [portfolioIds])).rows as Record<string, unknown>[];
    return {
      balances: await q(
        `select portfolio_id, security_id, quantity_long::text as q from accounting.balances where portfolio_id = any(?::text[]) order by 1, 2 nulls first`,
      ),
      lots: await q(
        `select portfolio_id, security_id, side, seq, quantity::text as q, cost::text as cost from accounting.tax_lots
          where portfolio_id = any(?::text[]) order by 1, 2, 3, 4`,
      ),
      realized: await q(
        `select portfolio_id, security_id, sum(realized_pnl)::text as pnl from accounting.lot_closures where portfolio_id = any(?::text[]) group by 1, 2 order by 1, 2`,
      ),
      reservations: await q(
        `select order_id, consumed::text as consumed, released::text as released, status from accounting.reservations
          where portfolio_id = any(?::text[]) order by 1`,
      ),
      holds: await q(
        `select portfolio_id, security_id, sum(amount - consumed - released)::text as held from accounting.reservations
          where status = 'OPEN' and portfolio_id = any(?::text[]) group by 1, 2 order by 1, 2 nulls first`,
      ),
    };
  }

  async function refusal(promise: Promise<unknown>): Promise<AccountingError> {
    try {
      await promise;
    } catch (error) {
      if (error instanceof AccountingError) return error;
      throw error;
    }
    throw new Error("expected the fills to be refused");
  }

  it("posts a lone fill in five statements, consuming its hold by order id and learning the symbol", async () => {
    const [p, s] = [id24(), id24()];
    await deposit(p, "10000");
    await hold(p, `o1-${p}`, null, "1010");
    const buy = fill(p, s, "BUY", "10", "100", `o1-${p}`, { fee: new Decimal("1.5") });

    const { result, statements } = await statementsOf(() => post([buy]));

    expect(statements).to.have.length(5);
    expect(statements[0]).to.match(/^BEGIN/);
    expect(statements[4]).to.match(/^COMMIT/);
    expect(result).to.have.length(1);
    expect(result[0].kind).to.equal("POSTED");
    const state = await stored([p]);
    expect(state.balances).to.deep.equal([
      { portfolio_id: p, security_id: null, q: "8998.50000000" },
      { portfolio_id: p, security_id: s, q: "10.00000000" },
    ]);
    expect(state.lots).to.deep.equal([{ portfolio_id: p, security_id: s, side: "LONG", seq: 0, q: "10.00000000", cost: "1001.50000000" }]);
    // 1001.5 of the 1010 held is used; the order is not closed, so 8.5 stays held.
    expect(state.reservations).to.deep.equal([{ order_id: `o1-${p}`, consumed: "1001.50000000", released: "0.00000000", status: "OPEN" }]);
    expect(state.holds).to.deep.equal([{ portfolio_id: p, security_id: null, held: "8.50000000" }]);
    const { rows } = await db.knex.raw("select symbol from accounting.security_symbols where security_id = ?", [s]);
    expect(rows).to.deep.equal([{ symbol: buy.symbol }]);
  });

  it("posts a batch of several fills of two portfolios in five statements, storing what posting them one by one stores", async () => {
    // The same fills twice, on two pairs of fresh portfolios: once as one batch, once as batches of one.
    const scenario = async () => {
      const [p1, p2, s1, s2] = [id24(), id24(), id24(), id24()];
      await deposit(p1, "5000");
      await deposit(p2, "1000");
      await buyOutright(p2, s2, "20", "10");
      await hold(p1, `buy-${p1}`, null, "2100");
      await hold(p2, `sell-${p2}`, s2, "15");
      const fills = [
        fill(p1, s1, "BUY", "10", "100", `buy-${p1}`),
        fill(p2, s2, "SELL", "5", "12", `sell-${p2}`),
        // The buy order's last fill: what its hold kept beyond the fills (a price buffer) is released.
        fill(p1, s1, "BUY", "5", "101", `buy-${p1}`, { closesReservation: true }),
        fill(p2, s2, "SELL", "10", "13", `sell-${p2}`, { closesReservation: true }),
        fill(p1, s2, "BUY", "1", "50", `none-${p1}`), // no hold: paid from free cash
      ];
      return { portfolios: [p1, p2], securities: [s1, s2], fills };
    };
    const together = await scenario();
    const alone = await scenario();

    const { result, statements } = await statementsOf(() => post(together.fills));
    expect(statements).to.have.length(5);
    expect(result.map((r) => r.kind)).to.deep.equal(["POSTED", "POSTED", "POSTED", "POSTED", "POSTED"]);
    for (const f of alone.fills) {
      const one = await statementsOf(() => post([f]));
      expect(one.statements).to.have.length(5);
    }

    const [p1, p2] = together.portfolios;
    const [s1, s2] = together.securities;
    const batch = await stored(together.portfolios);
    expect(batch.balances).to.deep.equal(
      [
        { portfolio_id: p1, security_id: null, q: "3442.00000000" }, // 5000 − 1001 − 506 − 51
        { portfolio_id: p1, security_id: s1, q: "15.00000000" },
        { portfolio_id: p1, security_id: s2, q: "1.00000000" },
        { portfolio_id: p2, security_id: null, q: "988.00000000" }, // 1000 − 200 + 59 + 129
        { portfolio_id: p2, security_id: s2, q: "5.00000000" },
      ].sort((a, b) => byText(a.portfolio_id, b.portfolio_id) || byText(a.security_id ?? "", b.security_id ?? "")),
    );
    expect(batch.realized).to.deep.equal([{ portfolio_id: p2, security_id: s2, pnl: "38.00000000" }]); // proceeds 59 + 129 − cost 15 × 10
    expect(batch.reservations).to.deep.equal(
      [
        { order_id: `buy-${p1}`, consumed: "1507.00000000", released: "593.00000000", status: "RELEASED" },
        { order_id: `sell-${p2}`, consumed: "15.00000000", released: "0.00000000", status: "CONSUMED" },
      ].sort((a, b) => (a.order_id < b.order_id ? -1 : 1)),
    );
    expect(batch.holds).to.deep.equal([]);

    // Posting the same fills one by one stores the same, up to the portfolio ids.
    const rename = (value: unknown): unknown =>
      JSON.parse(
        JSON.stringify(value)
          .replaceAll(alone.portfolios[0], "P1")
          .replaceAll(alone.portfolios[1], "P2")
          .replaceAll(alone.securities[0], "S1")
          .replaceAll(alone.securities[1], "S2")
          .replaceAll(together.portfolios[0], "P1")
          .replaceAll(together.portfolios[1], "P2")
          .replaceAll(together.securities[0], "S1")
          .replaceAll(together.securities[1], "S2"),
      );
    const sortRows = (state: Awaited<ReturnType<typeof stored>>) =>
      Object.fromEntries(Object.entries(rename(state) as Record<string, unknown[]>).map(([k, rows]) => [k, rows.map((r) => JSON.stringify(r)).sort()]));
    expect(sortRows(await stored(alone.portfolios))).to.deep.equal(sortRows(batch));

    const { rows } = await db.knex.raw("select security_id, symbol from accounting.security_symbols where security_id = any(?::text[]) order by 1", [
      together.securities,
    ]);
    expect(rows).to.deep.equal(together.securities.map((s) => ({ security_id: s, symbol: together.fills.find((f) => f.securityId === s)?.symbol })).sort((a, b) => (a.security_id < b.security_id ? -1 : 1)));
  });

  it("answers ALREADY_POSTED for a fill delivered again and writes nothing, alone or beside a new fill", async () => {
    const [p, s] = [id24(), id24()];
    await deposit(p, "10000");
    await hold(p, `o-${p}`, null, "3000");
    const first = fill(p, s, "BUY", "10", "100", `o-${p}`);
    const [posted] = await post([first]);
    if (posted.kind !== "POSTED") throw new Error("the first delivery was not posted");
    const before = await stored([p]);

    const again = await statementsOf(() => post([first]));
    expect(again.result).to.deep.equal([{ kind: "ALREADY_POSTED", existingTransactionId: posted.transaction.id }]);
    expect(again.statements).to.have.length(4); // BEGIN, lock, read, COMMIT: nothing to write
    expect(await stored([p])).to.deep.equal(before);

    const second = fill(p, s, "BUY", "10", "100", `o-${p}`, { closesReservation: true });
    const mixed = await statementsOf(() => post([first, second]));
    expect(mixed.statements).to.have.length(5);
    expect(mixed.result.map((r: PostFillResult) => r.kind)).to.deep.equal(["ALREADY_POSTED", "POSTED"]);
    const after = await stored([p]);
    expect(after.reservations).to.deep.equal([{ order_id: `o-${p}`, consumed: "2002.00000000", released: "998.00000000", status: "RELEASED" }]);
    expect(after.balances[0]).to.deep.equal({ portfolio_id: p, security_id: null, q: "7998.00000000" });
  });

  it("refuses a lone fill its hold and the free balance cannot cover, naming the fill, and stores nothing", async () => {
    const [p, s, other] = [id24(), id24(), id24()];
    await deposit(p, "1000");
    await hold(p, `o-${p}`, null, "500");
    await hold(p, `other-${p}`, null, "400"); // another order's hold, which the fill must not eat
    const before = await stored([p]);
    const buy = fill(p, s, "BUY", "6", "100", `o-${p}`);

    const error = await refusal(post([buy]));
    expect(error.code).to.equal("INSUFFICIENT_FUNDS");
    // 601 needed; the hold covers 500 and the free balance (1000 − 900 held) 100.
    expect(error.message).to.equal(`fill ${buy.fillId} needs 601 cash but its reservation and the free balance cover only 600`);
    expect(error.metadata).to.deep.equal({ fill_id: buy.fillId, reservation_remaining: "500" });
    expect(await stored([p])).to.deep.equal(before);

    await buyOutright(p, other, "3", "1");
    const sell = fill(p, other, "SELL", "4", "1", `none-${p}`);
    const short = await refusal(post([sell]));
    expect(short.code).to.equal("INSUFFICIENT_POSITION");
    expect(short.message).to.equal(`fill ${sell.fillId} needs 4 units of ${other} but its reservation and the free balance cover only 3`);
    expect(short.metadata).to.deep.equal({ fill_id: sell.fillId, reservation_remaining: "0" });
  });

  it("refuses a batch whose fills together overdraw a row, naming them, and stores nothing of the batch", async () => {
    const [p, s] = [id24(), id24()];
    await deposit(p, "1000");
    const before = await stored([p]);
    const fills = [fill(p, s, "BUY", "4", "100", `a-${p}`), fill(p, s, "BUY", "6", "100", `b-${p}`)];
    const error = await refusal(post(fills));
    expect(error.code).to.equal("INSUFFICIENT_FUNDS");
    expect(error.message).to.equal(`fills ${fills[0].fillId}, ${fills[1].fillId} need 1002 cash but their reservations and the free balance cover only 1000`);
    expect(await stored([p])).to.deep.equal(before);
  });
});

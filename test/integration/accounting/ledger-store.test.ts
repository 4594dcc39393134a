// The Postgres ledger store under PostTransactions: what the hot path's shortcuts must not change (a source id
// raced by two batches, lots of positions opened in an earlier batch, the id columns' collation).
import { randomBytes } from "node:crypto";
import { expect } from "chai";
import { createLedgerStore } from "../../../services/accounting/adapters/ledger-store";
import { defaultCollationIsByteOrder } from "../../../services/accounting/migrations/0004-byte-order-ids";
import { postTransactions } from "../../../services/accounting/domain/post-transactions";
import type { TransactionInput } from "../../../services/accounting/domain/validate-transaction";
import type { WithLedgerSession } from "../../../services/accounting/domain/ledger-session";
import { type Database } from "../../../services/platform/database";
import { openAccountingDatabase, type AccountingTestDatabase } from "../../support/accounting-database";

const id24 = () => randomBytes(12).toString("hex");

/** Resolves once a session of the test database waits for a lock held by another. */
async function waitForLockWait(db: Database): Promise<void> {
  for (let attempt = 0; attempt < 500; attempt++) {
    const { rows } = await db.knex.raw(
      "select count(*)::int as n from pg_stat_activity where datname = current_database() and wait_event_type = 'Lock'",
    );
    if (rows[0].n > 0) return;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  throw new Error("no session waited for a lock");
}

describe("accounting adapters: the ledger store", function () {
  this.timeout(60_000);
  let ledger: AccountingTestDatabase;
  let db: Database;
  let withLedgerSession: WithLedgerSession;

  before(async () => {
    ledger = await openAccountingDatabase(8);
    db = ledger.db;
    withLedgerSession = createLedgerStore(db.knex, "accounting");
  });

  after(async () => {
    await ledger?.close();
  });

  const item = (portfolioId: string, securityId: string | null, sourceId: string, transactionType: string, quantity: string, price: string): TransactionInput => ({
    portfolioId,
    securityId,
    sourceId,
    transactionType,
    quantity,
    price,
    transactionDate: "20240130",
  });

  it("reruns a batch whose source id another writer committed meanwhile, and reports DUPLICATE_SOURCE_ID naming that row", async function () {
    // Two open transactions at once need a real server: the embedded one has a single session.
    if (!process.env.DATABASE_URL) this.skip();
    const [p, s, other] = [id24(), id24(), id24()];
    const sourceId = `race-${p}`;
    // Another writer inserts the source id and keeps its transaction open: the batch's lookup does not see the row,
    // so its insert waits on the unique index until the writer commits, then fails and the batch reruns.
    const writer = await db.knex.transaction();
    const { rows } = await writer.raw(
      `insert into accounting.transactions (id, portfolio_id, security_id, source_id, status, transaction_type, quantity, price, transaction_date)
       values (nextval('accounting.transactions_id_seq'), ?, null, ?, 'PROC', 'DEP', 5, 1, '2024-01-30') returning id`,
      [other, sourceId],
    );
    const posting = postTransactions({ withLedgerSession }, [item(p, null, `dep-${p}`, "DEP", "100", "1"), item(p, s, sourceId, "BUY", "1", "10")]);
    await waitForLockWait(db);
    await writer.commit();
    const result = await posting;

    expect(result.items[0].ok).to.equal(true);
    const raced = result.items[1];
    if (raced.ok) throw new Error("the raced item was posted");
    expect(raced.reason).to.equal("DUPLICATE_SOURCE_ID");
    expect(raced.existingTransactionId).to.equal(String(rows[0].id));
    const { rows: stored } = await db.knex.raw(
      "select count(*)::int as n, count(*) filter (where portfolio_id = ?)::int as mine from accounting.transactions where source_id = any(?::text[])",
      [p, [sourceId, `dep-${p}`]],
    );
    expect(stored[0]).to.deep.equal({ n: 2, mine: 1 }); // the writer's row and the batch's deposit, once each
    const { rows: balances } = await db.knex.raw("select quantity_long::text as q from accounting.balances where portfolio_id = ?", [p]);
    expect(balances).to.deep.equal([{ q: "100.00000000" }]); // the first attempt's writes were rolled back
  });

  it("closes lots opened by an earlier batch and keeps a new position's lots apart from an old one's", async () => {
    const [p, held, fresh] = [id24(), id24(), id24()];
    await postTransactions({ withLedgerSession }, [item(p, held, `b1-${p}`, "BUY", "10", "5"), item(p, held, `b2-${p}`, "BUY", "10", "7")]);
    const second = await postTransactions({ withLedgerSession }, [
      item(p, held, `s1-${p}`, "SELL", "15", "8"),
      item(p, fresh, `b3-${p}`, "BUY", "4", "2"),
      item(p, fresh, `s2-${p}`, "SELL", "1", "3"),
    ]);
    expect(second.summary.successful).to.equal(3);

    const { rows: lots } = await db.knex.raw(
      "select security_id, quantity::text as quantity, cost::text as cost from accounting.tax_lots where portfolio_id = ? order by security_id = ?, seq",
      [p, fresh],
    );
    expect(lots.map((l: { quantity: string; cost: string }) => [l.quantity, l.cost])).to.deep.equal([
      ["5.00000000", "35.00000000"], // FIFO: the 5 left of the lot bought at 7
      ["3.00000000", "6.00000000"],
    ]);
    const { rows: realized } = await db.knex.raw(
      "select sum(realized_pnl)::text as pnl from accounting.lot_closures where portfolio_id = ? and security_id = ?",
      [p, held],
    );
    expect(realized[0].pnl).to.equal("35.00000000"); // 15 × 8 − (10 × 5 + 5 × 7)
  });

  it("compares the ledger's id columns as bytes where the database's default collation already orders that way", async () => {
    const idColumns = [
      "transactions.portfolio_id", "transactions.security_id", "transactions.source_id",
      "balances.portfolio_id", "balances.security_id",
      "tax_lots.portfolio_id", "tax_lots.security_id", "tax_lots.side", "tax_lots.lot_id",
      "lot_closures.portfolio_id", "lot_closures.security_id",
      "portfolio_settings.portfolio_id",
    ];
    const { rows } = await db.knex.raw(
      `select table_name, column_name, collation_name from information_schema.columns
        where table_schema = 'accounting' and table_name || '.' || column_name = any(?::text[])`,
      [idColumns],
    );
    expect(rows).to.have.length(idColumns.length);
    const expected = (await defaultCollationIsByteOrder(db.knex)) ? "C" : null;
    for (const row of rows as { table_name: string; column_name: string; collation_name: string | null }[]) {
      expect(row.collation_name, `${row.table_name}.${row.column_name}`).to.equal(expected);
    }
  });

  it("stores source ids with quotes and backslashes as sent, through named statements of every write shape", async () => {
    // db.prepared names the statements as the service does (a no-op on the embedded server); the batches below write
    // different sets of CTEs, each later one reading the rows and lots the earlier ones stored.
    const named = createLedgerStore(db.knex, "accounting", db.prepared);
    const [p, s] = [id24(), id24()];
    const odd = [`q"${p}`, `b\\${p}`, `q"b\\${p}`];
    const first = await postTransactions({ withLedgerSession: named }, [
      item(p, null, odd[0], "DEP", "1000", "1"),
      item(p, s, odd[1], "BUY", "10", "5"),
      item(p, s, odd[2], "BUY", "10", "6"),
    ]);
    expect(first.items.map((i) => i.ok)).to.deep.equal([true, true, true]);
    for (let round = 0; round < 3; round++) {
      // Half the first lot, the rest of it, then half the second: lot updates, a delete and realizations.
      const sold = await postTransactions({ withLedgerSession: named }, [item(p, s, `sell-${round}-${p}`, "SELL", "5", "7")]);
      expect(sold.items[0].ok, `round ${round}`).to.equal(true);
    }
    const again = await postTransactions({ withLedgerSession: named }, [item(p, null, odd[2], "DEP", "1", "1")]);
    expect(again.items[0]).to.include({ ok: false, reason: "DUPLICATE_SOURCE_ID" });
    const { rows } = await db.knex.raw("select source_id from accounting.transactions where portfolio_id = ? and source_id = any(?::text[]) order by id", [p, odd]);
    expect(rows.map((r: { source_id: string }) => r.source_id)).to.deep.equal(odd);
    const { rows: lots } = await db.knex.raw("select quantity::text from accounting.tax_lots where portfolio_id = ? order by seq", [p]);
    expect(lots.map((r: { quantity: string }) => r.quantity)).to.deep.equal(["5.00000000"]);
  });
});

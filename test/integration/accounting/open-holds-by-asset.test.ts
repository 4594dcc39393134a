// Open holds are totalled per portfolio and asset (cash, or one security) wherever a balance's availability is
// decided: a new hold (place_hold), a withdrawal, a fill batch's check, and the balances view. Each total must count
// only the holds of its own asset, and each must be an index probe on both the portfolio and the asset, so that a
// portfolio with thousands of resting orders does not read all of their holds for every one of them.
import { randomBytes, randomUUID } from "node:crypto";
import { expect } from "chai";
import Decimal from "decimal.js";
import { Client } from "pg";
import { createLedgerQueries, type LedgerQueries } from "../../../services/accounting/adapters/ledger-queries";
import { createLedgerStore } from "../../../services/accounting/adapters/ledger-store";
import { createReservationHolds } from "../../../services/accounting/adapters/reservation-holds";
import { AccountingError } from "../../../services/accounting/domain/accounting-error";
import { DEFAULT_DAILY_CASH_LIMITS } from "../../../services/accounting/domain/cash-movements";
import type { Fill } from "../../../services/accounting/domain/fill-event";
import type { WithLedgerSession } from "../../../services/accounting/domain/ledger-session";
import { createReservation, releaseReservationById, type ReservationHolds } from "../../../services/accounting/domain/manage-reservations";
import { postFills } from "../../../services/accounting/domain/post-fill";
import { postTransactions } from "../../../services/accounting/domain/post-transactions";
import { recordCashMovement } from "../../../services/accounting/domain/record-cash-movement";
import { connectionSettings, type Database } from "../../../services/platform/database";
import { openAccountingDatabase, type AccountingTestDatabase } from "../../support/accounting-database";
import { isEmbeddedPostgresVersion } from "../../../services/platform/embedded-postgres";
import { defaultCollationIsByteOrder } from "../../../services/accounting/migrations/0004-byte-order-ids";

const id24 = () => randomBytes(12).toString("hex");
/** Open holds the crowded portfolio has in other assets than the one probed. */
const OTHER_OPEN_HOLDS = 20_000;

// Once on the test database as the server creates it (C.UTF-8 here: migration 0004 makes the ledger's ids compare as
// bytes, and 0006 gives the reservations' ids the same collation), and once, on a real server, on a database whose
// default collation is linguistic (ICU en-US), where both migrations leave the ids in that collation.
const DATABASES: { title: string; icuLocale?: string }[] = [
  { title: "" },
  { title: ", in a database with a linguistic default collation (ICU en-US)", icuLocale: "en-US" },
];

for (const database of DATABASES) {
  describe(`accounting: open holds are totalled per asset, through the index${database.title}`, function () {
    this.timeout(120_000);
    let ledger: AccountingTestDatabase;
    let db: Database;
    let withLedgerSession: WithLedgerSession;
    let reservationHolds: ReservationHolds;
    let queries: LedgerQueries;
    const now = () => new Date();

    before(async function () {
      // A database with an ICU default collation can only be created on a real server.
      if (database.icuLocale !== undefined && !process.env.DATABASE_URL) this.skip();
      ledger = await openAccountingDatabase(4, { icuLocale: database.icuLocale });
      db = ledger.db;
      // Wired as main.ts wires them, named statements included.
      withLedgerSession = createLedgerStore(db.knex, "accounting", db.prepared);
      reservationHolds = createReservationHolds(db.knex, "accounting", db.prepared);
      queries = createLedgerQueries(db.knex, "accounting");
    });

    after(async () => {
      await ledger?.close();
    });

    async function post(portfolioId: string, securityId: string | null, type: "DEP" | "BUY", quantity: string, price: string): Promise<void> {
      const result = await postTransactions({ withLedgerSession }, [
        { portfolioId, securityId, sourceId: `${type}-${randomUUID()}`, transactionType: type, quantity, price, transactionDate: "20250701" },
      ]);
      expect(result.summary.successful).to.equal(1);
    }

    const hold = (portfolioId: string, securityId: string | null, amount: string, orderId = `o-${randomUUID()}`) =>
      createReservation({ reservationHolds, now, newId: randomUUID }, { portfolioId, orderId, securityId, amount });

    const withdraw = (portfolioId: string, amount: string) =>
      recordCashMovement(
        { withLedgerSession, limits: DEFAULT_DAILY_CASH_LIMITS, now },
        { portfolioId, kind: "WITHDRAWAL", amount, idempotencyKey: `wd-${randomUUID()}`, transactionDate: "" },
      );

    function fill(portfolioId: string, securityId: string, side: "BUY" | "SELL", quantity: string, price: string): Fill {
      const orderId = `unreserved-${randomUUID()}`;
      return {
        fillId: `fill-${randomUUID()}`,
        orderId,
        portfolioId,
        securityId,
        symbol: "ACME",
        side,
        quantity: new Decimal(quantity),
        price: new Decimal(price),
        fee: new Decimal(1),
        executedAt: new Date("2025-07-01T14:30:00Z"),
        reservationId: orderId,
      };
    }

    async function refusal(work: Promise<unknown>): Promise<AccountingError> {
      try {
        await work;
      } catch (error) {
        if (error instanceof AccountingError) return error;
        throw error;
      }
      throw new Error("expected a refusal");
    }

    if (database.icuLocale !== undefined) {
      it("keeps the ids in the database's own collation: migrations 0004 and 0006 change them only under a byte-order one", async () => {
        expect(await defaultCollationIsByteOrder(db.knex)).to.equal(false);
        const { rows } = await db.knex.raw<{ rows: { table_name: string; column_name: string; collation_name: string | null }[] }>(
          `select table_name, column_name, collation_name from information_schema.columns
            where table_schema = 'accounting' and table_name in ('reservations', 'balances') and column_name in ('portfolio_id', 'security_id')
            order by 1, 2`,
        );
        expect(rows.map((r) => `${r.table_name}.${r.column_name} ${r.collation_name ?? "default"}`)).to.deep.equal([
          "balances.portfolio_id default",
          "balances.security_id default",
          "reservations.portfolio_id default",
          "reservations.security_id default",
        ]);
      });
    }

    describe("results", () => {
      // p: cash 9,700 (10,000 − 100 × 1 − 40 × 5), 100 units of s1, 40 of s2. Open holds: cash 4,000 + 5,000,
      // s1 60 + 30, s2 15; a released hold of s1 counts no more. q holds s1 and cash too, which p must never see.
      const [p, q, s1, s2] = [id24(), id24(), id24(), id24()];

      before(async () => {
        await post(p, null, "DEP", "10000", "1");
        await post(p, s1, "BUY", "100", "1");
        await post(p, s2, "BUY", "40", "5");
        await hold(p, null, "4000");
        await hold(p, null, "5000");
        await hold(p, s1, "60");
        await hold(p, s1, "30");
        await hold(p, s2, "15");
        const released = await hold(p, s1, "5");
        await releaseReservationById({ reservationHolds, now, newId: randomUUID }, released.reservation.reservationId);
        await post(q, null, "DEP", "1000", "1");
        await post(q, s1, "BUY", "100", "1");
        await hold(q, s1, "80");
        await hold(q, null, "500");
      });

      it("shows each balance row what the open holds of its own asset reserve", async () => {
        const reserved = async (portfolioId: string, securityId: string | null) => {
          const balance = await queries.getBalanceByKey(portfolioId, securityId);
          return [balance?.quantityLong.toFixed(), balance?.reserved.toFixed()];
        };
        expect(await reserved(p, null)).to.deep.equal(["9700", "9000"]);
        expect(await reserved(p, s1)).to.deep.equal(["100", "90"]);
        expect(await reserved(p, s2)).to.deep.equal(["40", "15"]);
        expect(await reserved(q, null)).to.deep.equal(["900", "500"]);
        expect(await reserved(q, s1)).to.deep.equal(["100", "80"]);

        const list = await queries.listBalances({
          portfolioIds: [p, q], portfolioId: null, securityId: null, cashOnly: false, nonZeroOnly: false, zeroOnly: false,
          lastUpdatedFrom: null, lastUpdatedTo: null, sort: [], offset: 0, limit: 50,
        });
        const rows = list.items.map((b) => [b.portfolioId === p ? "p" : "q", b.securityId === null ? "cash" : b.securityId === s1 ? "s1" : "s2", b.reserved.toFixed()]);
        expect(rows.sort()).to.deep.equal([["p", "cash", "9000"], ["p", "s1", "90"], ["p", "s2", "15"], ["q", "cash", "500"], ["q", "s1", "80"]]);
        expect(list.total).to.equal(5);
      });

      it("refuses a new hold beyond balance minus the open holds of the same asset only", async () => {
        const cash = await refusal(hold(p, null, "700.01"));
        expect([cash.code, cash.metadata.available]).to.deep.equal(["INSUFFICIENT_FUNDS", "700"]);
        const units1 = await refusal(hold(p, s1, "10.00000001"));
        expect([units1.code, units1.metadata.available]).to.deep.equal(["INSUFFICIENT_POSITION", "10"]);
        const units2 = await refusal(hold(p, s2, "25.5"));
        expect([units2.code, units2.metadata.available]).to.deep.equal(["INSUFFICIENT_POSITION", "25"]);
        // q's 80 held units of s1 are not p's: p's s1 still has 10 available (and q's 20 are q's alone).
        const q1 = await refusal(hold(q, s1, "20.5"));
        expect(q1.metadata.available).to.equal("20");
      });

      it("lets a withdrawal take only the cash that no cash hold keeps", async () => {
        const error = await refusal(withdraw(p, "700.01"));
        expect([error.code, error.metadata.available]).to.deep.equal(["INSUFFICIENT_FUNDS", "700"]);
      });

      it("lets an unreserved fill take only what the open holds of its own asset leave free", async () => {
        const sell = fill(p, s1, "SELL", "11", "1");
        const units = await refusal(postFills({ withLedgerSession, now }, [sell]));
        expect(units.message).to.equal(`fill ${sell.fillId} needs 11 units of ${s1} but its reservation and the free balance cover only 10`);
        const buy = fill(p, s2, "BUY", "1", "700");
        const cash = await refusal(postFills({ withLedgerSession, now }, [buy]));
        expect(cash.message).to.equal(`fill ${buy.fillId} needs 701 cash but its reservation and the free balance cover only 700`);
      });
    });

    describe("plans, in a portfolio with 20,000 open holds in other assets", () => {
      const [crowded, target] = [id24(), id24()];
      let client: Client;
      let embedded = false;

      before(async () => {
        await post(crowded, null, "DEP", "10000", "1");
        await post(crowded, target, "BUY", "100", "1");
        await hold(crowded, target, "7");
        await hold(crowded, null, "3");
        // Stored directly, as many orders' holds would have been: a fifth cash, the rest over 40 other securities.
        await db.knex.raw(
          `insert into accounting.reservations (reservation_id, order_id, portfolio_id, security_id, amount, status, created_at, updated_at)
           select 'seed-' || g || '-' || ?, 'seed-' || g || '-' || ?, ?, case when g % 5 = 0 then null else lpad((g % 40)::text, 24, 'z') end,
                  0.01, 'OPEN', now(), now()
             from generate_series(1, ?::int) g`,
          [crowded, crowded, crowded, OTHER_OPEN_HOLDS],
        );
        await db.knex.raw("analyze accounting.reservations");
        client = new Client(connectionSettings(ledger.url));
        await client.connect();
        embedded = isEmbeddedPostgresVersion((await client.query<{ version: string }>("select version()")).rows[0].version);
      });

      after(async () => {
        await client?.end();
      });

      /** The statements `work` sends through the pool, with their bindings. */
      async function statementsOf(work: () => Promise<unknown>): Promise<{ sql: string; bindings: unknown[] }[]> {
        const statements: { sql: string; bindings: unknown[] }[] = [];
        const listener = (query: { sql: string; bindings?: unknown[] }) => statements.push({ sql: query.sql, bindings: query.bindings ?? [] });
        db.knex.on("query", listener);
        try {
          await work().catch(() => undefined);
          return statements;
        } finally {
          db.knex.removeListener("query", listener);
        }
      }

      async function planOf(statement: { sql: string; bindings: unknown[] }): Promise<PlanNode> {
        const { rows } = await client.query<{ "QUERY PLAN": { Plan: PlanNode }[] }>(`explain (format json) ${statement.sql}`, statement.bindings);
        return rows[0]["QUERY PLAN"][0].Plan;
      }

      it("withdrawal: the cash-hold total is an index probe on the portfolio and the asset", async () => {
        const statements = await statementsOf(() => withdraw(crowded, "1"));
        const probe = statements.filter((s) => s.sql.includes("sum(amount - consumed - released)"));
        expect(probe).to.have.length(1);
        expectOpenHoldProbe(await planOf(probe[0]));
      });

      it("fill batch: the read's open-hold totals are index probes on the portfolio and the asset", async () => {
        const statements = await statementsOf(() => postFills({ withLedgerSession, now }, [fill(crowded, target, "SELL", "1", "1"), fill(crowded, target, "BUY", "1", "1")]));
        const read = statements.filter((s) => s.sql.includes("found_reservations"));
        expect(read).to.have.length(1);
        expectOpenHoldProbe(await planOf(read[0]));
      });

      it("balances view: each row's held amount is an index probe on the portfolio and the asset", async () => {
        const byKey = await statementsOf(() => queries.getBalanceByKey(crowded, target));
        expect(byKey).to.have.length(1);
        expectOpenHoldProbe(await planOf(byKey[0]));
        const listed = await statementsOf(() =>
          queries.listBalances({
            portfolioIds: null, portfolioId: crowded, securityId: null, cashOnly: false, nonZeroOnly: false, zeroOnly: false,
            lastUpdatedFrom: null, lastUpdatedTo: null, sort: [], offset: 0, limit: 50,
          }),
        );
        const page = listed.filter((s) => / limit /i.test(s.sql));
        expect(page).to.have.length(1);
        expectOpenHoldProbe(await planOf(page[0]));
      });

      it("new hold: place_hold's open-hold total is an index probe on the portfolio and the asset", async function () {
        // The plan of a statement inside a function is only visible through auto_explain, which the embedded server
        // (PGlite, one session for every connection) does not load.
        if (embedded) this.skip();
        const notices: string[] = [];
        client.on("notice", (notice) => notices.push(notice.message ?? ""));
        await client.query("begin");
        try {
          await client.query("load 'auto_explain'");
          await client.query("set local auto_explain.log_min_duration = 0");
          await client.query("set local auto_explain.log_nested_statements = on");
          await client.query("set local auto_explain.log_level = notice");
          await client.query("set local auto_explain.log_format = json");
          // As the holds adapter calls it: one batch, here of one hold.
          const { rows } = await client.query<{ outcome: string; available: string }>(
            `select * from "accounting".hold_reservations($1::text[], $2::text[], $3::text[], $4::text[], $5::numeric[], $6::timestamptz[])`,
            [[randomUUID()], [`o-${randomUUID()}`], [crowded], [target], ["2"], [new Date().toISOString()]],
          );
          expect([rows[0].outcome, rows[0].available]).to.deep.equal(["CREATED", "91.00000000"]);
        } finally {
          await client.query("rollback");
          client.removeAllListeners("notice");
        }
        const plans = notices
          .map((message) => /plan:\s*(\{[\s\S]*\})\s*$/.exec(message)?.[1])
          .filter((json): json is string => json !== undefined)
          .map((json) => JSON.parse(json) as { "Query Text": string; Plan: PlanNode });
        const total = plans.filter((plan) => plan["Query Text"].includes("sum(r.amount - r.consumed - r.released)"));
        expect(total).to.have.length(1);
        expectOpenHoldProbe(total[0].Plan);
      });
    });
  });
}

type PlanNode = { [field: string]: unknown; Plans?: PlanNode[] };

function planNodes(node: PlanNode): PlanNode[] {
  return [node, ...(node.Plans ?? []).flatMap(planNodes)];
}

/**
 * The plan reads open holds through an index condition on both the portfolio and the asset key, and never filters
 * reservations by security afterwards (which is what a probe on the portfolio alone looks like).
 */
function expectOpenHoldProbe(plan: PlanNode): void {
  const onReservations = planNodes(plan).filter((n) => n["Relation Name"] === "reservations" || String(n["Index Name"] ?? "").startsWith("reservations"));
  const text = (n: PlanNode, field: string) => String(n[field] ?? "");
  const filtered = onReservations.filter((n) => /security_id/.test(text(n, "Filter")));
  expect(filtered.map((n) => text(n, "Filter")), "filters on security_id").to.deep.equal([]);
  const probes = onReservations.filter((n) => /security_id/.test(text(n, "Index Cond")));
  expect(probes, JSON.stringify(onReservations, null, 1)).to.have.length.greaterThan(0);
  for (const probe of probes) {
    expect(probe["Index Name"]).to.equal("reservations_open_by_asset");
    expect(text(probe, "Index Cond")).to.match(/portfolio_id = /);
    expect(text(probe, "Index Cond")).to.match(/COALESCE\(security_id, ''::text\) = /);
  }
}

import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect } from "chai";
import Decimal from "decimal.js";
import { Client } from "pg";
import { createTestDatabase, openDatabase, type Database, type TestDatabase } from "../../../services/platform/database";
import { startEmbeddedPostgres } from "../../../services/platform/embedded-postgres";

// Every behaviour is checked on the embedded server and, when DATABASE_URL is set, on a real Postgres: both must
// behave the same for the services built on them.
const backends: { name: string; create: () => Promise<TestDatabase> }[] = [
  { name: "embedded PGlite", create: () => createTestDatabase({ env: {} }) },
];
if (process.env.DATABASE_URL) {
  const baseUrl = process.env.DATABASE_URL;
  backends.push({ name: "real Postgres", create: () => createTestDatabase({ baseUrl }) });
} else if (process.env.REQUIRE_REAL_SERVICES === "1") {
  throw new Error("REQUIRE_REAL_SERVICES=1 but DATABASE_URL is not set");
}

/** A migration that records its own run in `<schema>.runs`, so a second run would show as a duplicate row. */
function writeMigration(dir: string, name: string, createsTable: boolean): void {
  const create = createsTable
    ? 'await knex.raw("create table ?? (id serial primary key, migration text not null)", [`${context.schema}.runs`]);'
    : "";
  writeFileSync(
    join(dir, `${name}.ts`),
    `export async function up(knex: any, context: { schema: string }) {
      ${create}
      await knex.raw("insert into ?? (migration) values (?)", [\`\${context.schema}.runs\`, ${JSON.stringify(name)}]);
    }\n`,
  );
}

async function runs(db: Database): Promise<string[]> {
  const rows = await db.knex.withSchema(db.schema).from("runs").orderBy("id").pluck("migration");
  return rows as string[];
}

async function rejection(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (error) {
    return error as Error;
  }
  throw new Error("expected the promise to reject");
}

describe("platform database", function () {
  this.timeout(60_000);
  let migrationsDir: string;

  before(() => {
    migrationsDir = mkdtempSync(join(tmpdir(), "tp-migrations-"));
    writeMigration(migrationsDir, "0001-create-runs", true);
    writeMigration(migrationsDir, "0002-second", false);
  });

  after(() => rmSync(migrationsDir, { recursive: true, force: true }));

  for (const backend of backends) {
    describe(backend.name, () => {
      let testDb: TestDatabase;
      const open: Database[] = [];

      async function openService(schema: string, dir?: string): Promise<Database> {
        const db = await openDatabase({ url: testDb.url, schema, migrationsDir: dir, poolMax: 4 });
        open.push(db);
        return db;
      }

      before(async () => {
        testDb = await backend.create();
      });

      after(async () => {
        await Promise.all(open.map((db) => db.close()));
        await testDb.drop();
      });

      it("runs each migration once, and after a restart only the new ones", async () => {
        const first = await openService("svc_restart", migrationsDir);
        expect(await runs(first)).to.deep.equal(["0001-create-runs", "0002-second"]);
        await first.close();

        const restarted = await openService("svc_restart", migrationsDir);
        expect(await runs(restarted)).to.deep.equal(["0001-create-runs", "0002-second"]);
        await restarted.close();

        const laterDir = mkdtempSync(join(tmpdir(), "tp-migrations-"));
        try {
          writeMigration(laterDir, "0001-create-runs", true);
          writeMigration(laterDir, "0002-second", false);
          writeMigration(laterDir, "0003-third", false);
          const upgraded = await openService("svc_restart", laterDir);
          expect(await runs(upgraded)).to.deep.equal(["0001-create-runs", "0002-second", "0003-third"]);
        } finally {
          rmSync(laterDir, { recursive: true, force: true });
        }
      });

      it("keeps each service's tables and migration history in its own schema", async () => {
        const orders = await openService("svc_orders", migrationsDir);
        const accounting = await openService("svc_accounting", migrationsDir);
        expect(await runs(orders)).to.have.length(2);
        expect(await runs(accounting)).to.have.length(2);

        const tables = await orders.knex
          .from("information_schema.tables")
          .whereIn("table_schema", ["svc_orders", "svc_accounting", "public"])
          .whereIn("table_name", ["knex_migrations", "runs"])
          .orderBy(["table_schema", "table_name"])
          .select("table_schema", "table_name");
        expect(tables).to.deep.equal([
          { table_schema: "svc_accounting", table_name: "knex_migrations" },
          { table_schema: "svc_accounting", table_name: "runs" },
          { table_schema: "svc_orders", table_name: "knex_migrations" },
          { table_schema: "svc_orders", table_name: "runs" },
        ]);
      });

      it("applies each migration once when replicas start at the same moment", async () => {
        const replicas = await Promise.all([1, 2, 3].map(() => openService("svc_replicas", migrationsDir)));
        expect(await runs(replicas[0])).to.deep.equal(["0001-create-runs", "0002-second"]);
      });

      it("prepares named statements on a real server only, and runs them", async () => {
        const db = await openService("svc_prepared");
        const options = db.prepared("echo");
        expect(options).to.deep.equal(backend.name === "real Postgres" ? { name: "svc_prepared.echo" } : {});
        // The same named statement twice on one pool: prepared once per connection, then reused.
        for (const value of ["a", "b"]) {
          const { rows } = await db.knex.raw<{ rows: { v: string }[] }>("select ?::text as v", [value]).options(options);
          expect(rows[0].v).to.equal(value);
        }
      });

      it("returns NUMERIC and BIGINT as exact strings, DATE as text and TIMESTAMPTZ as a Date", async () => {
        const db = await openService("svc_types");
        const [row] = (
          await db.knex.raw(
            `select ?::numeric as amount, ?::numeric as tiny, ?::bigint as big, ?::numeric[] as amounts,
                    ?::bigint[] as bigs, ?::date as trade_date, ?::timestamptz as at, 7::int as small`,
            [
              "12345678901234567890.123456789012345678",
              "-0.000000001",
              "9007199254740993",
              ["0.1", "100.2500"],
              ["9223372036854775807"],
              "2024-02-29",
              "2024-02-29T13:45:00.123Z",
            ],
          )
        ).rows;
        expect(row).to.deep.equal({
          amount: "12345678901234567890.123456789012345678",
          tiny: "-0.000000001",
          big: "9007199254740993",
          amounts: ["0.1", "100.2500"],
          bigs: ["9223372036854775807"],
          trade_date: "2024-02-29",
          at: new Date("2024-02-29T13:45:00.123Z"),
          small: 7,
        });

        await db.knex.raw("create table ?? (id serial primary key, amount numeric(38, 18) not null)", [
          "svc_types.money",
        ]);
        await db.knex.withSchema("svc_types").into("money").insert({ amount: "0.30000000000000000" });
        const stored = await db.knex.withSchema("svc_types").from("money").first("amount");
        expect(stored).to.deep.equal({ amount: "0.300000000000000000" });
      });

      it("serves two pools at once with isolated, all-or-nothing transactions", async () => {
        const a = await openService("svc_pool_a");
        const b = await openService("svc_pool_b");
        for (const db of [a, b]) {
          await db.knex.raw("create table ?? (id int primary key, balance numeric not null)", [`${db.schema}.accounts`]);
          await db.knex.withSchema(db.schema).into("accounts").insert({ id: 1, balance: "0" });
        }

        // Each transfer reads, then writes in several statements; every fourth rolls back. Both pools run their
        // transfers concurrently, so any leak between connections would show up in the totals.
        async function transfer(db: Database, i: number): Promise<void> {
          await db.knex
            .transaction(async (trx) => {
              const { balance } = await trx.withSchema(db.schema).from("accounts").where({ id: 1 }).forUpdate().first();
              await trx.raw("select pg_sleep(0.001)");
              const next = new Decimal(balance).plus("1.01").toFixed();
              await trx.withSchema(db.schema).from("accounts").where({ id: 1 }).update({ balance: next });
              if (i % 4 === 3) throw new Error("rolled back on purpose");
            })
            .catch((error: Error) => {
              if (error.message !== "rolled back on purpose") throw error;
            });
        }
        const work: Promise<void>[] = [];
        for (let i = 0; i < 40; i++) work.push(transfer(a, i), transfer(b, i));
        await Promise.all(work);

        for (const db of [a, b]) {
          const row = await db.knex.withSchema(db.schema).from("accounts").where({ id: 1 }).first("balance");
          expect(row).to.deep.equal({ balance: "30.3" });
        }
      });

      if (backend.name === "real Postgres") {
        it("makes a replica wait while another process holds the migration lock", async () => {
          const holder = new Client({ connectionString: testDb.url });
          await holder.connect();
          try {
            await holder.query("select pg_advisory_lock(hashtext('tradeplane.migrate.svc_waits'))");
            let opened = false;
            const opening = openService("svc_waits", migrationsDir).then((db) => {
              opened = true;
              return db;
            });
            await new Promise((resolve) => setTimeout(resolve, 300));
            expect(opened, "opened while the lock was held").to.equal(false);
            await holder.query("select pg_advisory_unlock(hashtext('tradeplane.migrate.svc_waits'))");
            expect(await runs(await opening)).to.deep.equal(["0001-create-runs", "0002-second"]);
          } finally {
            await holder.end();
          }
        });
      }

      it("probe resolves while the server answers and rejects once it is gone", async () => {
        const db = await openService("svc_probe");
        await db.probe();
        await Promise.all(open.filter((other) => other !== db).map((other) => other.close()));
        await testDb.drop();
        const error = await rejection(db.probe());
        expect(error).to.be.instanceOf(Error);
      });
    });
  }

  describe("embedded PGlite on disk", () => {
    let dataRoot: string;

    before(() => {
      dataRoot = mkdtempSync(join(tmpdir(), "tp-pgdata-"));
    });

    after(() => rmSync(dataRoot, { recursive: true, force: true }));

    it("keeps data and migration history across a restart and refuses a second opener", async () => {
      const dataDir = join(dataRoot, "pg");
      const first = await startEmbeddedPostgres({ dataDir });
      try {
        const error = await rejection(startEmbeddedPostgres({ dataDir }));
        expect(error.message).to.contain("already open");
        const db = await openDatabase({ url: first.url, schema: "svc_disk", migrationsDir });
        expect(await runs(db)).to.deep.equal(["0001-create-runs", "0002-second"]);
        await db.close();
      } finally {
        await first.stop();
      }

      const second = await startEmbeddedPostgres({ dataDir });
      try {
        const db = await openDatabase({ url: second.url, schema: "svc_disk", migrationsDir });
        expect(await runs(db)).to.deep.equal(["0001-create-runs", "0002-second"]);
        await db.close();
      } finally {
        await second.stop();
      }
    });
  });
});

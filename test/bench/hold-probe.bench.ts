// What a new hold costs in a portfolio crowded with resting orders: holds placed in a portfolio that already has
// 20,000 open holds in other assets (a fifth cash, the rest over 40 securities) against the same holds in a
// portfolio with none, same run, same code path (the holds adapter as main.ts wires it, `hold_reservations` →
// `place_hold`), with 1,000 other portfolios' holds in the table as well. Each hold totals the open holds of its own
// portfolio and asset; with an index condition on both, the other assets' holds cost nothing and the ratio stays near
// 1 (before migration 0006, which gave the probe its index condition on the asset: 2.8× one at a time, 4.7× batched).
//
// Two shapes, alternating crowded and empty in every round so drift on the shared machine hits both alike:
// - one at a time: a hold per call, awaited (one batch of one, one commit each); the ratio is of median latencies;
// - batched: many holds at once, which the adapter places in batches of up to 200 under one lock and one commit,
//   so the per-hold probe is most of the cost; the ratio is of total times.
// Every hold is in a security of its own (a fresh balance row), as resting orders in many names would be: its probe
// finds none of its own asset's holds, so what it costs beyond that is the other assets' holds it fails to skip.
//
// Database: real Postgres when DATABASE_URL is set (as in CI), else the embedded one; the line "database: ..."
// says which. Target: crowded / empty ≤ 1.5 for both shapes.
import { randomBytes, randomUUID } from "node:crypto";
import { loadavg } from "node:os";
import Decimal from "decimal.js";
import { createReservationHolds } from "../../services/accounting/adapters/reservation-holds";
import { proposedReservation } from "../../services/accounting/domain/reservation";
import { createTestDatabase, openDatabase } from "../../services/platform/database";
import { percentile, report } from "./support/report";

const OTHER_OPEN_HOLDS = Number(process.env.HOLD_PROBE_BENCH_OTHER_HOLDS ?? 20_000);
const ROUNDS = Number(process.env.HOLD_PROBE_BENCH_ROUNDS ?? 5);
/** Other portfolios in the ledger, each with a few open holds. */
const OTHER_PORTFOLIOS = 1000;
const OTHER_PORTFOLIO_HOLDS = 20;
/** Holds per round and portfolio placed one at a time. */
const SINGLE_HOLDS = 50;
/** Holds per round and portfolio placed at once. */
const BATCHED_HOLDS = 1000;
const TARGET_RATIO = 1.5;

const id24 = () => randomBytes(12).toString("hex");

async function main(): Promise<void> {
  const real = Boolean(process.env.DATABASE_URL);
  console.log(`  database: ${real ? "real PostgreSQL (DATABASE_URL)" : "embedded PGlite (DATABASE_URL not set)"}`);
  const testDb = await createTestDatabase();
  const db = await openDatabase({ url: testDb.url, schema: "accounting", migrationsDir: "services/accounting/migrations", poolMax: 8 });
  try {
    const holds = createReservationHolds(db.knex, "accounting", db.prepared);
    const [crowded, empty] = [id24(), id24()];
    await db.knex.raw(
      `insert into accounting.reservations (reservation_id, order_id, portfolio_id, security_id, amount, status, created_at, updated_at)
       select 'seed-' || g, 'seed-' || g, ?, case when g % 5 = 0 then null else lpad((g % 40)::text, 24, 'z') end, 1, 'OPEN', now(), now()
         from generate_series(1, ?::int) g`,
      [crowded, OTHER_OPEN_HOLDS],
    );
    // Other portfolios' holds, a few each, as a shared ledger has: without them the statistics would say each
    // portfolio owns half the table, and place_hold's cached generic plan would scan it all for every portfolio alike.
    await db.knex.raw(
      `insert into accounting.reservations (reservation_id, order_id, portfolio_id, security_id, amount, status, created_at, updated_at)
       select 'other-' || g, 'other-' || g, lpad((g % ?::int)::text, 24, 'p'), case when g % 5 = 0 then null else lpad((g % 40)::text, 24, 'z') end,
              1, 'OPEN', now(), now()
         from generate_series(1, ?::int) g`,
      [OTHER_PORTFOLIOS, OTHER_PORTFOLIOS * OTHER_PORTFOLIO_HOLDS],
    );
    // As autovacuum would have by the time a portfolio has this many holds.
    await db.knex.raw("analyze accounting.reservations");

    const hold = (portfolioId: string, securityId: string) =>
      holds.hold(proposedReservation({ reservationId: randomUUID(), orderId: randomUUID(), portfolioId, securityId, amount: new Decimal(1) }, new Date()));

    /** Fresh securities the portfolio owns plenty of, one per hold, so every hold is granted and probes only its own. */
    async function freshSecurities(portfolioId: string, n: number): Promise<string[]> {
      const securityIds = Array.from({ length: n }, id24);
      await db.knex.raw(
        "insert into accounting.balances (portfolio_id, security_id, quantity_long) select ?, s, 1000000 from unnest(?::text[]) s",
        [portfolioId, securityIds],
      );
      return securityIds;
    }

    async function oneAtATime(portfolioId: string): Promise<number[]> {
      const securityIds = await freshSecurities(portfolioId, SINGLE_HOLDS);
      const latenciesMs: number[] = [];
      for (const securityId of securityIds) {
        const started = performance.now();
        const outcome = await hold(portfolioId, securityId);
        latenciesMs.push(performance.now() - started);
        if (outcome.outcome !== "CREATED") throw new Error(`hold ${outcome.outcome}`);
      }
      return latenciesMs;
    }

    async function batched(portfolioId: string): Promise<number> {
      const securityIds = await freshSecurities(portfolioId, BATCHED_HOLDS);
      const started = performance.now();
      const outcomes = await Promise.all(securityIds.map((securityId) => hold(portfolioId, securityId)));
      const ms = performance.now() - started;
      if (outcomes.some((o) => o.outcome !== "CREATED")) throw new Error("a batched hold was not created");
      return ms;
    }

    // Warm-up: connections, named statements, plpgsql plan caches, in both portfolios.
    for (const p of [crowded, empty]) {
      await oneAtATime(p);
      await batched(p);
    }

    const single = { crowded: [] as number[], empty: [] as number[] };
    const batchMs = { crowded: [] as number[], empty: [] as number[] };
    for (let round = 0; round < ROUNDS; round++) {
      const order: ("crowded" | "empty")[] = round % 2 === 0 ? ["crowded", "empty"] : ["empty", "crowded"];
      for (const which of order) single[which].push(...(await oneAtATime(which === "crowded" ? crowded : empty)));
      for (const which of order) batchMs[which].push(await batched(which === "crowded" ? crowded : empty));
    }

    const median = (xs: number[]) => percentile(xs, 50);
    const singleRatio = median(single.crowded) / median(single.empty);
    const batchRatio = median(batchMs.crowded) / median(batchMs.empty);
    const perHoldUs = (ms: number) => (ms * 1000) / BATCHED_HOLDS;
    console.log(
      `  one at a time p50: crowded ${median(single.crowded).toFixed(2)} ms, empty ${median(single.empty).toFixed(2)} ms; ` +
        `batched per hold: crowded ${perHoldUs(median(batchMs.crowded)).toFixed(0)} µs, empty ${perHoldUs(median(batchMs.empty)).toFixed(0)} µs`,
    );
    report({
      name: "hold-probe",
      checks: [
        { label: `hold one at a time, p50 with ${OTHER_OPEN_HOLDS} other open holds vs none`, value: singleRatio, target: TARGET_RATIO, kind: "max" },
        { label: `${BATCHED_HOLDS} holds at once, time with ${OTHER_OPEN_HOLDS} other open holds vs none`, value: batchRatio, target: TARGET_RATIO, kind: "max" },
      ],
      measurements: {
        database: real ? "postgres" : "embedded",
        // The machine is shared: the 1-minute load average at the end says how contended the run was.
        loadAverage1m: loadavg()[0],
        otherOpenHolds: OTHER_OPEN_HOLDS,
        rounds: ROUNDS,
        singleHoldsPerRound: SINGLE_HOLDS,
        batchedHoldsPerRound: BATCHED_HOLDS,
        singleMs: {
          crowded: { p50: median(single.crowded), p90: percentile(single.crowded, 90), p99: percentile(single.crowded, 99) },
          empty: { p50: median(single.empty), p90: percentile(single.empty, 90), p99: percentile(single.empty, 99) },
        },
        batchedMs: { crowded: batchMs.crowded, empty: batchMs.empty },
        batchedPerHoldUs: { crowded: perHoldUs(median(batchMs.crowded)), empty: perHoldUs(median(batchMs.empty)) },
      },
    });
  } finally {
    await db.close();
    await testDb.drop();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});

// Reservations in Postgres. Holds go in batches: concurrent CreateReservation calls are placed by one call of
// `hold_reservations` (migration 0005), which takes each portfolio's lock once and commits once for the whole batch;
// a release is one call of `release_reservation` (migration 0003). Either way the portfolio lock is held for one
// function and its commit, never across network round trips.
import type { Knex } from "knex";
import type { Database } from "../../platform/database";
import { createBatcher, writeEachKeyOnce, type Settled } from "../../platform/batcher";
import type { ReservationHolds } from "../domain/manage-reservations";
import type { Reservation } from "../domain/reservation";
import { dec } from "../domain/money";
import { toReservation, type ReservationSqlRow } from "./ledger-rows";

/** Postgres unique_violation: the same order id was held for another portfolio at the same moment. */
const UNIQUE_VIOLATION = "23505";
/** Holds per batch: one function call; the batch's portfolios are locked until it commits. */
const MAX_HOLDS_PER_BATCH = 200;
/** Batches running at once (each on its own pooled connection). */
const MAX_HOLD_BATCHES_IN_FLIGHT = 4;

type HoldRow = ReservationSqlRow & { n: number; outcome: "CREATED" | "EXISTING" | "REFUSED"; available: string };
type HoldOutcome = Awaited<ReturnType<ReservationHolds["hold"]>>;

/** Creates the ReservationHolds over one knex pool and schema. */
export function createReservationHolds(knex: Knex, schema: string, prepared: Database["prepared"] = () => ({})): ReservationHolds {
  const call = (fn: string) => `"${schema}".${fn}`;

  async function holdAll(proposed: readonly Reservation[]): Promise<HoldOutcome[]> {
    const { rows } = await knex.raw<{ rows: HoldRow[] }>(
      `select * from ${call("hold_reservations")}(?::text[], ?::text[], ?::text[], ?::text[], ?::numeric[], ?::timestamptz[])`,
      [
        proposed.map((p) => p.reservationId),
        proposed.map((p) => p.orderId),
        proposed.map((p) => p.portfolioId),
        // null (a cash hold) travels as an SQL NULL element; knex's binding type only lacks the null.
        proposed.map((p) => p.securityId) as string[],
        proposed.map((p) => p.amount.toFixed()),
        proposed.map((p) => p.createdAt.toISOString()),
      ],
    ).options(prepared("hold_reservations"));
    const outcomes: HoldOutcome[] = new Array(proposed.length);
    for (const row of rows) {
      const available = dec(row.available);
      outcomes[row.n - 1] =
        row.outcome === "REFUSED" ? { outcome: "REFUSED", available } : { outcome: row.outcome, reservation: toReservation(row), available };
    }
    return outcomes;
  }

  /** The order id is unique across portfolios, whose locks differ: a statement that lost that race asks again and
   * finds the winner (EXISTING). */
  async function holdAllAfterRaces(proposed: readonly Reservation[]): Promise<HoldOutcome[]> {
    try {
      return await holdAll(proposed);
    } catch (error) {
      if ((error as { code?: string }).code !== UNIQUE_VIOLATION) throw error;
      return holdAll(proposed);
    }
  }

  // A batch that still fails is retried hold by hold (writeEachKeyOnce), so a bad hold fails alone.
  const hold = createBatcher<Reservation, Settled<HoldOutcome>>({
    maxBatch: MAX_HOLDS_PER_BATCH,
    maxInFlight: MAX_HOLD_BATCHES_IN_FLIGHT,
    run: (batch) => writeEachKeyOnce(batch, (proposed) => proposed.orderId, holdAllAfterRaces),
  });

  return {
    async hold(proposed) {
      const settled = await hold(proposed);
      if (!settled.ok) throw settled.error;
      return settled.value;
    },

    async release(idOrOrderId, now) {
      const { rows } = await knex.raw<{ rows: ReservationSqlRow[] }>(
        `select * from ${call("release_reservation")}(?, ?::timestamptz)`,
        [idOrOrderId, now.toISOString()],
      );
      return rows.length === 0 ? null : toReservation(rows[0]);
    },
  };
}

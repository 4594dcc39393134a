// Reservations in Postgres: each hold and each release is one call of a server-side function (migration 0003), so
// the portfolio lock they take is held for the function and its commit, not across several network round trips.
import type { Knex } from "knex";
import type { ReservationHolds } from "../domain/manage-reservations";
import { dec } from "../domain/money";
import { toReservation, type ReservationSqlRow } from "./ledger-store";

/** Postgres unique_violation: the same order id was held for another portfolio at the same moment. */
const UNIQUE_VIOLATION = "23505";

type HoldRow = ReservationSqlRow & { outcome: "CREATED" | "EXISTING" | "REFUSED"; available: string };

/** Creates the ReservationHolds over one knex pool and schema. */
export function createReservationHolds(knex: Knex, schema: string): ReservationHolds {
  const call = (fn: string) => `"${schema}".${fn}`;
  return {
    async hold(proposed) {
      const bindings = [
        proposed.reservationId,
        proposed.orderId,
        proposed.portfolioId,
        proposed.securityId,
        proposed.amount.toFixed(),
        proposed.createdAt.toISOString(),
      ];
      const sql = `select * from ${call("hold_reservation")}(?, ?, ?, ?, ?::numeric, ?::timestamptz)`;
      let rows: HoldRow[];
      try {
        ({ rows } = await knex.raw<{ rows: HoldRow[] }>(sql, bindings));
      } catch (error) {
        // The order id is unique across portfolios, whose locks differ: the loser asks again and finds the winner.
        if ((error as { code?: string }).code !== UNIQUE_VIOLATION) throw error;
        ({ rows } = await knex.raw<{ rows: HoldRow[] }>(sql, bindings));
      }
      const row = rows[0];
      const available = dec(row.available);
      if (row.outcome === "REFUSED") return { outcome: "REFUSED", available };
      return { outcome: row.outcome, reservation: toReservation(row), available };
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

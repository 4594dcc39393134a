// SubmitOrder idempotency keys in Postgres. The claim is one arbitrated statement (INSERT … ON CONFLICT), never a
// SELECT then INSERT, so concurrent submits with one key cannot both win.
import Decimal from "decimal.js";
import type { Knex } from "knex";
import type { Database } from "../../platform/database";
import type { IdempotencyKeys, KeyClaim } from "../domain/ports";

/** Options of the Postgres idempotency key store. */
export interface PgIdempotencyKeysOptions {
  knex: Knex;
  schema: string;
  /** How long a claim protects an unfinished submit before a retry may take it over. */
  leaseMs: number;
  /** Prepared-statement options for the claim, which runs on every submit (`Database.prepared`). */
  prepared?: Database["prepared"];
}

interface KeyRow {
  fingerprint: string;
  held_amount: string | null;
  order_id: string;
  completed: boolean;
  claimed: boolean;
  fresh: boolean;
}

/** Creates the Postgres-backed IdempotencyKeys. */
export function createPgIdempotencyKeys(options: PgIdempotencyKeysOptions): IdempotencyKeys {
  const { knex, leaseMs } = options;
  const table = `${options.schema}.idempotency_keys`;
  return {
    async claim(portfolioId, key, fingerprint, proposedOrderId, holdIfNew): Promise<KeyClaim> {
      // Inserted: a new claim. On conflict the row is taken over only when its lease ran out without an order and
      // the payload is the same (the retry keeps the row's order id, so its reserve and insert are no-ops).
      // Otherwise the existing row is returned unchanged. Keys are never reused: an order's key stays its own.
      const result = await knex.raw<{ rows: KeyRow[] }>(
        `with claimed as (
           insert into ?? as k (portfolio_id, idempotency_key, fingerprint, order_id, held_amount, lease_until)
           values (?, ?, ?, ?, ?::numeric, now() + ?::float8 * interval '1 millisecond')
           on conflict (portfolio_id, idempotency_key) do update set lease_until = excluded.lease_until
           where k.completed_at is null and k.lease_until < now() and k.fingerprint = excluded.fingerprint
           returning fingerprint, order_id::text, held_amount, completed_at is not null as completed, true as claimed,
             xmax = 0 as fresh
         )
         select * from claimed
         union all
         select fingerprint, order_id::text, held_amount, completed_at is not null, false, false from ??
         where portfolio_id = ? and idempotency_key = ? and not exists (select 1 from claimed)`,
        [table, portfolioId, key, fingerprint, proposedOrderId, holdIfNew?.toFixed() ?? null, leaseMs, table, portfolioId, key],
      ).options(options.prepared?.("claim_key") ?? {});
      const row = result.rows[0];
      // Lost a race with a row inserted after our statement's snapshot: ask again.
      if (row === undefined) return this.claim(portfolioId, key, fingerprint, proposedOrderId, holdIfNew);
      if (row.claimed) {
        const heldAmount = row.held_amount === null ? null : new Decimal(row.held_amount);
        return { kind: "claimed", orderId: row.order_id, heldAmount, fresh: row.fresh };
      }
      if (row.completed) return { kind: "completed", fingerprint: row.fingerprint, orderId: row.order_id };
      return { kind: "in_flight", fingerprint: row.fingerprint };
    },

    async recordHold(portfolioId, key, orderId, amount) {
      await knex.raw("update ?? set held_amount = ? where portfolio_id = ? and idempotency_key = ? and order_id = ?", [
        table,
        amount.toFixed(),
        portfolioId,
        key,
        orderId,
      ]);
    },

    async forget(portfolioId, key, orderId) {
      await knex.raw(
        "delete from ?? where portfolio_id = ? and idempotency_key = ? and order_id = ? and completed_at is null",
        [table, portfolioId, key, orderId],
      );
    },
  };
}

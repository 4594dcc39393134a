// SubmitOrder idempotency keys in Postgres. The claim is one arbitrated statement (INSERT … ON CONFLICT), never a
// SELECT then INSERT, so concurrent submits with one key cannot both win.
import type { Knex } from "knex";
import { IDEMPOTENCY_RETENTION_MS } from "../domain/idempotency-fingerprint";
import type { IdempotencyKeys, KeyClaim } from "../domain/ports";

/** Options of the Postgres idempotency key store. */
export interface PgIdempotencyKeysOptions {
  knex: Knex;
  schema: string;
  /** How long a claim protects an unfinished submit before a retry may take it over. */
  leaseMs: number;
}

interface KeyRow {
  fingerprint: string;
  order_id: string;
  completed: boolean;
  claimed: boolean;
}

/** Creates the Postgres-backed IdempotencyKeys. */
export function createPgIdempotencyKeys(options: PgIdempotencyKeysOptions): IdempotencyKeys {
  const { knex, leaseMs } = options;
  const table = `${options.schema}.idempotency_keys`;
  return {
    async claim(portfolioId, key, fingerprint, proposedOrderId): Promise<KeyClaim> {
      // Inserted: a new claim. On conflict the row is taken over only when its lease ran out without an order
      // (same payload: keep its order id, so the reserve and the insert of the retry are no-ops) or when the key
      // expired after its retention (a fresh start). Otherwise the existing row is returned unchanged.
      const result = await knex.raw<{ rows: KeyRow[] }>(
        `with claimed as (
           insert into ?? as k (portfolio_id, idempotency_key, fingerprint, order_id, lease_until, expires_at)
           values (?, ?, ?, ?, now() + ?::float8 * interval '1 millisecond', now() + ?::float8 * interval '1 millisecond')
           on conflict (portfolio_id, idempotency_key) do update set
             order_id = case when k.expires_at < now() then excluded.order_id else k.order_id end,
             fingerprint = excluded.fingerprint,
             completed_at = case when k.expires_at < now() then null else k.completed_at end,
             lease_until = excluded.lease_until,
             expires_at = excluded.expires_at
           where k.expires_at < now()
              or (k.completed_at is null and k.lease_until < now() and k.fingerprint = excluded.fingerprint)
           returning fingerprint, order_id::text, completed_at is not null as completed, true as claimed
         )
         select * from claimed
         union all
         select fingerprint, order_id::text, completed_at is not null, false from ??
         where portfolio_id = ? and idempotency_key = ? and not exists (select 1 from claimed)`,
        [
          table,
          portfolioId,
          key,
          fingerprint,
          proposedOrderId,
          leaseMs,
          IDEMPOTENCY_RETENTION_MS,
          table,
          portfolioId,
          key,
        ],
      );
      const row = result.rows[0];
      // Lost a race with a row inserted after our statement's snapshot: ask again.
      if (row === undefined) return this.claim(portfolioId, key, fingerprint, proposedOrderId);
      if (row.claimed) return { kind: "claimed", orderId: row.order_id };
      if (row.completed) return { kind: "completed", fingerprint: row.fingerprint, orderId: row.order_id };
      return { kind: "in_flight", fingerprint: row.fingerprint };
    },

    async forget(portfolioId, key, orderId) {
      await knex.raw(
        "delete from ?? where portfolio_id = ? and idempotency_key = ? and order_id = ? and completed_at is null",
        [table, portfolioId, key, orderId],
      );
    },
  };
}

/** Deletes keys past their retention, a bounded batch at a time; returns how many went. */
export async function pruneIdempotencyKeys(knex: Knex, schema: string, batch: number): Promise<number> {
  const result = await knex.raw<{ rowCount: number }>(
    `delete from ?? where (portfolio_id, idempotency_key) in (
       select portfolio_id, idempotency_key from ?? where expires_at < now() limit ?
     )`,
    [`${schema}.idempotency_keys`, `${schema}.idempotency_keys`, batch],
  );
  return result.rowCount;
}

// SubmitOrder idempotency keys in Postgres. A claim is an arbitrated statement (INSERT … ON CONFLICT), never a
// SELECT then INSERT, so concurrent submits with one key cannot both win.
import Decimal from "decimal.js";
import type { Knex } from "knex";
import { createBatcher, writeEachKeyOnce, type Settled } from "../../platform/batcher";
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
  type ClaimRequest = { portfolioId: string; key: string; fingerprint: string; proposedOrderId: string; holdIfNew: Decimal | null };

  // Claims of concurrent submits go in batches (one in flight; those arriving meanwhile form the next), one
  // statement per batch. Inserted: a new claim. On conflict the row is taken over only when its lease ran out
  // without an order and the payload is the same (the retry keeps the row's order id, so its reserve and insert are
  // no-ops). Otherwise the existing row is returned unchanged. Keys are never reused: an order's key stays its own.
  // Rows are claimed in key order, so two batches (of two instances) cannot deadlock on each other's new keys.
  const claims = createBatcher<ClaimRequest, Settled<KeyRow | undefined>>({
    maxBatch: 200,
    maxInFlight: 1,
    run: (batch) => writeEachKeyOnce(batch, (r) => `${r.portfolioId}\u0000${r.key}`, claimAll),
  });

  async function claimAll(requests: ClaimRequest[]): Promise<(KeyRow | undefined)[]> {
    const result = await knex.raw<{ rows: (KeyRow & { n: string })[] }>(
      `with input as (
         select * from unnest(?::text[], ?::text[], ?::text[], ?::uuid[], ?::numeric[])
           with ordinality as i(portfolio_id, idempotency_key, fingerprint, order_id, held_amount, n)
       ), claimed as (
         insert into ?? as k (portfolio_id, idempotency_key, fingerprint, order_id, held_amount, lease_until)
         select portfolio_id, idempotency_key, fingerprint, order_id, held_amount,
           now() + ?::float8 * interval '1 millisecond'
         from input order by portfolio_id, idempotency_key
         on conflict (portfolio_id, idempotency_key) do update set lease_until = excluded.lease_until
         where k.completed_at is null and k.lease_until < now() and k.fingerprint = excluded.fingerprint
         returning k.portfolio_id, k.idempotency_key, k.fingerprint, k.order_id::text, k.held_amount,
           k.completed_at is not null as completed, true as claimed, k.xmax = 0 as fresh
       )
       select i.n, c.fingerprint, c.order_id, c.held_amount, c.completed, c.claimed, c.fresh
       from input i join claimed c on c.portfolio_id = i.portfolio_id and c.idempotency_key = i.idempotency_key
       union all
       select i.n, k.fingerprint, k.order_id::text, k.held_amount, k.completed_at is not null, false, false
       from input i join ?? k on k.portfolio_id = i.portfolio_id and k.idempotency_key = i.idempotency_key
       where not exists (select 1 from claimed c where c.portfolio_id = i.portfolio_id and c.idempotency_key = i.idempotency_key)`,
      [
        requests.map((r) => r.portfolioId),
        requests.map((r) => r.key),
        requests.map((r) => r.fingerprint),
        requests.map((r) => r.proposedOrderId),
        requests.map((r) => r.holdIfNew?.toFixed() ?? null) as string[],
        table,
        leaseMs,
        table,
      ],
    ).options(options.prepared?.("claim_keys") ?? {});
    const rows: (KeyRow | undefined)[] = new Array(requests.length);
    for (const row of result.rows) rows[Number(row.n) - 1] = row;
    return rows;
  }

  return {
    async claim(portfolioId, key, fingerprint, proposedOrderId, holdIfNew): Promise<KeyClaim> {
      const settled = await claims({ portfolioId, key, fingerprint, proposedOrderId, holdIfNew });
      if (!settled.ok) throw settled.error;
      const row = settled.value;
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

// Finds abandoned submits fast: the claims that never became an order (completed_at null) by how long ago their
// lease ran out. Partial, so it holds only unfinished claims, not one row per order ever submitted.
import type { Knex } from "knex";
import type { MigrationContext } from "../../platform/database";

export async function up(knex: Knex, { schema }: MigrationContext): Promise<void> {
  await knex.raw("create index idempotency_keys_unfinished on ?? (lease_until) where completed_at is null", [
    `${schema}.idempotency_keys`,
  ]);
}

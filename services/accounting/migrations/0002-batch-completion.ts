// A send is "in progress" from the moment it claims its window until its file is imported, not only for the
// instant of the claim insert: `completed_at` marks the end, so a send arriving meanwhile is refused
// (BATCH_IN_PROGRESS) rather than starting a second window while the first file is still being imported.
// Batches recorded before this column existed are finished.
import type { Knex } from "knex";
import type { MigrationContext } from "../../platform/database";

export async function up(knex: Knex, { schema }: MigrationContext): Promise<void> {
  const table = `${schema}.batch_history`;
  await knex.raw("alter table ?? add column completed_at timestamptz", [table]);
  await knex.raw("update ?? set completed_at = start_time", [table]);
  await knex.raw("create index batch_history_open_ndx on ?? (start_time) where completed_at is null", [table]);
}

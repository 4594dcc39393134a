// Dead letters an operator re-drove with RetryDeadLetter: they leave the dead letter queue, so the record of the
// retry lives here (ListDeadLetters shows them as RETRIED; a second retry returns the record unchanged).
import type { Knex } from "knex";
import type { MigrationContext } from "../../platform/database";

export async function up(knex: Knex, { schema }: MigrationContext): Promise<void> {
  await knex.raw(
    `create table ?? (
      id uuid primary key,
      queue text not null,
      message_id text not null,
      routing_key text not null,
      payload text not null,
      reason text not null,
      attempts integer not null,
      first_failure_at timestamptz not null,
      last_failure_at timestamptz not null,
      headers jsonb not null default '{}'::jsonb,
      retried_at timestamptz not null
    )`,
    [`${schema}.dead_letter_retries`],
  );
}

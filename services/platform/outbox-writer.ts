// The outbox's writer side: the table a service creates in one of its migrations, and `enqueue`, which adds messages
// to it inside the business transaction (optionally leased for hand-off). The relay that publishes the rows, and how
// the two meet, is in outbox.ts, which re-exports all of this.
import type { Knex } from "knex";
import type { OutgoingMessage } from "./messaging";

export const OUTBOX_TABLE = "outbox";

/** Creates `<schema>.outbox`; call it from one of the service's migrations. */
export async function createOutboxTable(knex: Knex, schema: string): Promise<void> {
  const table = `${schema}.${OUTBOX_TABLE}`;
  await knex.raw(
    `create table ?? (
      id bigserial primary key,
      message_id text not null unique,
      routing_key text not null,
      body text not null,
      headers jsonb not null default '{}'::jsonb,
      schema_version integer not null,
      created_at timestamptz not null default now(),
      attempts integer not null default 0,
      next_attempt_at timestamptz not null default now(),
      published_at timestamptz,
      last_error text
    )`,
    [table],
  );
  // The relay scans unpublished rows by id; pruning looks up published rows by age. Both indexes stay small because
  // each covers only its half of the table.
  await knex.raw("create index ?? on ?? (id) where published_at is null", [`${OUTBOX_TABLE}_unpublished`, table]);
  await knex.raw("create index ?? on ?? (published_at) where published_at is not null", [
    `${OUTBOX_TABLE}_published_at`,
    table,
  ]);
}

/**
 * The `next_attempt_at` of a row inserted for hand-off: `now()` plus the bound lease in milliseconds (0: due at once).
 * A writer that inlines the outbox insert into its own statement uses it with the relay's `handOffLeaseMs`.
 */
export const LEASED_UNTIL_SQL = "now() + ?::float8 * interval '1 millisecond'";

/**
 * Adds messages to the outbox inside the caller's business transaction, in one statement whatever their number; ids
 * follow the order of `messages`. A `messageId` already in the outbox fails the statement (and so the transaction).
 */
export async function enqueue(
  trx: Knex.Transaction,
  schema: string,
  messages: readonly OutgoingMessage[],
  options: { leasedForMs?: number } = {},
): Promise<void> {
  if (messages.length === 0) return;
  await trx.raw(
    `insert into ?? (message_id, routing_key, body, headers, schema_version, next_attempt_at)
     select m.message_id, m.routing_key, m.body, m.headers::jsonb, m.schema_version, ${LEASED_UNTIL_SQL}
     from unnest(?::text[], ?::text[], ?::text[], ?::text[], ?::int[])
       with ordinality as m(message_id, routing_key, body, headers, schema_version, n)
     order by m.n`,
    [
      `${schema}.${OUTBOX_TABLE}`,
      options.leasedForMs ?? 0,
      messages.map((m) => m.messageId),
      messages.map((m) => m.routingKey),
      messages.map((m) => m.body),
      messages.map((m) => JSON.stringify(m.headers ?? {})),
      messages.map((m) => m.schemaVersion),
    ],
  );
}

// The outbox relay's SQL statements (see outbox.ts): claiming due rows under a lease, marking them published or failed
// by id or by message id, replaying recently published rows at start and pruning old ones, with the row shapes they
// read and write.
import type { Knex } from "knex";
import type { OutgoingMessage } from "./messaging";

const PRUNE_BATCH = 5_000;

export interface ClaimedRow {
  id: string;
  message_id: string;
  routing_key: string;
  body: string;
  headers: Record<string, unknown>;
  schema_version: number;
  attempts: number;
}

export interface Failure {
  /** The row's id or message id (see RowKey). */
  key: string;
  error: string;
  delayMs: number;
}

export async function claim(knex: Knex, table: string, batchSize: number, leaseMs: number): Promise<ClaimedRow[]> {
  const result = await knex.raw<{ rows: ClaimedRow[] }>(
    `update ?? as o
     set attempts = o.attempts + 1, next_attempt_at = now() + ?::float8 * interval '1 millisecond'
     from (
       select id from ?? where published_at is null and next_attempt_at <= now()
       order by id limit ? for update skip locked
     ) as due
     where o.id = due.id
     returning o.id, o.message_id, o.routing_key, o.body, o.headers, o.schema_version, o.attempts`,
    [table, leaseMs, table, batchSize],
  );
  // UPDATE ... RETURNING gives no order guarantee; ids are bigint strings.
  return result.rows.sort((a, b) => (BigInt(a.id) < BigInt(b.id) ? -1 : BigInt(a.id) > BigInt(b.id) ? 1 : 0));
}

/** How the relay names rows it marks: by id (rows it claimed) or by message id (rows handed off by their writer). */
export type RowKey = "id" | "message_id";
const KEY_TYPE: Record<RowKey, string> = { id: "bigint", message_id: "text" };

// A hand-off counts as an attempt when it is marked (a claim counts its attempt when it claims).
const countedAttempt = (key: RowKey) => (key === "message_id" ? ", attempts = o.attempts + 1" : "");

export async function markPublished(knex: Knex, table: string, key: RowKey, keys: readonly string[]): Promise<void> {
  if (keys.length === 0) return;
  await knex.raw(
    `update ?? as o set published_at = now(), last_error = null${countedAttempt(key)} where o.${key} = any(?::${KEY_TYPE[key]}[])`,
    [table, [...keys]],
  );
}

export async function markFailed(knex: Knex, table: string, key: RowKey, failures: readonly Failure[]): Promise<void> {
  if (failures.length === 0) return;
  const counted = countedAttempt(key);
  await knex.raw(
    `update ?? as o
     set last_error = f.error, next_attempt_at = now() + f.delay_ms * interval '1 millisecond'${counted}
     from unnest(?::${KEY_TYPE[key]}[], ?::text[], ?::float8[]) as f(key, error, delay_ms)
     where o.${key} = f.key`,
    [table, failures.map((f) => f.key), failures.map((f) => f.error), failures.map((f) => f.delayMs)],
  );
}

export async function markForReplay(knex: Knex, table: string, windowMs: number): Promise<number> {
  const result = await knex.raw<{ rowCount: number }>(
    `update ?? set published_at = null, next_attempt_at = now()
     where published_at > now() - ?::float8 * interval '1 millisecond'`,
    [table, windowMs],
  );
  return result.rowCount;
}

export async function prunePublished(knex: Knex, table: string, retentionMs: number): Promise<number> {
  let total = 0;
  // Bounded batches keep each delete short; a backlog is worked off over successive rounds.
  for (let round = 0; round < 10; round++) {
    const result = await knex.raw<{ rowCount: number }>(
      `delete from ?? where id in (
         select id from ?? where published_at < now() - ?::float8 * interval '1 millisecond' limit ?
       )`,
      [table, table, retentionMs, PRUNE_BATCH],
    );
    total += result.rowCount;
    if (result.rowCount < PRUNE_BATCH) break;
  }
  return total;
}

export function toMessage(row: ClaimedRow): OutgoingMessage {
  const headers: Record<string, string> = {};
  for (const [key, value] of Object.entries(row.headers ?? {})) headers[key] = String(value);
  return {
    messageId: row.message_id,
    routingKey: row.routing_key,
    schemaVersion: row.schema_version,
    body: row.body,
    headers,
  };
}

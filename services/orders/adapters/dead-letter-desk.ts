// The operator's view of the orders service's dead letter queues: what is parked in them (read from the broker, left
// in place) and what was re-driven (remembered in `<schema>.dead_letter_retries`, because a re-driven message leaves
// the dead letter queue).
import { createHash } from "node:crypto";
import type { Knex } from "knex";
import type { DeadLetter, DeadLetterAdmin } from "../../platform/broker-topology";

/** One dead letter as the API reports it. */
export interface DeadLetterView {
  id: string;
  queue: string;
  messageId: string;
  routingKey: string;
  payload: string;
  reason: string;
  attempts: number;
  firstFailureAt: Date;
  lastFailureAt: Date;
  status: "PENDING" | "RETRIED";
  retriedAt: Date | null;
  headers: Record<string, string>;
}

/** List and re-drive dead letters of a fixed set of work queues. */
export interface DeadLetterDesk {
  list(queue: string | null, status: "PENDING" | "RETRIED" | null, limit: number): Promise<DeadLetterView[]>;
  /** Re-drives a pending dead letter, or returns an already retried one unchanged; null when unknown. */
  retry(id: string): Promise<DeadLetterView | null>;
}

/** Longest dead letter queue scan per call (operators page through a bounded view). */
const SCAN_LIMIT = 1000;

/** Creates the desk over the broker's DeadLetterAdmin and the retries table. */
export function createDeadLetterDesk(options: {
  admin: DeadLetterAdmin;
  knex: Knex;
  schema: string;
  queues: readonly string[];
}): DeadLetterDesk {
  const { admin, knex, queues } = options;
  const table = `${options.schema}.dead_letter_retries`;

  async function pending(queue: string | null): Promise<DeadLetterView[]> {
    const names = queue === null ? queues : queues.filter((q) => q === queue);
    const lists = await Promise.all(names.map((name) => admin.readDeadLetters(name, SCAN_LIMIT)));
    return lists.flat().map(viewOf);
  }

  async function retried(queue: string | null): Promise<DeadLetterView[]> {
    const result = await knex.raw<{ rows: RetryRow[] }>(
      `select * from ?? where (?::text is null or queue = ?) order by retried_at desc limit ?`,
      [table, queue, queue, SCAN_LIMIT],
    );
    return result.rows.map(rowView);
  }

  return {
    async list(queue, status, limit) {
      const parked = status !== "RETRIED" ? await pending(queue) : [];
      const parkedIds = new Set(parked.map((view) => view.id));
      // A re-driven message that failed again is parked again under the same id: the parked copy is the truth.
      const redriven = status !== "PENDING" ? (await retried(queue)).filter((view) => !parkedIds.has(view.id)) : [];
      const views = [...parked, ...redriven];
      views.sort((a, b) => b.lastFailureAt.getTime() - a.lastFailureAt.getTime());
      return views.slice(0, limit);
    },

    async retry(id) {
      const parked = (await pending(null)).find((view) => view.id === id);
      if (parked === undefined) {
        const done = await knex.raw<{ rows: RetryRow[] }>("select * from ?? where id = ?", [table, id]);
        return done.rows.length === 0 ? null : rowView(done.rows[0]);
      }
      // Remember first, then move: if the move fails the row says RETRIED while the message is still parked, and
      // the next retry (which finds it parked) moves it; a message is never re-driven without a record.
      const retriedAt = new Date();
      await knex.raw(
        `insert into ?? (id, queue, message_id, routing_key, payload, reason, attempts, first_failure_at,
           last_failure_at, headers, retried_at)
         values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?::jsonb, ?)
         on conflict (id) do update set retried_at = excluded.retried_at, reason = excluded.reason,
           attempts = excluded.attempts, last_failure_at = excluded.last_failure_at`,
        [
          table,
          parked.id,
          parked.queue,
          parked.messageId,
          parked.routingKey,
          parked.payload,
          parked.reason,
          parked.attempts,
          parked.firstFailureAt,
          parked.lastFailureAt,
          JSON.stringify(parked.headers),
          retriedAt,
        ],
      );
      await admin.republishDeadLetter(parked.queue, parked.messageId);
      return { ...parked, status: "RETRIED", retriedAt };
    },
  };
}

interface RetryRow {
  id: string;
  queue: string;
  message_id: string;
  routing_key: string;
  payload: string;
  reason: string;
  attempts: number;
  first_failure_at: Date;
  last_failure_at: Date;
  headers: Record<string, string>;
  retried_at: Date;
}

/** A stable id per (queue, message id): the same parked message always has the same id. */
export function deadLetterId(queue: string, messageId: string): string {
  const hex = createHash("sha256").update(`${queue}\u0000${messageId}`).digest("hex");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-5${hex.slice(13, 16)}-a${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}

function viewOf(letter: DeadLetter): DeadLetterView {
  return {
    id: deadLetterId(letter.queue, letter.messageId),
    queue: letter.queue,
    messageId: letter.messageId,
    routingKey: letter.routingKey,
    payload: letter.body,
    reason: `${letter.kind}: ${letter.reason}`,
    attempts: Math.max(1, letter.attempts),
    // The broker keeps one timestamp per dead letter: when it was parked.
    firstFailureAt: letter.deadLetteredAt,
    lastFailureAt: letter.deadLetteredAt,
    status: "PENDING",
    retriedAt: null,
    headers: { ...letter.headers, "schema-version": String(letter.schemaVersion) },
  };
}

function rowView(row: RetryRow): DeadLetterView {
  return {
    id: row.id,
    queue: row.queue,
    messageId: row.message_id,
    routingKey: row.routing_key,
    payload: row.payload,
    reason: row.reason,
    attempts: row.attempts,
    firstFailureAt: row.first_failure_at,
    lastFailureAt: row.last_failure_at,
    status: "RETRIED",
    retriedAt: row.retried_at,
    headers: row.headers,
  };
}

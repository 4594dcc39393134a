// The transactional outbox: a service writes the messages it wants published into its own `<schema>.outbox` table in
// the same transaction as the business change, and a relay publishes them to the broker afterwards. A message is
// therefore published if and only if its transaction committed, at least once.
//
// The relay claims due rows in id order with FOR UPDATE SKIP LOCKED and leases them (pushes `next_attempt_at` past
// the publish timeout) in one short transaction, publishes outside any transaction, then marks the outcome. Holding no
// transaction while waiting on the broker matters on the embedded server, where an open transaction stops every other
// service's queries (see embedded-postgres.ts). Two relays never publish the same row at once: SKIP LOCKED keeps their
// claims apart and the lease keeps a claimed row out of the next claim. A confirm lost with the connection means the
// row is published again, so consumers deduplicate on `message_id`. Order is kept within a batch and between batches
// that succeed; a failed row is retried after rows that follow it.
//
// Waking up: polling every `pollIntervalMs`, plus `kick()` from the service right after its commit for low latency.
// LISTEN/NOTIFY is not used because the embedded server does not deliver notifications to idle connections.
//
// Hand-off: a writer on the hot path skips the relay's claim altogether. It inserts its rows already leased to itself
// (`handOffLeaseMs`) and, right after its commit, hands the same messages to `handOff()`, which publishes them and
// marks them published by message id. A row whose writer died before that falls due when the lease runs out and the
// relay publishes it like any other; a publish that fails is marked failed and left to the relay's retries. That
// saves the claim statement and a relay round trip on every hop, and its latency.
import type { Knex } from "knex";
import type { Logger } from "./logger";
import type { Broker, OutgoingMessage } from "./messaging";
import {
  claim,
  markFailed,
  markForReplay,
  markPublished,
  prunePublished,
  toMessage,
  type ClaimedRow,
  type Failure,
  type RowKey,
} from "./outbox-statements";
import { OUTBOX_TABLE } from "./outbox-writer";

export { OUTBOX_TABLE, createOutboxTable, LEASED_UNTIL_SQL, enqueue } from "./outbox-writer";

export interface OutboxRelayOptions {
  knex: Knex;
  schema: string;
  broker: Broker;
  logger?: Logger;
  /** Rows claimed and published concurrently per round. */
  batchSize: number;
  /** Wait between rounds when the outbox is drained and nobody kicks. */
  pollIntervalMs: number;
  /** A publish not confirmed within this long counts as failed and is retried. */
  publishTimeoutMs: number;
  /** Cap of the exponential wait before retrying a failed row. */
  maxBackoffMs: number;
  /** Published rows older than this are deleted (default 7 days). */
  retentionMs?: number;
  /** How often pruning runs (default 1 minute). */
  pruneIntervalMs?: number;
  /**
   * How long a row inserted for hand-off waits for its writer before the relay takes it over (default: the publish
   * timeout plus 5 s). Longer than the publish timeout, so a hand-off in progress is not published twice.
   */
  handOffLeaseMs?: number;
  /**
   * At start, rows published less than this long ago are published again (default 0: none). For the embedded
   * broker, which keeps nothing across a restart: the messages it still held are recovered from the outbox, and
   * consumers drop the copies they had already handled. Cover the longest retry delay of any queue.
   */
  replayWindowMs?: number;
}

export interface OutboxRelay {
  /** Wakes the relay now, e.g. right after a transaction that enqueued messages committed. */
  kick(): void;
  /** The lease a writer gives the rows it will hand off (`enqueue`'s `leasedForMs`, or `LEASED_UNTIL_SQL`). */
  readonly handOffLeaseMs: number;
  /**
   * Publishes messages whose rows a just-committed transaction inserted leased for hand-off, and marks them
   * published; a failed publish is left to the relay's retries. Call it in commit order: publishes start in call order.
   */
  handOff(messages: readonly OutgoingMessage[]): void;
  /** Finishes the round in flight (bounded by the publish timeout), then stops. */
  stop(): Promise<void>;
}

const RETRY_BASE_MS = 200;
/** Rounds whose confirms may be outstanding at once. */
const MAX_ROUNDS_IN_FLIGHT = 4;
// The lease outlives the publish timeout by this much, so a slow round is never re-claimed by another relay.
const LEASE_MARGIN_MS = 30_000;
const MAX_ERROR_LENGTH = 2_000;
const DEFAULT_RETENTION_MS = 7 * 24 * 60 * 60 * 1000;
const DEFAULT_PRUNE_INTERVAL_MS = 60_000;
const HAND_OFF_LEASE_MARGIN_MS = 5_000;

/** Starts relaying `<schema>.outbox` to the broker in the background. */
export function startOutboxRelay(options: OutboxRelayOptions): OutboxRelay {
  for (const key of ["batchSize", "pollIntervalMs", "publishTimeoutMs", "maxBackoffMs"] as const) {
    if (!Number.isInteger(options[key]) || options[key] <= 0) {
      throw new Error(`outbox relay: ${key} must be a positive integer, got ${options[key]}`);
    }
  }
  const { knex, schema, broker, logger, batchSize, pollIntervalMs } = options;
  const table = `${schema}.${OUTBOX_TABLE}`;
  const leaseMs = options.publishTimeoutMs + LEASE_MARGIN_MS;
  const retentionMs = options.retentionMs ?? DEFAULT_RETENTION_MS;
  const handOffLeaseMs = options.handOffLeaseMs ?? options.publishTimeoutMs + HAND_OFF_LEASE_MARGIN_MS;
  if (!(handOffLeaseMs > options.publishTimeoutMs)) {
    throw new Error(`outbox relay: handOffLeaseMs (${handOffLeaseMs}) must exceed publishTimeoutMs (${options.publishTimeoutMs})`);
  }
  const pruneIntervalMs = options.pruneIntervalMs ?? DEFAULT_PRUNE_INTERVAL_MS;

  let stopped = false;
  let kicked = false;
  let wake: (() => void) | undefined;
  let nextPruneAt = Date.now() + pruneIntervalMs;
  let replayPending = (options.replayWindowMs ?? 0) > 0;

  // Rounds overlap: once a round's rows are claimed and their publishes started, the next round may claim the rows
  // committed meanwhile while the first still waits for its confirms (a quorum queue confirms after its log is
  // flushed). Publishes still start in id order on the broker's channel, rounds never claim
  // the same row (the lease), and a round's outcomes are marked when its confirms are in.
  let roundsInFlight = 0;
  const finishing = new Set<Promise<void>>();

  /**
   * Publishes the messages (in order: the broker keeps it on its channel while confirms are outstanding), then marks
   * each row by `key` ("id" for claimed rows, "message_id" for hand-offs) published, or failed with its backoff.
   */
  async function publishAndMark(messages: readonly OutgoingMessage[], keys: readonly string[], attempts: readonly number[], key: RowKey): Promise<void> {
    const outcomes = await Promise.allSettled(
      messages.map((message) => broker.publish(message, { timeoutMs: options.publishTimeoutMs })),
    );
    const publishedIds: string[] = [];
    const failures: Failure[] = [];
    outcomes.forEach((outcome, i) => {
      if (outcome.status === "fulfilled") {
        publishedIds.push(keys[i]);
      } else {
        const delayMs = backoffMs(attempts[i], options.maxBackoffMs);
        failures.push({ key: keys[i], error: errorText(outcome.reason), delayMs });
      }
    });
    await markPublished(knex, table, key, publishedIds);
    await markFailed(knex, table, key, failures);
    if (failures.length > 0) {
      logger?.warn("outbox publish failed, will retry", {
        schema,
        failed: failures.length,
        published: publishedIds.length,
        error: failures[0].error,
      });
    }
  }

  const publishRound = (rows: ClaimedRow[]) =>
    publishAndMark(
      rows.map(toMessage),
      rows.map((row) => row.id),
      rows.map((row) => row.attempts),
      "id",
    );

  /** Claims due rows and starts publishing them; resolves with how many it claimed, before their confirms. */
  async function startRound(): Promise<number> {
    const rows = await claim(knex, table, batchSize, leaseMs);
    if (rows.length === 0) return 0;
    roundsInFlight++;
    const round: Promise<void> = publishRound(rows)
      // A round that fails to mark its outcome leaves its rows leased: they are published again after the lease.
      .catch((error: unknown) => logger?.warn("outbox relay round failed", { schema, error }))
      .finally(() => {
        roundsInFlight--;
        finishing.delete(round);
        wake?.();
      });
    finishing.add(round);
    return rows.length;
  }

  async function pruneIfDue(): Promise<void> {
    if (Date.now() < nextPruneAt) return;
    nextPruneAt = Date.now() + pruneIntervalMs;
    const deleted = await prunePublished(knex, table, retentionMs);
    if (deleted > 0) logger?.debug("outbox pruned", { schema, deleted });
  }

  function nap(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        wake = undefined;
        resolve();
      };
      const timer = setTimeout(done, ms);
      wake = done;
    });
  }

  const running = (async () => {
    while (!stopped) {
      kicked = false;
      // A full batch means more rows are probably waiting: go again without sleeping.
      let moreWaiting = false;
      try {
        if (replayPending) {
          const replayed = await markForReplay(knex, table, options.replayWindowMs ?? 0);
          replayPending = false;
          if (replayed > 0) logger?.info("outbox replays recently published messages", { schema, replayed });
        }
        if (roundsInFlight < MAX_ROUNDS_IN_FLIGHT) {
          moreWaiting = (await startRound()) === batchSize;
        }
        await pruneIfDue();
      } catch (error) {
        logger?.warn("outbox relay round failed", { schema, error });
      }
      if (stopped) break;
      // With every round slot taken, wait for one to finish (it wakes the nap) before claiming more.
      if (roundsInFlight >= MAX_ROUNDS_IN_FLIGHT || !(moreWaiting || kicked)) await nap(pollIntervalMs);
    }
    await Promise.all(finishing);
  })();

  return {
    kick() {
      kicked = true;
      wake?.();
    },
    handOffLeaseMs,
    handOff(messages) {
      // Once stopping, the rows are left to their lease: the next relay to run publishes them.
      if (stopped || messages.length === 0) return;
      const handing: Promise<void> = publishAndMark(
        messages,
        messages.map((message) => message.messageId),
        messages.map(() => 1),
        "message_id",
      )
        // Rows whose outcome could not be marked stay leased, and the relay publishes them once the lease runs out.
        .catch((error: unknown) => logger?.warn("outbox hand-off failed", { schema, error }))
        .finally(() => finishing.delete(handing));
      finishing.add(handing);
    },
    async stop() {
      stopped = true;
      wake?.();
      await running;
    },
  };
}

/** Exponential backoff with jitter: about base·2^(attempt-1), capped, so a broker outage is not hammered in lockstep. */
function backoffMs(attempts: number, maxBackoffMs: number): number {
  const exponential = Math.min(maxBackoffMs, RETRY_BASE_MS * 2 ** Math.min(attempts - 1, 30));
  return Math.round(exponential / 2 + (Math.random() * exponential) / 2);
}

function errorText(reason: unknown): string {
  const text = reason instanceof Error ? `${reason.name}: ${reason.message}` : String(reason);
  return text.length > MAX_ERROR_LENGTH ? text.slice(0, MAX_ERROR_LENGTH) : text;
}

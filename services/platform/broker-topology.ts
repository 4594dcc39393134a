// What both brokers agree on: exchange and queue names, the headers a message carries, how a failed delivery is
// retried or dead-lettered, and the operator view of a dead letter queue. RabbitMQ and the in-process broker both
// take their decisions from here, which is what makes them behave the same under one contract test suite.
import { PermanentMessageError, type QueueSpec } from "./messaging";

/** The durable topic exchange every event is published to. */
export const EVENTS_EXCHANGE = "tradeplane.events";
/**
 * Direct exchange routing by queue name: retry queues dead-letter into it on expiry (back to `<name>`), and work
 * queues dead-letter into it past their RabbitMQ delivery limit (to `<name>.dlq`).
 */
export const DEAD_LETTER_EXCHANGE = "tradeplane.dlx";

export const HEADER = {
  schemaVersion: "schema-version",
  /** Deliveries used by earlier copies of this message (a retry is a new copy); absent on the first copy. */
  attempt: "x-attempt",
  /** The routing key the message was published with; retries and dead letters travel under other keys. */
  originalRoutingKey: "x-original-routing-key",
  failureReason: "x-failure-reason",
  /** `permanent`, `retries-exhausted` or `delivery-limit` (the consumer kept stopping without an answer). */
  failureKind: "x-failure-kind",
  failedAttempts: "x-failed-attempts",
  deadLetteredAt: "x-dead-lettered-at",
  sourceQueue: "x-source-queue",
} as const;

/** Headers the brokers manage themselves; they are not part of `Delivery.headers`. */
const BOOKKEEPING_HEADERS = new Set<string>([
  HEADER.schemaVersion,
  HEADER.attempt,
  HEADER.originalRoutingKey,
  "x-delivery-count",
  "x-death",
  "x-first-death-exchange",
  "x-first-death-queue",
  "x-first-death-reason",
  "x-last-death-exchange",
  "x-last-death-queue",
  "x-last-death-reason",
]);

/** Headers describing a failure; dropped when a dead letter is sent back to its queue. */
export const FAILURE_HEADERS: readonly string[] = [
  HEADER.failureReason,
  HEADER.failureKind,
  HEADER.failedAttempts,
  HEADER.deadLetteredAt,
  HEADER.sourceQueue,
];

const DLQ_SUFFIX = ".dlq";
/** Longest failure reason kept in a header: enough for a message, not for a stack trace. */
const MAX_REASON_CHARS = 1_000;

export function deadLetterQueueName(queue: string): string {
  return queue + DLQ_SUFFIX;
}

export function isDeadLetterQueue(queue: string): boolean {
  return queue.endsWith(DLQ_SUFFIX);
}

export function retryQueueName(queue: string, delayMs: number): string {
  return `${queue}.retry.${delayMs}`;
}

/** Wait before retry `n` (1-based): the n-th delay, the last one repeating. */
export function retryDelayMs(spec: QueueSpec, n: number): number {
  return spec.retryDelaysMs[Math.min(n, spec.retryDelaysMs.length) - 1];
}

/** Rejects a spec that would make a broker misbehave, before anything is declared. */
export function checkQueueSpec(spec: QueueSpec): void {
  const problems: string[] = [];
  if (!/^[A-Za-z0-9_.:-]{1,200}$/.test(spec.name)) problems.push(`invalid queue name ${JSON.stringify(spec.name)}`);
  if (!Number.isInteger(spec.prefetch) || spec.prefetch < 1 || spec.prefetch > 1_000) {
    problems.push(`prefetch must be an integer in [1, 1000], got ${spec.prefetch}`);
  }
  if (isDeadLetterQueue(spec.name)) {
    if (spec.bindings.length > 0) problems.push("a dead letter queue takes no bindings");
  } else {
    if (!Number.isInteger(spec.deliveryLimit) || spec.deliveryLimit < 1) {
      problems.push(`deliveryLimit must be a positive integer, got ${spec.deliveryLimit}`);
    }
    if (spec.bindings.length === 0) problems.push("a work queue needs at least one binding");
  }
  if (spec.retryDelaysMs.length === 0) problems.push("retryDelaysMs needs at least one delay");
  for (const delay of spec.retryDelaysMs) {
    if (!Number.isInteger(delay) || delay < 1) problems.push(`retry delays must be positive integers, got ${delay}`);
  }
  if (problems.length > 0) throw new RangeError(`queue spec ${spec.name}: ${problems.join("; ")}`);
}

/** One queue to declare on RabbitMQ, with its arguments and bindings. */
export interface QueueDeclaration {
  queue: string;
  arguments: Record<string, string | number>;
  bindings: { exchange: string; pattern: string }[];
}

/**
 * The RabbitMQ queues behind one QueueSpec. All are durable quorum queues:
 * - `<name>`: bound to the events exchange; past `x-delivery-limit` returns RabbitMQ itself dead-letters to the
 *   DLQ (a backstop: consumers dead-letter first, at `deliveryLimit` deliveries, with the failure in headers);
 * - `<name>.retry.<delayMs>` per distinct delay: no consumer; a message expires after the delay and is
 *   dead-lettered back into `<name>` only (not to every queue bound to its routing key);
 * - `<name>.dlq`: where dead letters wait for an operator or a DLQ consumer.
 * Dead-lettering is at-least-once (quorum queues, RabbitMQ 3.10+), which needs `x-overflow: reject-publish`.
 * Queue arguments cannot change once declared: changing deliveryLimit means a new queue name or a policy.
 * A spec whose name ends in `.dlq` declares just that dead letter queue.
 */
export function queueDeclarations(spec: QueueSpec): QueueDeclaration[] {
  const quorum = { "x-queue-type": "quorum" };
  const dlq = deadLetterQueueName(spec.name);
  const deadLetterDlq: QueueDeclaration = {
    queue: isDeadLetterQueue(spec.name) ? spec.name : dlq,
    arguments: quorum,
    bindings: isDeadLetterQueue(spec.name) ? [] : [{ exchange: DEAD_LETTER_EXCHANGE, pattern: dlq }],
  };
  if (isDeadLetterQueue(spec.name)) return [deadLetterDlq];
  const atLeastOnce = { "x-dead-letter-strategy": "at-least-once", "x-overflow": "reject-publish" };
  const work: QueueDeclaration = {
    queue: spec.name,
    arguments: {
      ...quorum,
      ...atLeastOnce,
      "x-delivery-limit": spec.deliveryLimit,
      "x-dead-letter-exchange": DEAD_LETTER_EXCHANGE,
      "x-dead-letter-routing-key": dlq,
    },
    bindings: [
      ...spec.bindings.map((pattern) => ({ exchange: EVENTS_EXCHANGE, pattern })),
      { exchange: DEAD_LETTER_EXCHANGE, pattern: spec.name },
    ],
  };
  const retries = [...new Set(spec.retryDelaysMs)].map(
    (delayMs): QueueDeclaration => ({
      queue: retryQueueName(spec.name, delayMs),
      arguments: {
        ...quorum,
        ...atLeastOnce,
        "x-message-ttl": delayMs,
        "x-dead-letter-exchange": DEAD_LETTER_EXCHANGE,
        "x-dead-letter-routing-key": spec.name,
      },
      bindings: [],
    }),
  );
  return [deadLetterDlq, work, ...retries];
}

/** What happens to a delivery whose handler failed. */
export type FailureOutcome =
  | { action: "retry"; delayMs: number }
  | { action: "dead-letter"; kind: "permanent" | "retries-exhausted"; reason: string };

/** Retries a failed attempt after its delay, unless the error is permanent or the delivery limit is used up. */
export function failureOutcome(spec: QueueSpec, attempt: number, error: unknown): FailureOutcome {
  const reason = describeFailure(error);
  if (error instanceof PermanentMessageError) return { action: "dead-letter", kind: "permanent", reason };
  if (attempt >= spec.deliveryLimit) return { action: "dead-letter", kind: "retries-exhausted", reason };
  return { action: "retry", delayMs: retryDelayMs(spec, attempt) };
}

/** The reason recorded when deliveries ran out because the consumer kept stopping before it answered. */
export function deliveryLimitReason(attempts: number): string {
  return `delivery limit reached: ${attempts} deliveries ended without an answer (consumer stopped or crashed)`;
}

export function describeFailure(error: unknown): string {
  const text = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  return text.length > MAX_REASON_CHARS ? `${text.slice(0, MAX_REASON_CHARS)}…` : text;
}

/** The caller-visible headers of a received message: string values only, bookkeeping removed. */
export function publicHeaders(raw: Record<string, unknown> | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(raw ?? {})) {
    if (BOOKKEEPING_HEADERS.has(name)) continue;
    if (typeof value === "string") out[name] = value;
    else if (typeof value === "number" || typeof value === "boolean") out[name] = String(value);
    else if (Buffer.isBuffer(value)) out[name] = value.toString("utf8");
  }
  return out;
}

/** A message parked in a dead letter queue, as operators see it. */
export interface DeadLetter {
  /** The work queue the message failed on. */
  queue: string;
  messageId: string;
  routingKey: string;
  schemaVersion: number;
  body: string;
  /** Headers as the publisher set them (e.g. `traceparent`). */
  headers: Record<string, string>;
  /** Deliveries used before it was dead-lettered. */
  attempts: number;
  kind: "permanent" | "retries-exhausted" | "delivery-limit";
  reason: string;
  deadLetteredAt: Date;
}

/** Operator access to dead letter queues, offered by both brokers beyond the Broker port. */
export interface DeadLetterAdmin {
  /** Up to `limit` dead letters of work queue `queue`, oldest first, left in place. */
  readDeadLetters(queue: string, limit: number): Promise<DeadLetter[]>;
  /**
   * Moves the dead letter `messageId` of work queue `queue` back into that queue (only that queue, not every queue
   * bound to its routing key), as a first attempt again. Resolves false when no such dead letter exists.
   */
  republishDeadLetter(queue: string, messageId: string): Promise<boolean>;
}

/** Builds the operator view of a dead letter from its headers (shared by both brokers). */
export function toDeadLetter(
  queue: string,
  fields: { messageId: string; routingKey: string; body: string; headers: Record<string, unknown> },
): DeadLetter {
  const headers = fields.headers;
  const kind = headers[HEADER.failureKind];
  const reason = headers[HEADER.failureReason];
  const publisherHeaders = publicHeaders(headers);
  for (const name of FAILURE_HEADERS) delete publisherHeaders[name];
  return {
    queue,
    messageId: fields.messageId,
    routingKey: headerString(headers[HEADER.originalRoutingKey]) ?? fields.routingKey,
    schemaVersion: Number(headers[HEADER.schemaVersion] ?? 0),
    body: fields.body,
    headers: publisherHeaders,
    attempts: Number(headers[HEADER.failedAttempts] ?? headers["x-delivery-count"] ?? 0),
    kind: kind === "permanent" || kind === "retries-exhausted" ? kind : "delivery-limit",
    // RabbitMQ itself dead-letters past the queue's x-delivery-limit; its reason is in x-first-death-reason.
    reason: headerString(reason) ?? headerString(headers["x-first-death-reason"]) ?? "unknown",
    deadLetteredAt: new Date(headerString(headers[HEADER.deadLetteredAt]) ?? Date.now()),
  };
}

function headerString(value: unknown): string | undefined {
  if (typeof value === "string") return value;
  if (Buffer.isBuffer(value)) return value.toString("utf8");
  return undefined;
}

/** Rejects a message the brokers must not accept (a consumer could not deduplicate or decode it). */
export function checkOutgoing(message: { routingKey: string; messageId: string; schemaVersion: number }): void {
  if (message.messageId.length === 0) throw new RangeError("messageId is required");
  if (message.routingKey.length === 0 || message.routingKey.length > 255) {
    throw new RangeError(`invalid routing key ${JSON.stringify(message.routingKey)}`);
  }
  if (!Number.isInteger(message.schemaVersion) || message.schemaVersion < 1) {
    throw new RangeError(`schemaVersion must be a positive integer, got ${message.schemaVersion}`);
  }
}

/** A consumer that can also stop like a crash: in-flight deliveries are not answered and go back to the queue. */
export interface AbortableConsumer {
  /** Stops taking new deliveries and waits for the handlers in flight to finish. */
  close(): Promise<void>;
  /** Stops at once without answering in-flight deliveries; the broker redelivers them (a hard stop or crash). */
  abort(): Promise<void>;
}

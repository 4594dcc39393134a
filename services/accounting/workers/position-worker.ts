// The position worker: consumes fill events and posts them to the ledger. Acknowledged only after the commit;
// a malformed fill, or one the order path should never have produced (it would overdraw), goes straight to the
// dead-letter queue; anything else (database down, lock timeout) is retried with the queue's delays.
import type { Broker, Consumer, Delivery, QueueSpec } from "../../platform/messaging";
import { PermanentMessageError } from "../../platform/messaging";
import type { Logger } from "../../platform/logger";
import { inConsumerSpan } from "../../platform/telemetry";
import { AccountingError } from "../domain/accounting-error";
import { FILL_EVENT_ROUTING_KEY, FILL_EVENT_SCHEMA_VERSION, parseFillEvent, type Fill } from "../domain/fill-event";
import type { PostFillResult } from "../domain/post-fill";

/** The queue of the position worker. */
export const FILL_QUEUE_NAME = "accounting.fills";

/** Domain failures that no retry can fix. */
const PERMANENT_CODES = new Set(["MALFORMED_FILL", "INVALID_ARGUMENT", "INSUFFICIENT_FUNDS", "INSUFFICIENT_POSITION"]);

export interface PositionWorkerOptions {
  broker: Broker;
  logger: Logger;
  postFill: (fill: Fill) => Promise<PostFillResult>;
  /** Posts fills that arrived together in one transaction (all or nothing); without it each fill posts alone. */
  postFills?: (fills: Fill[]) => Promise<PostFillResult[]>;
  prefetch: number;
  deliveryLimit: number;
  retryDelaysMs?: readonly number[];
}

/** Starts consuming fills; close the returned consumer at shutdown. */
export function startPositionWorker(options: PositionWorkerOptions): Promise<Consumer> {
  const spec: QueueSpec = {
    name: FILL_QUEUE_NAME,
    bindings: [FILL_EVENT_ROUTING_KEY],
    prefetch: options.prefetch,
    deliveryLimit: options.deliveryLimit,
    retryDelaysMs: options.retryDelaysMs ?? [200, 1000, 5000],
  };
  const post = options.postFills ? batchedPost(options.postFill, options.postFills, options.prefetch) : options.postFill;
  return options.broker.consume(spec, (delivery) => inConsumerSpan("accounting.postFill", delivery.headers, () => handleFill(options, post, delivery)));
}

/**
 * Fills delivered together (the broker hands over up to `prefetch` at once under load) are posted in one
 * transaction: every fill costs a dozen statements, a batch costs about the same. Fills are gathered until the
 * current I/O callbacks have run (setImmediate), so a lone fill waits for nothing. A batch that fails (one fill
 * that cannot be posted, a lock timeout) is retried fill by fill, so each fill gets its own outcome and only a
 * failing one is retried or dead-lettered.
 */
function batchedPost(
  postFill: (fill: Fill) => Promise<PostFillResult>,
  postFills: (fills: Fill[]) => Promise<PostFillResult[]>,
  maxBatch: number,
): (fill: Fill) => Promise<PostFillResult> {
  type Waiting = { fill: Fill; resolve: (result: PostFillResult) => void; reject: (error: unknown) => void };
  let pending: Waiting[] = [];
  let scheduled = false;

  const flush = () => {
    scheduled = false;
    const batch = pending;
    pending = [];
    if (batch.length === 0) return;
    const alone = () => {
      for (const waiting of batch) postFill(waiting.fill).then(waiting.resolve, waiting.reject);
    };
    if (batch.length === 1) return alone();
    postFills(batch.map((waiting) => waiting.fill)).then((results) => batch.forEach((waiting, i) => waiting.resolve(results[i])), alone);
  };

  return (fill) =>
    new Promise<PostFillResult>((resolve, reject) => {
      pending.push({ fill, resolve, reject });
      if (pending.length >= maxBatch) flush();
      else if (!scheduled) {
        scheduled = true;
        setImmediate(flush);
      }
    });
}

async function handleFill(options: PositionWorkerOptions, post: (fill: Fill) => Promise<PostFillResult>, delivery: Delivery): Promise<void> {
  if (delivery.schemaVersion !== FILL_EVENT_SCHEMA_VERSION) {
    throw new PermanentMessageError(`unknown fill schema version ${delivery.schemaVersion}`);
  }
  let fill: Fill;
  try {
    fill = parseFillEvent(JSON.parse(delivery.body));
  } catch (error) {
    throw new PermanentMessageError(`malformed fill ${delivery.messageId}`, { cause: error });
  }
  try {
    const result = await post(fill);
    if (result.kind === "ALREADY_POSTED") {
      options.logger.info("fill already posted", { fillId: fill.fillId, transactionId: result.existingTransactionId });
    }
  } catch (error) {
    if (error instanceof AccountingError && PERMANENT_CODES.has(error.code)) {
      options.logger.warn("fill refused", { fillId: fill.fillId, code: error.code, reason: error.message });
      throw new PermanentMessageError(`${error.code}: ${error.message}`, { cause: error });
    }
    throw error;
  }
}

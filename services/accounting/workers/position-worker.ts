// The position worker: consumes fill events and posts them to the ledger. Acknowledged only after the commit;
// a malformed fill, or one the order path should never have produced (it would overdraw), goes straight to the
// dead-letter queue; anything else (database down, lock timeout) is retried with the queue's delays.
import { createBatcher, writeEachKeyOnce, type Settled } from "../../platform/batcher";
import type { Broker, Consumer, Delivery, QueueSpec } from "../../platform/messaging";
import { PermanentMessageError } from "../../platform/messaging";
import type { Logger } from "../../platform/logger";
import { inConsumerSpan } from "../../platform/telemetry";
import { AccountingError } from "../domain/accounting-error";
import { FILL_EVENT_ROUTING_KEY, FILL_EVENT_SCHEMA_VERSION, FILL_QUEUE_NAME, parseFillEvent, type Fill } from "../domain/fill-event";
import type { PostFillResult } from "../domain/post-fill";

/** The queue of the position worker (named in the fill event contract). */
export { FILL_QUEUE_NAME };

/** Domain failures that no retry can fix. */
const PERMANENT_CODES = new Set(["MALFORMED_FILL", "INVALID_ARGUMENT", "INSUFFICIENT_FUNDS", "INSUFFICIENT_POSITION"]);

export interface PositionWorkerOptions {
  broker: Broker;
  logger: Logger;
  /** Posts fills that arrived together (a lone fill is a batch of one) in one transaction, all or nothing. */
  postFills: (fills: Fill[]) => Promise<PostFillResult[]>;
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
  const post = batchedPost(options.postFills, options.prefetch);
  return options.broker.consume(spec, (delivery) => inConsumerSpan("accounting.postFill", delivery.headers, () => handleFill(options, post, delivery)));
}

/**
 * Fills are posted in batches, at most two at a time: the fills delivered while the batches in progress commit (the
 * broker hands over up to `prefetch`) go together in the next transaction, and a batch costs the same five statements
 * whatever its size, so under load the batches grow and the cost per fill falls; a lone fill waits for nothing. Two
 * rather than one, so one batch's domain work overlaps the other's round trips (one at a time fell behind 500 fills/s
 * in the orders benchmark); batches of the same portfolios take their locks in the same order and simply queue. A batch that fails (one fill that cannot be posted, a lock timeout) is retried fill by fill, so each
 * fill gets its own outcome and only a failing one is retried or dead-lettered.
 */
function batchedPost(postFills: (fills: Fill[]) => Promise<PostFillResult[]>, maxBatch: number): (fill: Fill) => Promise<PostFillResult> {
  const post = createBatcher<Fill, Settled<PostFillResult>>({
    maxBatch,
    maxInFlight: 2,
    // A fill id once per transaction (a redelivery waits for the next one, where it changes nothing).
    run: (fills) => writeEachKeyOnce(fills, (fill) => fill.fillId, postFills),
  });
  return async (fill) => {
    const settled = await post(fill);
    if (!settled.ok) throw settled.error;
    return settled.value;
  };
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

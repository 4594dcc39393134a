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
  return options.broker.consume(spec, (delivery) => inConsumerSpan("accounting.postFill", delivery.headers, () => handleFill(options, delivery)));
}

async function handleFill(options: PositionWorkerOptions, delivery: Delivery): Promise<void> {
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
    const result = await options.postFill(fill);
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

// The execution worker: consumes `orders.execute` and runs executeOrder for each message. The handler commits the
// order's new state, its events and their outbox rows (fills for accounting, the release of an ended order's hold)
// in one transaction before the broker acknowledges the message, so a crash before the ack means a redelivery, and
// a redelivery finds the order already moved (version check) and changes nothing.
import type { Broker, Consumer, Delivery, QueueSpec } from "../../platform/messaging";
import { PermanentMessageError } from "../../platform/messaging";
import type { Logger } from "../../platform/logger";
import { inConsumerSpan } from "../../platform/telemetry";
import { EXECUTE_ROUTING_KEY, ORDERS_SCHEMA_VERSION, type ExecuteMessage } from "../adapters/order-messages";
import { executeOrder, type ExecuteOrderDeps } from "../domain/execute-order";
import { OrderError } from "../domain/order-error";

/** Queue settings of the execution worker. */
export interface ExecutionQueueSettings {
  prefetch: number;
  deliveryLimit: number;
  retryDelaysMs: readonly number[];
}

/** The orders.execute queue spec. */
export function executeQueueSpec(settings: ExecutionQueueSettings): QueueSpec {
  return { name: EXECUTE_ROUTING_KEY, bindings: [EXECUTE_ROUTING_KEY], ...settings };
}

/** Starts consuming orders.execute. */
export async function startExecutionWorker(options: {
  broker: Broker;
  deps: ExecuteOrderDeps;
  settings: ExecutionQueueSettings;
  logger: Logger;
}): Promise<Consumer> {
  const { deps, logger } = options;
  return options.broker.consume(executeQueueSpec(options.settings), (delivery) =>
    inConsumerSpan("orders.execute", delivery.headers, async () => {
      const { order_id: orderId } = parseExecuteMessage(delivery);
      try {
        const result = await executeOrder(deps, orderId);
        if (result.events.length > 0) {
          logger.debug("order executed", { orderId, status: result.order.status, events: result.events.length });
        }
      } catch (error) {
        // An order this database does not know can never be executed (e.g. a message left in a shared broker by
        // another environment): dead-letter it at once instead of retrying.
        if (error instanceof OrderError && error.code === "ORDER_NOT_FOUND") {
          throw new PermanentMessageError(`order ${orderId} does not exist`, { cause: error });
        }
        throw error;
      }
    }),
  );
}

/** Validates an orders.execute body; anything malformed is permanent. */
export function parseExecuteMessage(delivery: Delivery): ExecuteMessage {
  if (delivery.schemaVersion !== ORDERS_SCHEMA_VERSION) {
    throw new PermanentMessageError(`unknown orders.execute schema version ${delivery.schemaVersion}`);
  }
  let body: unknown;
  try {
    body = JSON.parse(delivery.body);
  } catch (error) {
    throw new PermanentMessageError("orders.execute body is not JSON", { cause: error });
  }
  const orderId = (body as { order_id?: unknown } | null)?.order_id;
  if (typeof orderId !== "string" || !/^[0-9a-f-]{36}$/i.test(orderId)) {
    throw new PermanentMessageError("orders.execute body has no valid order_id");
  }
  return { schema_version: ORDERS_SCHEMA_VERSION, order_id: orderId };
}

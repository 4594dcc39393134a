// The release worker: consumes `orders.reservation.release`, written in the same transaction that ended an order,
// and asks accounting to release what is left of the order's hold. ReleaseReservation is idempotent, so a
// redelivery is harmless; accounting being down means a retry after the configured delay.
import type { Broker, Consumer, Delivery } from "../../platform/messaging";
import { PermanentMessageError } from "../../platform/messaging";
import { inConsumerSpan } from "../../platform/telemetry";
import { ORDERS_SCHEMA_VERSION, RELEASE_ROUTING_KEY, type ReleaseMessage } from "../adapters/order-messages";
import type { AccountingPort } from "../domain/ports";
import type { ExecutionQueueSettings } from "./execution-worker";

/** Starts consuming orders.reservation.release. */
export async function startReleaseWorker(options: {
  broker: Broker;
  accounting: AccountingPort;
  settings: ExecutionQueueSettings;
}): Promise<Consumer> {
  return options.broker.consume(
    { name: RELEASE_ROUTING_KEY, bindings: [RELEASE_ROUTING_KEY], ...options.settings },
    (delivery) =>
      inConsumerSpan("orders.reservation.release", delivery.headers, async () => {
        const message = parseReleaseMessage(delivery);
        await options.accounting.release(message.reservation_id, message.portfolio_id);
      }),
  );
}

function parseReleaseMessage(delivery: Delivery): ReleaseMessage {
  if (delivery.schemaVersion !== ORDERS_SCHEMA_VERSION) {
    throw new PermanentMessageError(`unknown release schema version ${delivery.schemaVersion}`);
  }
  let body: Partial<ReleaseMessage>;
  try {
    body = JSON.parse(delivery.body) as Partial<ReleaseMessage>;
  } catch (error) {
    throw new PermanentMessageError("release body is not JSON", { cause: error });
  }
  if (typeof body.reservation_id !== "string" || body.reservation_id === "" || typeof body.order_id !== "string") {
    throw new PermanentMessageError("release body lacks reservation_id or order_id");
  }
  return {
    schema_version: ORDERS_SCHEMA_VERSION,
    order_id: body.order_id,
    portfolio_id: typeof body.portfolio_id === "string" ? body.portfolio_id : "",
    reservation_id: body.reservation_id,
  };
}

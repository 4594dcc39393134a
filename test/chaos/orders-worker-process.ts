// A disposable worker process for the orders chaos test: runs the order service and accounting (their gRPC services,
// the execution, release and position workers) against the shared Postgres and RabbitMQ, as competing consumers of
// the parent's queues. The parent SIGKILLs it at random moments and starts another.
import { register as registerAccounting } from "../../services/accounting/main";
import { register as registerOrders } from "../../services/orders/main";
import { createLogger } from "../../services/platform/logger";
import { startServices } from "../../services/platform/runtime";

startServices([registerAccounting, registerOrders], process.env, { logger: createLogger({ name: "chaos-worker", level: "error" }) })
  .then(() => process.send?.("ready"))
  .catch((error: unknown) => {
    console.error(error);
    process.exit(1);
  });

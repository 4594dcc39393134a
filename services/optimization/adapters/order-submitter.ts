// Submits proposal legs through the order service as MARKET DAY orders keyed `<proposal_id>:<leg>`. A refusal
// the order service names (INSUFFICIENT_FUNDS, MARKET_CLOSED, …) is that leg's result; an unreachable order
// service fails the call (DEPENDENCY_UNAVAILABLE) so the client retries, which is safe because of the keys.
import { ClientError, Status } from "nice-grpc";
import { RichClientError } from "nice-grpc-error-details";
import { Side } from "../../../generated/tradeplane/common/v1/common";
import type { TradeplaneClient } from "../../../clients/node";
import type { OrderServiceDefinition } from "../../../generated/tradeplane/orders/v1/order_service";
import { OrderStatus, OrderType, TimeInForce } from "../../../generated/tradeplane/orders/v1/orders";
import type { SubmitResult } from "../domain/execute-proposal";
import type { LegOrder } from "../domain/proposal-orders";
import { callPeer } from "./dependency-call";

const WORKING = new Set([OrderStatus.ORDER_STATUS_PENDING_NEW, OrderStatus.ORDER_STATUS_NEW, OrderStatus.ORDER_STATUS_PARTIALLY_FILLED]);

/** The order service as ExecuteProposal needs it. */
export function createOrderSubmitter(client: TradeplaneClient<typeof OrderServiceDefinition>, options: { pollMs: number }) {
  return {
    async submit(portfolioId: string, order: LegOrder): Promise<SubmitResult> {
      try {
        const response = await callPeer("orders", () =>
          client.submitOrder({
            idempotencyKey: order.idempotencyKey,
            portfolioId,
            securityId: order.securityId,
            side: order.side === "BUY" ? Side.SIDE_BUY : Side.SIDE_SELL,
            type: OrderType.ORDER_TYPE_MARKET,
            timeInForce: TimeInForce.TIME_IN_FORCE_DAY,
            quantity: order.quantity.toFixed(),
          }),
        );
        return { orderId: response.order?.orderId ?? "", replayed: response.replayed };
      } catch (error) {
        if (error instanceof ClientError) return { errorCode: errorInfoReasonOf(error) ?? Status[error.code], errorMessage: error.details };
        throw error;
      }
    },

    async waitForFills(orderIds: string[], timeoutMs: number): Promise<void> {
      const until = Date.now() + timeoutMs;
      let pending = [...orderIds];
      while (pending.length > 0 && Date.now() < until) {
        const states = await Promise.all(pending.map((orderId) => callPeer("orders", () => client.getOrder({ orderId }))));
        pending = pending.filter((_, i) => WORKING.has(states[i].order?.status ?? OrderStatus.ORDER_STATUS_UNSPECIFIED));
        if (pending.length > 0) await new Promise((resolve) => setTimeout(resolve, options.pollMs));
      }
    },
  };
}

// The stable reason (INSUFFICIENT_FUNDS, …) travels in the google.rpc.ErrorInfo detail, which the node client
// decodes into RichClientError.extra; when it is absent, the status name stands in for it.
function errorInfoReasonOf(error: ClientError): string | undefined {
  if (!(error instanceof RichClientError)) return undefined;
  for (const detail of error.extra) {
    if (detail.$type === "google.rpc.ErrorInfo" && detail.reason !== "") return detail.reason;
  }
  return undefined;
}

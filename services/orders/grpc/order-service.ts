// tradeplane.orders.v1.OrderService: transport only. Each handler turns the request into a use-case call with the
// caller from the verified token, and the result into the response; errors are translated once on the way out.
import { ServerError, Status } from "nice-grpc-common";
import {
  DeadLetterStatus,
  type DeadLetter as WireDeadLetter,
} from "../../../generated/tradeplane/orders/v1/orders";
import type {
  OrderServiceImplementation,
  WatchOrderEventsResponse,
} from "../../../generated/tradeplane/orders/v1/order_service";
import type { Principal } from "../../platform/auth";
import { requireRole } from "../../platform/auth";
import type { TradeplaneCallContext } from "../../platform/grpc-server";
import type { ChangeSignal } from "../adapters/change-signal";
import type { DeadLetterDesk, DeadLetterView } from "../adapters/dead-letter-desk";
import { authorizePortfolio } from "../domain/authorize-portfolio";
import { cancelOrder } from "../domain/cancel-order";
import { getOrder } from "../domain/get-order";
import { listOrders, MAX_PAGE_SIZE, DEFAULT_PAGE_SIZE } from "../domain/list-orders";
import type { Caller, OrderStore } from "../domain/ports";
import { submitOrder, type SubmitOrderDeps } from "../domain/submit-order";
import { eventToWire, orderToWire, sideFromWire, statusFromWire, timeInForceFromWire, typeFromWire } from "./order-wire";

/** What the handlers need (built in main.ts). */
export interface OrderServiceDeps {
  submit: SubmitOrderDeps;
  store: OrderStore;
  deadLetters: DeadLetterDesk;
  changes: ChangeSignal;
  /** WatchOrderEvents heartbeat interval. */
  heartbeatMs: number;
  /** How often a watcher looks for commits of other instances when nothing woke it. */
  watchPollMs: number;
}

/** Events read per round of a watch stream. */
const WATCH_BATCH = 500;

/** The caller of a use case, from the platform principal. */
export function callerOf(principal: Principal): Caller {
  return {
    subject: principal.subject,
    roles: [...principal.roles],
    portfolios: [...principal.portfolios],
    allPortfolios: principal.allPortfolios,
  };
}

/** Builds the OrderService handlers. */
export function createOrderService(deps: OrderServiceDeps): OrderServiceImplementation<TradeplaneCallContext> {
  const { store } = deps;
  return {
    submitOrder: async (request, context) => {
      const { order, replayed } = await submitOrder(deps.submit, callerOf(context.principal), {
        portfolioId: request.portfolioId,
        idempotencyKey: request.idempotencyKey,
        symbol: request.symbol,
        securityId: request.securityId,
        side: sideFromWire(request.side),
        type: typeFromWire(request.type),
        timeInForce: timeInForceFromWire(request.timeInForce),
        quantity: request.quantity,
        notional: request.notional,
        limitPrice: request.limitPrice,
        stopPrice: request.stopPrice,
      });
      return { order: orderToWire(order), replayed };
    },

    getOrder: async (request, context) => ({
      order: orderToWire(await getOrder({ store }, callerOf(context.principal), request.orderId)),
    }),

    listOrders: async (request, context) => {
      const page = await listOrders({ store }, callerOf(context.principal), {
        portfolioId: request.portfolioId,
        // UNSPECIFIED in the filter means "any status", as the contract says.
        statuses: request.statuses.filter((status) => status !== 0).map(statusFromWire),
        symbol: request.symbol,
        side: sideFromWire(request.side),
        createdFrom: request.fromTime ?? null,
        createdTo: request.toTime ?? null,
        pageSize: request.pageSize,
        pageToken: request.pageToken,
      });
      return { orders: page.orders.map(orderToWire), nextPageToken: page.nextPageToken ?? "" };
    },

    cancelOrder: async (request, context) => ({
      order: orderToWire(await cancelOrder({ store, clock: deps.submit.clock }, callerOf(context.principal), request.orderId)),
    }),

    async *watchOrderEvents(request, context): AsyncGenerator<WatchOrderEventsResponse> {
      authorizePortfolio(callerOf(context.principal), request.portfolioId);
      // At shutdown `signal` aborts and the stream ends with OK; the client resumes from its last seq.
      context.abortOnTerminate();
      const portfolioId = request.portfolioId;
      let lastSeq = Number(request.sinceSeq);
      let lastFrameAt = Date.now();
      while (!context.signal.aborted) {
        const batch = await store.eventsSince(portfolioId, lastSeq, WATCH_BATCH);
        for (const { event, order } of batch) {
          yield { frame: { $case: "event", value: eventToWire(event, order) } };
          lastSeq = event.seq;
          lastFrameAt = Date.now();
        }
        if (batch.length === WATCH_BATCH) continue;
        if (Date.now() - lastFrameAt >= deps.heartbeatMs) {
          const latest = await store.latestSeq(portfolioId);
          yield { frame: { $case: "heartbeat", value: { latestSeq: String(latest), serverTime: new Date() } } };
          lastFrameAt = Date.now();
        }
        const untilHeartbeat = Math.max(1, deps.heartbeatMs - (Date.now() - lastFrameAt));
        await deps.changes.wait(Math.min(deps.watchPollMs, untilHeartbeat), context.signal);
      }
    },

    listDeadLetters: async (request, context) => {
      requireRole(context.principal, "admin");
      if (request.pageToken !== "") {
        throw new ServerError(Status.INVALID_ARGUMENT, "page_token is not valid: the dead letter view has one page");
      }
      const status =
        request.status === DeadLetterStatus.DEAD_LETTER_STATUS_PENDING
          ? "PENDING"
          : request.status === DeadLetterStatus.DEAD_LETTER_STATUS_RETRIED
            ? "RETRIED"
            : null;
      const size = request.pageSize <= 0 ? DEFAULT_PAGE_SIZE : Math.min(request.pageSize, MAX_PAGE_SIZE);
      const letters = await deps.deadLetters.list(request.queue === "" ? null : request.queue, status, size);
      return { deadLetters: letters.map(deadLetterToWire), nextPageToken: "" };
    },

    retryDeadLetter: async (request, context) => {
      requireRole(context.principal, "admin");
      const letter = await deps.deadLetters.retry(request.deadLetterId);
      if (letter === null) throw new ServerError(Status.NOT_FOUND, `dead letter ${request.deadLetterId} not found`);
      return { deadLetter: deadLetterToWire(letter) };
    },
  };
}

function deadLetterToWire(letter: DeadLetterView): WireDeadLetter {
  return {
    deadLetterId: letter.id,
    queue: letter.queue,
    messageId: letter.messageId,
    routingKey: letter.routingKey,
    payloadJson: letter.payload,
    reason: letter.reason,
    attempts: letter.attempts,
    firstFailureTime: letter.firstFailureAt,
    lastFailureTime: letter.lastFailureAt,
    status:
      letter.status === "PENDING"
        ? DeadLetterStatus.DEAD_LETTER_STATUS_PENDING
        : DeadLetterStatus.DEAD_LETTER_STATUS_RETRIED,
    retryTime: letter.retriedAt ?? undefined,
    headers: letter.headers,
  };
}

// Reservations in accounting, over the accounting service's generated gRPC client. Both calls are idempotent on
// the server (CreateReservation on the order id, ReleaseReservation on the reservation id).
import { ClientError, Status } from "nice-grpc";
import type { AccountingServiceClient } from "../../../generated/tradeplane/accounting/v1/accounting_service";
import { OrderError } from "../domain/order-error";
import type { AccountingPort } from "../domain/ports";

/** Creates the AccountingPort over gRPC. */
export function createAccountingClient(client: AccountingServiceClient): AccountingPort {
  return {
    async reserve(request) {
      try {
        const response = await client.createReservation({
          portfolioId: request.portfolioId,
          orderId: request.orderId,
          securityId: request.asset === "SECURITY" ? request.securityId : "",
          amount: request.amount.toFixed(),
        });
        if (response.reservation === undefined) throw new Error("CreateReservation answered without a reservation");
        return { reservationId: response.reservation.reservationId };
      } catch (error) {
        throw reservationError(error, request.asset);
      }
    },

    async release(reservationId) {
      try {
        await client.releaseReservation({ reservationId });
      } catch (error) {
        // A reservation accounting does not know was never placed (or was already cleaned up): nothing to release.
        if (error instanceof ClientError && error.code === Status.NOT_FOUND) return;
        throw new OrderError("DEPENDENCY_UNAVAILABLE", "accounting is not available right now", [], {}, { cause: error });
      }
    },
  };
}

/**
 * Accounting refuses a hold that does not fit with FAILED_PRECONDITION: for a cash hold that is INSUFFICIENT_FUNDS,
 * for a security hold INSUFFICIENT_POSITION (accounting's message, e.g. the available amount, is passed on).
 * Anything else is retryable from the client's point of view.
 */
function reservationError(error: unknown, asset: "CASH" | "SECURITY"): OrderError {
  if (error instanceof ClientError && error.code === Status.FAILED_PRECONDITION) {
    const code = asset === "CASH" ? "INSUFFICIENT_FUNDS" : "INSUFFICIENT_POSITION";
    return new OrderError(code, error.details, [], {}, { cause: error });
  }
  if (error instanceof ClientError && error.code === Status.NOT_FOUND) {
    return new OrderError("INSUFFICIENT_FUNDS", error.details, [], {}, { cause: error });
  }
  return new OrderError("DEPENDENCY_UNAVAILABLE", "accounting is not available right now", [], {}, { cause: error });
}

// The one mapping of orders domain errors to the platform's error kinds (and so to gRPC statuses, with ErrorInfo
// reason = the domain code and BadRequest field violations for validation failures).
import { DomainError, type ErrorKind } from "../../platform/errors";
import { OrderError, type OrderErrorCode } from "../domain/order-error";

const KIND_BY_CODE: Record<OrderErrorCode, ErrorKind> = {
  INVALID_ORDER: "invalid",
  QUANTITY_NOT_LOT_MULTIPLE: "invalid",
  QUANTITY_BELOW_MINIMUM: "invalid",
  PRICE_NOT_ON_TICK: "invalid",
  INSTRUMENT_NOT_TRADABLE: "failed_precondition",
  MARKET_CLOSED: "failed_precondition",
  PRICE_OUT_OF_BAND: "failed_precondition",
  ORDER_VALUE_TOO_SMALL: "failed_precondition",
  ORDER_VALUE_TOO_LARGE: "failed_precondition",
  INSUFFICIENT_FUNDS: "failed_precondition",
  INSUFFICIENT_POSITION: "failed_precondition",
  ORDER_NOT_CANCELLABLE: "failed_precondition",
  IDEMPOTENCY_KEY_REUSED: "already_exists",
  IDEMPOTENCY_KEY_IN_FLIGHT: "aborted",
  INVALID_TRANSITION: "aborted",
  ORDER_NOT_FOUND: "not_found",
  PERMISSION_DENIED: "permission_denied",
  DEPENDENCY_UNAVAILABLE: "unavailable",
};

/** The platform error for an orders domain error; anything else is returned unchanged (the platform maps it). */
export function toPlatformError(error: unknown): unknown {
  if (!(error instanceof OrderError)) return error;
  const retryAfter = error.metadata.retryAfterMs;
  return new DomainError(KIND_BY_CODE[error.code], error.code, error.message, {
    violations: error.fieldViolations,
    metadata: error.metadata,
    ...(retryAfter !== undefined ? { retryAfterMs: Number(retryAfter) } : {}),
    ...(error.code === "DEPENDENCY_UNAVAILABLE" ? { retryAfterMs: 200 } : {}),
    cause: error,
  });
}

/** Runs a handler body, translating orders domain errors on the way out. */
export async function translatingErrors<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    throw toPlatformError(error);
  }
}

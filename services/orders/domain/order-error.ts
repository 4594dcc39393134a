/**
 * Typed errors of the orders domain. Each carries a stable string code that clients can match on; the gRPC
 * edge maps codes to status codes once (see grpc/), so nothing here knows about transports.
 */

/** Stable machine-readable codes of every failure the orders domain reports. */
export type OrderErrorCode =
  | "INVALID_ORDER"
  | "INSTRUMENT_NOT_TRADABLE"
  | "MARKET_CLOSED"
  | "PRICE_OUT_OF_BAND"
  | "PRICE_NOT_ON_TICK"
  | "QUANTITY_NOT_LOT_MULTIPLE"
  | "QUANTITY_BELOW_MINIMUM"
  | "ORDER_VALUE_TOO_SMALL"
  | "ORDER_VALUE_TOO_LARGE"
  | "IDEMPOTENCY_KEY_REUSED"
  | "IDEMPOTENCY_KEY_IN_FLIGHT"
  | "INSUFFICIENT_FUNDS"
  | "INSUFFICIENT_POSITION"
  | "ORDER_NOT_FOUND"
  | "ORDER_NOT_CANCELLABLE"
  | "INVALID_TRANSITION"
  | "PERMISSION_DENIED"
  | "DEPENDENCY_UNAVAILABLE";

/** Which field of the request a validation failure is about, for `BadRequest` field violations. */
export interface FieldViolation {
  field: string;
  description: string;
}

/** A failure the orders domain expects and explains; `cause` is kept for logs, never sent to clients. */
export class OrderError extends Error {
  override readonly name = "OrderError";

  constructor(
    readonly code: OrderErrorCode,
    message: string,
    readonly fieldViolations: readonly FieldViolation[] = [],
    readonly metadata: Readonly<Record<string, string>> = {},
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** Builds an INVALID_ORDER error about one request field. */
export function invalidField(field: string, description: string): OrderError {
  return new OrderError("INVALID_ORDER", description, [{ field, description }]);
}

/**
 * Typed errors of the orders domain. Each carries a stable string code that clients match on (ErrorInfo reason) and
 * the platform error kind that decides the gRPC status; nothing here knows about transports.
 */
import { DomainError, type ErrorKind, type FieldViolation } from "../../platform/errors";

export type { FieldViolation };

/** Stable machine-readable codes of every failure the orders domain reports, with the kind of each. */
const KIND_BY_CODE = {
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
  // Another request with the key is still being worked on: retry shortly (the gRPC form of HTTP 409).
  IDEMPOTENCY_KEY_IN_FLIGHT: "aborted",
  // The order changed under a concurrent writer more often than the use case retries.
  INVALID_TRANSITION: "aborted",
  ORDER_NOT_FOUND: "not_found",
  PERMISSION_DENIED: "permission_denied",
  DEPENDENCY_UNAVAILABLE: "unavailable",
} as const satisfies Record<string, ErrorKind>;

export type OrderErrorCode = keyof typeof KIND_BY_CODE;

/** A failure the orders domain expects and explains; `cause` is kept for logs, never sent to clients. */
export class OrderError extends DomainError {
  declare readonly code: OrderErrorCode;

  constructor(
    code: OrderErrorCode,
    message: string,
    violations: readonly FieldViolation[] = [],
    metadata: Readonly<Record<string, string>> = {},
    options: { cause?: unknown; retryAfterMs?: number } = {},
  ) {
    super(KIND_BY_CODE[code], code, message, {
      ...(violations.length > 0 ? { violations } : {}),
      metadata,
      ...options,
      ...(code === "DEPENDENCY_UNAVAILABLE" && options.retryAfterMs === undefined ? { retryAfterMs: 200 } : {}),
    });
  }

  /** Field violations of a validation failure (empty for other failures). */
  get fieldViolations(): readonly FieldViolation[] {
    return this.violations ?? [];
  }
}

/** Builds an INVALID_ORDER error about one request field. */
export function invalidField(field: string, description: string): OrderError {
  return new OrderError("INVALID_ORDER", description, [{ field, description }]);
}

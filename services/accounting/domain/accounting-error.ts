/** A field-level reason attached to a validation failure (becomes a google.rpc BadRequest violation). */
export interface FieldViolation {
  field: string;
  description: string;
}

/**
 * Stable string codes of every failure the accounting domain can report. The transport edge maps each code
 * to one gRPC status; nothing here knows about gRPC.
 */
export type AccountingErrorCode =
  | "INVALID_ARGUMENT"
  | "EMPTY_BATCH"
  | "BATCH_TOO_LARGE"
  | "NOT_FOUND"
  | "PORTFOLIO_NOT_FOUND"
  | "INSUFFICIENT_FUNDS"
  | "INSUFFICIENT_POSITION"
  | "DAILY_LIMIT_EXCEEDED"
  | "IDEMPOTENCY_KEY_REUSED"
  | "RESERVATION_NOT_OPEN"
  | "COST_BASIS_METHOD_LOCKED"
  | "BATCH_IN_PROGRESS"
  | "MALFORMED_FILL"
  | "CONCURRENT_MODIFICATION"
  | "ALREADY_EXISTS"
  | "PERMISSION_DENIED";

/** A typed domain failure: `code` is stable, `message` is safe for clients, `cause` is kept for logs only. */
export class AccountingError extends Error {
  override readonly name = "AccountingError";

  constructor(
    readonly code: AccountingErrorCode,
    message: string,
    readonly fieldViolations: FieldViolation[] = [],
    readonly metadata: Record<string, string> = {},
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

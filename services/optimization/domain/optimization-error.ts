/** Stable codes of every failure the optimization domain can report. */
export type OptimizationErrorCode =
  | "INVALID_MODEL"
  | "INVALID_REBALANCE_INPUT"
  | "DUPLICATE_SECURITY"
  | "DUPLICATE_MODEL_NAME"
  | "POSITION_NOT_FOUND"
  | "TARGET_SUM_EXCEEDED"
  | "TOO_MANY_POSITIONS"
  | "UNKNOWN_SECURITY"
  | "MODEL_NOT_FOUND"
  | "PORTFOLIO_NOT_IN_MODEL"
  | "PROPOSAL_NOT_FOUND"
  | "VERSION_MISMATCH"
  | "MISSING_PRICE"
  | "NON_POSITIVE_MARKET_VALUE"
  | "NO_FEASIBLE_SOLUTION"
  | "SOLVER_LIMIT_REACHED";

/** One broken rule, naming the request field (dotted path) it concerns. */
export interface FieldViolation {
  field: string;
  description: string;
}

/** Structured context the transport turns into google.rpc details. */
export interface OptimizationErrorDetails {
  /** Field-level violations (become BadRequest.field_violations). */
  violations?: FieldViolation[];
  /** Securities the failure is about (missing prices, empty bounds). */
  securityIds?: string[];
  /** Short machine-readable reason below the code, e.g. "MIN_CASH". */
  reason?: string;
  /** Extra key/value metadata (becomes ErrorInfo.metadata). */
  metadata?: Record<string, string>;
}

/**
 * A domain failure with a stable code; the transport edge maps codes to gRPC statuses once.
 * `cause` is kept for logs only and never sent to a client.
 */
export class OptimizationError extends Error {
  readonly code: OptimizationErrorCode;
  readonly details: OptimizationErrorDetails;

  constructor(code: OptimizationErrorCode, message: string, details: OptimizationErrorDetails = {}, cause?: unknown) {
    super(message, cause === undefined ? undefined : { cause });
    this.name = "OptimizationError";
    this.code = code;
    this.details = details;
  }
}

// The one place accounting's domain error codes become platform errors (and so gRPC statuses with
// google.rpc details). The reason clients switch on is the domain code, or a finer reason the domain named.
import { DomainError, type ErrorKind } from "../../platform/errors";
import { AccountingError, type AccountingErrorCode } from "../domain/accounting-error";

const KIND: Record<AccountingErrorCode, ErrorKind> = {
  INVALID_ARGUMENT: "invalid",
  EMPTY_BATCH: "invalid",
  BATCH_TOO_LARGE: "invalid",
  MALFORMED_FILL: "invalid",
  NOT_FOUND: "not_found",
  PORTFOLIO_NOT_FOUND: "not_found",
  INSUFFICIENT_FUNDS: "failed_precondition",
  INSUFFICIENT_POSITION: "failed_precondition",
  DAILY_LIMIT_EXCEEDED: "failed_precondition",
  RESERVATION_NOT_OPEN: "failed_precondition",
  COST_BASIS_METHOD_LOCKED: "failed_precondition",
  IDEMPOTENCY_KEY_REUSED: "already_exists",
  ALREADY_EXISTS: "already_exists",
  BATCH_IN_PROGRESS: "aborted",
  CONCURRENT_MODIFICATION: "aborted",
  PERMISSION_DENIED: "permission_denied",
};

/** Converts an AccountingError into the platform's DomainError; anything else passes through untouched. */
export function toPlatformError(error: unknown): unknown {
  if (!(error instanceof AccountingError)) return error;
  const { reason, ...metadata } = error.metadata;
  const code = reason ?? (error.code === "INVALID_ARGUMENT" && error.fieldViolations.length > 0 ? invalidReason(error) : error.code);
  return new DomainError(KIND[error.code], code, error.message, {
    violations: error.fieldViolations.length > 0 ? error.fieldViolations : undefined,
    metadata,
    cause: error.cause,
  });
}

/** Amount problems of Deposit/Withdraw are INVALID_AMOUNT, as the contract names them; other fields keep the generic code. */
function invalidReason(error: AccountingError): string {
  return error.fieldViolations.some((v) => v.field === "amount") ? "INVALID_AMOUNT" : "INVALID_ARGUMENT";
}

/** Wraps every method of a service implementation so domain errors leave as platform errors. */
export function mapAccountingErrors<T extends object>(implementation: T): T {
  const wrapped: Record<string, unknown> = {};
  for (const [name, method] of Object.entries(implementation)) {
    wrapped[name] = async (...args: unknown[]) => {
      try {
        return await (method as (...a: unknown[]) => Promise<unknown>)(...args);
      } catch (error) {
        throw toPlatformError(error);
      }
    };
  }
  return wrapped as T;
}

// Constructors of the optimization domain's failures. They are platform DomainErrors (pure TypeScript, no gRPC),
// so the one transport mapping in services/platform/error-mapping.ts turns each kind into its status with
// ErrorInfo, BadRequest and PreconditionFailure details. Codes are stable strings clients switch on.
import {
  DomainError,
  failedPrecondition,
  invalid,
  type FieldViolation,
  type PreconditionViolation,
} from "../../platform/errors";

export { DomainError, type FieldViolation };

/** Metadata key under which the securities a failure is about travel, comma-separated. */
export const SECURITY_IDS_KEY = "security_ids";

/** The securities a rebalance failure names (missing prices, empty bounds), in order. */
export function securityIdsOf(error: DomainError): string[] {
  const joined = error.metadata?.[SECURITY_IDS_KEY];
  return joined ? joined.split(",") : [];
}

/** No integer solution exists: empty bounds for the named securities, or a cash minimum out of reach. */
export function noFeasibleSolution(
  message: string,
  securityIds: string[],
  reason: "EMPTY_BOUNDS" | "MIN_CASH",
  extra: Record<string, string> = {},
): DomainError {
  const preconditions: PreconditionViolation[] =
    securityIds.length > 0
      ? securityIds.map((id) => ({ type: "NO_FEASIBLE_SOLUTION", subject: `security/${id}`, description: "no admissible quantity within the drift bounds" }))
      : [{ type: "NO_FEASIBLE_SOLUTION", subject: "cash", description: message }];
  return failedPrecondition("NO_FEASIBLE_SOLUTION", message, {
    preconditions,
    metadata: { ...extra, reason, ...(securityIds.length > 0 ? { [SECURITY_IDS_KEY]: securityIds.join(",") } : {}) },
  });
}

/** Securities that must be priced have no price. */
export function missingPrice(securityIds: string[]): DomainError {
  return failedPrecondition("MISSING_PRICE", `Missing price for ${securityIds.join(", ")}`, {
    preconditions: securityIds.map((id) => ({ type: "MISSING_PRICE", subject: `security/${id}`, description: "no price" })),
    metadata: { [SECURITY_IDS_KEY]: securityIds.join(",") },
  });
}

/** Cash plus holdings is zero or negative: there is nothing to allocate. */
export function nonPositiveMarketValue(marketValue: string): DomainError {
  return failedPrecondition("NON_POSITIVE_MARKET_VALUE", "Market value must be positive", {
    metadata: { market_value: marketValue },
  });
}

/** Rebalance input that breaks a rule of its own fields (bad decimals, non-positive prices or lots). */
export function invalidRebalanceInput(message: string, violations: FieldViolation[], securityIds: string[] = []): DomainError {
  return invalid("INVALID_REBALANCE_INPUT", message, violations, {
    metadata: securityIds.length > 0 ? { [SECURITY_IDS_KEY]: securityIds.join(",") } : {},
  });
}

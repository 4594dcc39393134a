// Investment models and their rules (GlobeCo order generation R1–R16, with the reference's messages), as pure
// functions over immutable values. Field rules fail as INVALID_ARGUMENT with every broken field listed; model
// rules (sum of targets, number of positions, duplicates, unknown securities) as FAILED_PRECONDITION; a stale
// version as ABORTED. The reference answered 500 for several of these; here each has a code and its field.
import Decimal from "decimal.js";
import {
  aborted,
  failedPrecondition,
  invalid,
  notFound,
  type FieldViolation,
} from "../../platform/errors";

/** One security of a model: target weight and drift band, as fractions of portfolio market value. */
export interface ModelPosition {
  securityId: string;
  target: Decimal;
  lowDrift: Decimal;
  highDrift: Decimal;
}

/** A stored investment model. */
export interface InvestmentModel {
  modelId: string;
  name: string;
  /** Ordered by securityId; every target > 0. */
  positions: ModelPosition[];
  /** Unique portfolio ids in the order added. */
  portfolios: string[];
  version: number;
  lastRebalanceDate: Date | null;
  createTime: Date;
  updateTime: Date;
}

/** A position as it arrives on the wire (decimal strings). */
export interface PositionInput {
  securityId: string;
  target: string;
  lowDrift: string;
  highDrift: string;
}

/** The validated content of a create or update. */
export interface ModelContent {
  name: string;
  positions: ModelPosition[];
  portfolios: string[];
}

export const MAX_TARGET = new Decimal("0.95");
export const TARGET_INCREMENT = new Decimal("0.005");
export const MAX_TARGET_SUM = new Decimal("0.95");
export const MAX_POSITIONS = 100;
export const MAX_NAME_LENGTH = 255;

const SECURITY_ID = /^[A-Za-z0-9]{24}$/;
const PORTFOLIO_ID = /^[A-Za-z0-9]{24}$/;
const MODEL_ID = /^[a-f0-9]{24}$/;
const DECIMAL = /^-?\d+(\.\d+)?$/;

/** Validates a create/update payload: trims the name, drops zero targets, collapses duplicate portfolios. */
export function validateModelContent(name: string, positions: PositionInput[], portfolios: string[]): ModelContent {
  const violations: FieldViolation[] = [];
  const trimmed = name.trim();
  if (trimmed.length === 0) violations.push({ field: "name", description: "Model name cannot be empty" });
  else if (trimmed.length > MAX_NAME_LENGTH) {
    violations.push({ field: "name", description: `Model name must be at most ${MAX_NAME_LENGTH} characters` });
  }
  const parsed = positions.map((p, i) => parsePosition(p, `positions[${i}]`, violations));
  portfolios.forEach((id, i) => {
    if (!PORTFOLIO_ID.test(id)) violations.push({ field: `portfolios[${i}]`, description: "Portfolio ID must be exactly 24 alphanumeric characters" });
  });
  throwFieldViolations(violations);
  const kept = (parsed as ModelPosition[]).filter((p) => !p.target.isZero());
  const result = { name: trimmed, positions: sortPositions(kept), portfolios: [...new Set(portfolios)] };
  checkModelRules(result.positions, positions.map((p) => p.securityId));
  return result;
}

/** Adds a position or replaces the one of the same security; a zero target removes it. */
export function upsertPosition(model: InvestmentModel, input: PositionInput): ModelPosition[] {
  const violations: FieldViolation[] = [];
  const position = parsePosition(input, "position", violations);
  throwFieldViolations(violations);
  const others = model.positions.filter((p) => p.securityId !== input.securityId);
  const positions = position!.target.isZero() ? others : sortPositions([...others, position!]);
  checkModelRules(positions, positions.map((p) => p.securityId));
  return positions;
}

/** Removes the position of one security; NOT_FOUND when the model has none. */
export function removePosition(model: InvestmentModel, securityId: string): ModelPosition[] {
  if (!model.positions.some((p) => p.securityId === securityId)) {
    throw notFound("POSITION_NOT_FOUND", `Position not found for security ${securityId}`, {
      metadata: { security_id: securityId },
    });
  }
  return model.positions.filter((p) => p.securityId !== securityId);
}

/** Adds portfolios; ids already present (or repeated) are ignored, as the GlobeCo spec says. */
export function addPortfolios(model: InvestmentModel, ids: string[]): { portfolios: string[]; changed: boolean } {
  checkPortfolioIds(ids);
  const portfolios = [...new Set([...model.portfolios, ...ids])];
  return { portfolios, changed: portfolios.length !== model.portfolios.length };
}

/** Removes portfolios; ids not in the model are ignored. */
export function removePortfolios(model: InvestmentModel, ids: string[]): { portfolios: string[]; changed: boolean } {
  checkPortfolioIds(ids);
  const removing = new Set(ids);
  const portfolios = model.portfolios.filter((id) => !removing.has(id));
  return { portfolios, changed: portfolios.length !== model.portfolios.length };
}

/** ABORTED unless `expected` is the stored version; 0 skips the check where the contract allows it. */
export function checkVersion(model: InvestmentModel, expected: number, zeroSkips: boolean): void {
  if (zeroSkips && expected === 0) return;
  if (expected !== model.version) {
    throw aborted("VERSION_MISMATCH", "Model has been modified by another process", {
      metadata: { expected_version: String(expected), current_version: String(model.version) },
    });
  }
}

/** FAILED_PRECONDITION naming the model securities market data does not know. */
export function checkSecuritiesExist(positions: ModelPosition[], known: ReadonlySet<string>): void {
  const unknown = positions.map((p) => p.securityId).filter((id) => !known.has(id));
  if (unknown.length > 0) {
    throw failedPrecondition("UNKNOWN_SECURITY", `Unknown securities: ${unknown.join(", ")}`, {
      preconditions: unknown.map((id) => ({ type: "UNKNOWN_SECURITY", subject: `security/${id}`, description: "not in market data" })),
      metadata: { security_ids: unknown.join(",") },
    });
  }
}

/** INVALID_ARGUMENT unless `id` is a model id (24 lower-case hex characters). */
export function checkModelId(id: string, field = "model_id"): void {
  if (!MODEL_ID.test(id)) {
    throw invalid("INVALID_MODEL_ID", "Invalid model ID format. Must be 24-character hexadecimal string.", [
      { field, description: "must be 24 hexadecimal characters" },
    ]);
  }
}

/** INVALID_ARGUMENT unless `id` is a portfolio id (24 alphanumeric characters). */
export function checkPortfolioId(id: string, field = "portfolio_id"): void {
  if (!PORTFOLIO_ID.test(id)) {
    throw invalid("INVALID_PORTFOLIO_ID", "Invalid portfolio ID format", [{ field, description: "must be 24 alphanumeric characters" }]);
  }
}

function checkPortfolioIds(ids: string[]): void {
  const violations: FieldViolation[] = [];
  if (ids.length === 0) violations.push({ field: "portfolios", description: "at least one portfolio id is required" });
  ids.forEach((id, i) => {
    if (!PORTFOLIO_ID.test(id)) violations.push({ field: `portfolios[${i}]`, description: "Portfolio ID must be exactly 24 alphanumeric characters" });
  });
  if (violations.length > 0) throw invalid("INVALID_PORTFOLIO_ID", violations[0].description, violations);
}

// Field rules R1, R2, R5, R6, R7 with the reference's messages; pushes violations instead of throwing so a
// client sees every broken field at once.
function parsePosition(p: PositionInput, path: string, violations: FieldViolation[]): ModelPosition | null {
  const before = violations.length;
  if (p.securityId.length !== 24) violations.push({ field: `${path}.security_id`, description: "Security ID must be exactly 24 characters" });
  else if (!SECURITY_ID.test(p.securityId)) {
    violations.push({ field: `${path}.security_id`, description: "Security ID must contain only alphanumeric characters" });
  }
  const target = decimalField(p.target, `${path}.target`, violations);
  const low = decimalField(p.lowDrift, `${path}.low_drift`, violations);
  const high = decimalField(p.highDrift, `${path}.high_drift`, violations);
  if (target !== null) {
    if (target.lt(0) || target.gt(MAX_TARGET)) {
      violations.push({ field: `${path}.target`, description: "Target percentage must be between 0 and 0.95" });
    } else if (!target.mod(TARGET_INCREMENT).isZero()) {
      violations.push({ field: `${path}.target`, description: "Target percentage must be 0 or a multiple of 0.005" });
    }
  }
  for (const [value, field] of [[low, "low_drift"], [high, "high_drift"]] as const) {
    if (value !== null && (value.lt(0) || value.gt(1))) {
      violations.push({ field: `${path}.${field}`, description: "Drift bounds must be between 0 and 1.0" });
    }
  }
  if (low !== null && high !== null && low.gt(high)) {
    violations.push({ field: `${path}.low_drift`, description: "Low drift cannot exceed high drift" });
  }
  if (violations.length > before) return null;
  return { securityId: p.securityId, target: target!, lowDrift: low!, highDrift: high! };
}

function decimalField(value: string, field: string, violations: FieldViolation[]): Decimal | null {
  if (!DECIMAL.test(value.trim())) {
    violations.push({ field, description: `must be a decimal number, got "${value}"` });
    return null;
  }
  return new Decimal(value.trim());
}

// Codes of the field rules, in the order a client would fix them; the error's code is the first one broken.
const FIELD_RULE_CODES: Array<[RegExp, string]> = [
  [/^name$/, "INVALID_NAME"],
  [/security_id$/, "INVALID_SECURITY_ID"],
  [/^portfolios/, "INVALID_PORTFOLIO_ID"],
];

function throwFieldViolations(violations: FieldViolation[]): void {
  if (violations.length === 0) return;
  const first = violations[0];
  let code = FIELD_RULE_CODES.find(([pattern]) => pattern.test(first.field))?.[1];
  if (code === undefined) {
    if (first.description.startsWith("Target percentage must be between")) code = "TARGET_OUT_OF_RANGE";
    else if (first.description.startsWith("Target percentage must be 0 or a multiple")) code = "TARGET_NOT_MULTIPLE";
    else if (first.description.startsWith("Low drift cannot exceed")) code = "LOW_DRIFT_ABOVE_HIGH";
    else if (first.description.startsWith("Drift bounds")) code = "DRIFT_OUT_OF_RANGE";
    else code = "INVALID_DECIMAL";
  }
  throw invalid(code, first.description, violations);
}

// Model rules R3, R4, R8 on the positions that will be stored; `ids` are all submitted ids (zero targets too),
// because a duplicate is a mistake in the request even when one copy has target 0.
function checkModelRules(positions: ModelPosition[], ids: string[]): void {
  const seen = new Set<string>();
  const duplicates = [...new Set(ids.filter((id) => (seen.has(id) ? true : (seen.add(id), false))))];
  if (duplicates.length > 0) {
    throw failedPrecondition("DUPLICATE_SECURITY", "Duplicate securities found in model", {
      preconditions: duplicates.map((id) => ({ type: "DUPLICATE_SECURITY", subject: `security/${id}`, description: "appears more than once" })),
      metadata: { security_ids: duplicates.join(",") },
    });
  }
  const sum = positions.reduce((total, p) => total.plus(p.target), new Decimal(0));
  if (sum.gt(MAX_TARGET_SUM)) {
    throw failedPrecondition("TARGET_SUM_EXCEEDED", `Position targets sum (${sum.toFixed()}) exceeds maximum (0.95)`, {
      metadata: { target_sum: sum.toFixed(), max_target_sum: "0.95" },
    });
  }
  if (positions.length > MAX_POSITIONS) {
    throw failedPrecondition(
      "TOO_MANY_POSITIONS",
      `Maximum of ${MAX_POSITIONS} positions with non-zero targets allowed, found ${positions.length}`,
      { metadata: { positions: String(positions.length), max_positions: String(MAX_POSITIONS) } },
    );
  }
}

function sortPositions(positions: ModelPosition[]): ModelPosition[] {
  return [...positions].sort((a, b) => (a.securityId < b.securityId ? -1 : a.securityId > b.securityId ? 1 : 0));
}

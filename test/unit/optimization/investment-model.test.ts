import { expect } from "chai";
import Decimal from "decimal.js";
import { DomainError } from "../../../services/platform/errors";
import {
  addPortfolios,
  checkModelId,
  checkSecuritiesExist,
  checkVersion,
  InvestmentModel,
  PositionInput,
  removePortfolios,
  removePosition,
  upsertPosition,
  validateModelContent,
} from "../../../services/optimization/domain/investment-model";

const sec = (n: number) => `SEC${String(n).padStart(21, "0")}`;
const pf = (n: number) => `PF${String(n).padStart(22, "0")}`;
const position = (id: string, target: string, low = "0.02", high = "0.02"): PositionInput => ({ securityId: id, target, lowDrift: low, highDrift: high });

function failure(action: () => unknown): DomainError {
  try {
    action();
  } catch (error) {
    if (error instanceof DomainError) return error;
    throw error;
  }
  throw new Error("expected a DomainError");
}

function model(positions: PositionInput[], portfolios = [pf(1)]): InvestmentModel {
  const content = validateModelContent("Balanced", positions, portfolios);
  const now = new Date();
  return { modelId: "a".repeat(24), ...content, version: 3, lastRebalanceDate: null, createTime: now, updateTime: now };
}

describe("investment model rules", () => {
  it("accepts a valid model, trims its name, drops zero targets and collapses duplicate portfolios", () => {
    const content = validateModelContent("  Balanced  ", [position(sec(2), "0.5"), position(sec(1), "0.015"), position(sec(3), "0")], [pf(1), pf(1), pf(2)]);
    expect(content.name).to.equal("Balanced");
    expect(content.positions.map((p) => [p.securityId, p.target.toFixed()])).to.deep.equal([[sec(1), "0.015"], [sec(2), "0.5"]]);
    expect(content.portfolios).to.deep.equal([pf(1), pf(2)]);
  });

  it("rejects a target above 0.95 as INVALID_ARGUMENT on the field, with the reference's message", () => {
    const error = failure(() => validateModelContent("M", [position(sec(1), "0.96")], []));
    expect(error.kind).to.equal("invalid");
    expect(error.code).to.equal("TARGET_OUT_OF_RANGE");
    expect(error.violations).to.deep.equal([{ field: "positions[0].target", description: "Target percentage must be between 0 and 0.95" }]);
  });

  it("rejects a target that is not a multiple of 0.005 using exact decimal arithmetic (0.0125 no, 0.015 yes)", () => {
    const error = failure(() => validateModelContent("M", [position(sec(1), "0.0125")], []));
    expect(error.code).to.equal("TARGET_NOT_MULTIPLE");
    expect(error.violations![0].description).to.equal("Target percentage must be 0 or a multiple of 0.005");
    expect(() => validateModelContent("M", [position(sec(1), "0.015")], [])).not.to.throw();
  });

  it("rejects drifts outside [0, 1] and a low drift above the high drift, listing every broken field", () => {
    const error = failure(() => validateModelContent("M", [position(sec(1), "0.1", "1.5", "0.02"), position(sec(2), "0.1", "0.05", "0.01")], []));
    expect(error.code).to.equal("DRIFT_OUT_OF_RANGE");
    expect(error.violations).to.deep.equal([
      { field: "positions[0].low_drift", description: "Drift bounds must be between 0 and 1.0" },
      { field: "positions[0].low_drift", description: "Low drift cannot exceed high drift" },
      { field: "positions[1].low_drift", description: "Low drift cannot exceed high drift" },
    ]);
  });

  it("rejects a security id that is not 24 alphanumeric characters", () => {
    const error = failure(() => validateModelContent("M", [position("SHORT", "0.1"), position("X".repeat(23) + "-", "0.1")], []));
    expect(error.code).to.equal("INVALID_SECURITY_ID");
    expect(error.violations!.map((v) => v.description)).to.deep.equal([
      "Security ID must be exactly 24 characters",
      "Security ID must contain only alphanumeric characters",
    ]);
  });

  it("rejects an empty name and a malformed portfolio id", () => {
    const error = failure(() => validateModelContent("   ", [], ["nope"]));
    expect(error.code).to.equal("INVALID_NAME");
    expect(error.violations!.map((v) => v.field)).to.deep.equal(["name", "portfolios[0]"]);
  });

  it("refuses targets summing above 0.95 as FAILED_PRECONDITION TARGET_SUM_EXCEEDED", () => {
    const error = failure(() => validateModelContent("M", [position(sec(1), "0.5"), position(sec(2), "0.455")], []));
    expect(error.kind).to.equal("failed_precondition");
    expect(error.code).to.equal("TARGET_SUM_EXCEEDED");
    expect(error.message).to.equal("Position targets sum (0.955) exceeds maximum (0.95)");
  });

  it("refuses more than 100 positions with a non-zero target, but not zero-target extras", () => {
    const many = Array.from({ length: 101 }, (_, i) => position(sec(i), "0.005"));
    const error = failure(() => validateModelContent("M", many, []));
    expect(error.kind).to.equal("failed_precondition");
    expect(error.code).to.equal("TOO_MANY_POSITIONS");
    expect(error.message).to.equal("Maximum of 100 positions with non-zero targets allowed, found 101");
    const withZeros = [...many.slice(0, 100), ...Array.from({ length: 5 }, (_, i) => position(sec(200 + i), "0"))];
    expect(validateModelContent("M", withZeros, []).positions).to.have.length(100);
  });

  it("refuses a security listed twice as DUPLICATE_SECURITY naming it", () => {
    const error = failure(() => validateModelContent("M", [position(sec(1), "0.1"), position(sec(1), "0.2")], []));
    expect(error.kind).to.equal("failed_precondition");
    expect(error.code).to.equal("DUPLICATE_SECURITY");
    expect(error.message).to.equal("Duplicate securities found in model");
    expect(error.metadata).to.deep.include({ security_ids: sec(1) });
  });

  it("names securities market data does not know as UNKNOWN_SECURITY", () => {
    const m = model([position(sec(1), "0.1"), position(sec(2), "0.1")]);
    const error = failure(() => checkSecuritiesExist(m.positions, new Set([sec(1)])));
    expect(error.code).to.equal("UNKNOWN_SECURITY");
    expect(error.metadata).to.deep.include({ security_ids: sec(2) });
  });

  it("upserts a position, removes it on a zero target, and checks the sum on the result", () => {
    const m = model([position(sec(1), "0.5"), position(sec(2), "0.4")]);
    expect(upsertPosition(m, position(sec(3), "0.05")).map((p) => p.securityId)).to.deep.equal([sec(1), sec(2), sec(3)]);
    expect(upsertPosition(m, position(sec(2), "0.45")).find((p) => p.securityId === sec(2))!.target.toFixed()).to.equal("0.45");
    expect(upsertPosition(m, position(sec(2), "0")).map((p) => p.securityId)).to.deep.equal([sec(1)]);
    expect(failure(() => upsertPosition(m, position(sec(3), "0.1"))).code).to.equal("TARGET_SUM_EXCEEDED");
  });

  it("removes a position, and answers NOT_FOUND POSITION_NOT_FOUND for a security not in the model", () => {
    const m = model([position(sec(1), "0.5")]);
    expect(removePosition(m, sec(1))).to.deep.equal([]);
    const error = failure(() => removePosition(m, sec(9)));
    expect(error.kind).to.equal("not_found");
    expect(error.message).to.equal(`Position not found for security ${sec(9)}`);
  });

  it("ignores portfolios already in the model on add and unknown ones on remove", () => {
    const m = model([], [pf(1), pf(2)]);
    expect(addPortfolios(m, [pf(2), pf(3), pf(3)])).to.deep.equal({ portfolios: [pf(1), pf(2), pf(3)], changed: true });
    expect(addPortfolios(m, [pf(1)])).to.deep.equal({ portfolios: [pf(1), pf(2)], changed: false });
    expect(removePortfolios(m, [pf(2), pf(9)])).to.deep.equal({ portfolios: [pf(1)], changed: true });
    expect(removePortfolios(m, [pf(9)]).changed).to.equal(false);
  });

  it("answers ABORTED VERSION_MISMATCH for a stale version, and lets 0 skip the check where allowed", () => {
    const m = model([]);
    const error = failure(() => checkVersion(m, 2, false));
    expect(error.kind).to.equal("aborted");
    expect(error.message).to.equal("Model has been modified by another process");
    expect(() => checkVersion(m, 0, true)).not.to.throw();
    expect(() => checkVersion(m, 3, false)).not.to.throw();
    expect(failure(() => checkVersion(m, 0, false)).code).to.equal("VERSION_MISMATCH");
  });

  it("rejects a model id that is not 24 hexadecimal characters with the reference's message", () => {
    const error = failure(() => checkModelId("xyz"));
    expect(error.code).to.equal("INVALID_MODEL_ID");
    expect(error.message).to.equal("Invalid model ID format. Must be 24-character hexadecimal string.");
    expect(() => checkModelId("0123456789abcdef01234567")).not.to.throw();
  });

  it("keeps targets as exact decimals", () => {
    const m = model([position(sec(1), "0.105")]);
    expect(m.positions[0].target.equals(new Decimal("0.105"))).to.equal(true);
  });
});

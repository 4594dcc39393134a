import { expect } from "chai";
import { randomBytes } from "node:crypto";
import { Status } from "nice-grpc";
import { register } from "../../../services/optimization/main";
import { startSystem, type TestSystem } from "../../support/system";
import { FakeMarket } from "./fake-market";
import { failureOf, richClients } from "./rich-client";

const id24 = (prefix: string) => (prefix + randomBytes(12).toString("hex")).slice(0, 24);

describe("ModelService rules over gRPC", function () {
  this.timeout(60_000);
  const market = new FakeMarket();
  const A = id24("SECA");
  const B = id24("SECB");
  const portfolio = id24("PF");
  let system: TestSystem;
  let rich: Awaited<ReturnType<typeof richClients>>;
  const position = (securityId: string, target: string, drift = "0.02") => ({ securityId, target, lowDrift: drift, highDrift: drift });
  const uniqueName = () => `model-${randomBytes(4).toString("hex")}`;

  before(async () => {
    market.add(`A${randomBytes(2).toString("hex").toUpperCase()}`, A, "50");
    market.add(`B${randomBytes(2).toString("hex").toUpperCase()}`, B, "37");
    system = await startSystem([market.register(), register], { env: { OPTIMIZATION_SOLVER_WORKERS: "0" } });
    rich = await richClients(system);
  });
  after(async () => {
    rich?.close();
    await system?.stop();
  });

  it("creates a model, dropping zero targets and duplicate portfolios, at version 1", async () => {
    const { model } = await system.clients.models.createModel({
      name: `  ${uniqueName()}  `,
      positions: [position(A, "0.50"), position(B, "0")],
      portfolios: [portfolio, portfolio],
    });
    expect(model!.version).to.equal(1);
    expect(model!.positions.map((p) => [p.securityId, p.target])).to.deep.equal([[A, "0.5"]]);
    expect(model!.portfolios).to.deep.equal([portfolio]);
    expect(model!.modelId).to.match(/^[0-9a-f]{24}$/);
  });

  it("answers INVALID_ARGUMENT with every broken field for field rules", async () => {
    const seen = await failureOf(rich.models.createModel({ name: uniqueName(), positions: [position(A, "0.0125"), position(B, "0.96")], portfolios: [] }));
    expect(seen.code).to.equal(Status.INVALID_ARGUMENT);
    expect(seen.reason).to.equal("TARGET_NOT_MULTIPLE");
    expect(seen.fieldViolations).to.deep.equal([
      { field: "positions[0].target", description: "Target percentage must be 0 or a multiple of 0.005" },
      { field: "positions[1].target", description: "Target percentage must be between 0 and 0.95" },
    ]);
    const drift = await failureOf(rich.models.createModel({ name: uniqueName(), positions: [{ securityId: A, target: "0.1", lowDrift: "0.05", highDrift: "0.01" }], portfolios: [] }));
    expect(drift.reason).to.equal("LOW_DRIFT_ABOVE_HIGH");
    expect(drift.fieldViolations[0].field).to.equal("positions[0].low_drift");
  });

  it("answers FAILED_PRECONDITION for model rules: target sum, duplicates, unknown securities", async () => {
    const sum = await failureOf(rich.models.createModel({ name: uniqueName(), positions: [position(A, "0.5"), position(B, "0.5")], portfolios: [] }));
    expect([sum.code, sum.reason, sum.message]).to.deep.equal([Status.FAILED_PRECONDITION, "TARGET_SUM_EXCEEDED", "Position targets sum (1) exceeds maximum (0.95)"]);
    const dup = await failureOf(rich.models.createModel({ name: uniqueName(), positions: [position(A, "0.1"), position(A, "0.2")], portfolios: [] }));
    expect([dup.code, dup.reason, dup.metadata.security_ids]).to.deep.equal([Status.FAILED_PRECONDITION, "DUPLICATE_SECURITY", A]);
    const ghost = id24("GHOST");
    const unknown = await failureOf(rich.models.createModel({ name: uniqueName(), positions: [position(ghost, "0.1")], portfolios: [] }));
    expect([unknown.code, unknown.reason, unknown.metadata.security_ids]).to.deep.equal([Status.FAILED_PRECONDITION, "UNKNOWN_SECURITY", ghost]);
  });

  it("answers ALREADY_EXISTS for a taken name with other content, and returns the model on a same-content retry", async () => {
    const name = uniqueName();
    const { model } = await system.clients.models.createModel({ name, positions: [position(A, "0.3")], portfolios: [] });
    const retry = await system.clients.models.createModel({ name, positions: [position(A, "0.30")], portfolios: [] });
    expect(retry.model!.modelId).to.equal(model!.modelId);
    const taken = await failureOf(rich.models.createModel({ name, positions: [position(B, "0.3")], portfolios: [] }));
    expect([taken.code, taken.reason]).to.deep.equal([Status.ALREADY_EXISTS, "MODEL_NAME_TAKEN"]);
  });

  it("updates with optimistic concurrency: the stale version is ABORTED and changes nothing", async () => {
    const { model } = await system.clients.models.createModel({ name: uniqueName(), positions: [position(A, "0.3")], portfolios: [] });
    const updated = await system.clients.models.updateModel({ modelId: model!.modelId, name: model!.name, positions: [position(A, "0.4")], portfolios: [portfolio], version: 1 });
    expect(updated.model!.version).to.equal(2);
    const stale = await failureOf(rich.models.updateModel({ modelId: model!.modelId, name: model!.name, positions: [position(A, "0.2")], portfolios: [], version: 1 }));
    expect([stale.code, stale.reason, stale.message]).to.deep.equal([Status.ABORTED, "VERSION_MISMATCH", "Model has been modified by another process"]);
    const { model: stored } = await system.clients.models.getModel({ modelId: model!.modelId });
    expect(stored!.positions[0].target).to.equal("0.4");
  });

  it("ignores duplicate portfolios on add and unknown ones on remove; position upserts keep the sum rule", async () => {
    const other = id24("PF");
    const { model } = await system.clients.models.createModel({ name: uniqueName(), positions: [position(A, "0.5")], portfolios: [portfolio] });
    const added = await system.clients.models.addModelPortfolios({ modelId: model!.modelId, portfolios: [portfolio, other], version: 0 });
    expect(added.model!.portfolios).to.deep.equal([portfolio, other]);
    const again = await system.clients.models.addModelPortfolios({ modelId: model!.modelId, portfolios: [portfolio], version: 0 });
    expect(again.model!.version).to.equal(added.model!.version);
    const removed = await system.clients.models.removeModelPortfolios({ modelId: model!.modelId, portfolios: [id24("NOPE"), other], version: 0 });
    expect(removed.model!.portfolios).to.deep.equal([portfolio]);
    const over = await failureOf(rich.models.upsertModelPosition({ modelId: model!.modelId, position: position(B, "0.5"), version: 0 }));
    expect(over.reason).to.equal("TARGET_SUM_EXCEEDED");
    const gone = await failureOf(rich.models.removeModelPosition({ modelId: model!.modelId, securityId: B, version: 0 }));
    expect([gone.code, gone.reason]).to.deep.equal([Status.NOT_FOUND, "POSITION_NOT_FOUND"]);
  });

  it("answers NOT_FOUND for an unknown model and INVALID_ARGUMENT for a malformed id", async () => {
    const missing = await failureOf(rich.models.getModel({ modelId: "0".repeat(24) }));
    expect([missing.code, missing.reason]).to.deep.equal([Status.NOT_FOUND, "MODEL_NOT_FOUND"]);
    const malformed = await failureOf(rich.models.getModel({ modelId: "not-an-id" }));
    expect([malformed.code, malformed.reason]).to.deep.equal([Status.INVALID_ARGUMENT, "INVALID_MODEL_ID"]);
  });

  it("lists models newest first with paging", async () => {
    const first = await system.clients.models.listModels({ pageSize: 2 });
    expect(first.models).to.have.length(2);
    expect(first.nextPageToken).to.not.equal("");
    const second = await system.clients.models.listModels({ pageSize: 2, pageToken: first.nextPageToken });
    expect(second.models[0].modelId).to.not.equal(first.models[1].modelId);
    expect(first.models[0].createTime!.getTime()).to.be.at.least(first.models[1].createTime!.getTime());
  });
});

// The ModelService use cases: validate with the model rules, check the securities against market data, then
// write through the repository, which enforces name uniqueness and the version check atomically.
import { alreadyExists, notFound } from "../../platform/errors";
import {
  addPortfolios,
  checkModelId,
  checkPortfolioId,
  checkSecuritiesExist,
  checkVersion,
  removePortfolios,
  removePosition,
  upsertPosition,
  validateModelContent,
  type InvestmentModel,
  type ModelContent,
  type ModelPosition,
  type PositionInput,
} from "./investment-model";

export interface ModelDeps {
  models: {
    get(modelId: string): Promise<InvestmentModel | null>;
    findByName(name: string): Promise<InvestmentModel | null>;
    /** Inserts version 1; ALREADY_EXISTS MODEL_NAME_TAKEN if the name is taken. */
    create(model: InvestmentModel): Promise<InvestmentModel>;
    /** Writes `next` if the stored version is still `next.version - 1`; ABORTED VERSION_MISMATCH otherwise. */
    replace(next: InvestmentModel): Promise<InvestmentModel>;
    /** Deletes if the stored version is `version`; ABORTED VERSION_MISMATCH otherwise, NOT_FOUND if absent. */
    delete(modelId: string, version: number): Promise<void>;
  };
  /** Which of these security ids market data knows. */
  knownSecurities(securityIds: string[]): Promise<Set<string>>;
  newModelId(): string;
  now(): Date;
}

/** Creates a model; a retry with the same content returns the existing model. */
export async function createModel(deps: ModelDeps, name: string, positions: PositionInput[], portfolios: string[]): Promise<InvestmentModel> {
  const content = validateModelContent(name, positions, portfolios);
  await checkKnown(deps, content.positions);
  const existing = await deps.models.findByName(content.name);
  if (existing !== null) return sameOrTaken(existing, content);
  const now = deps.now();
  try {
    return await deps.models.create({ modelId: deps.newModelId(), ...content, version: 1, lastRebalanceDate: null, createTime: now, updateTime: now });
  } catch (error) {
    // Two creates raced on one name: the loser sees the winner, which is its safe retry if the content matches.
    const winner = await deps.models.findByName(content.name);
    if (winner !== null) return sameOrTaken(winner, content);
    throw error;
  }
}

/** Loads a model or answers NOT_FOUND. */
export async function getModel(deps: Pick<ModelDeps, "models">, modelId: string): Promise<InvestmentModel> {
  checkModelId(modelId);
  const model = await deps.models.get(modelId);
  if (model === null) throw notFound("MODEL_NOT_FOUND", `Model ${modelId} not found`, { metadata: { model_id: modelId } });
  return model;
}

/** Replaces name, positions and portfolios when `version` matches. */
export async function updateModel(deps: ModelDeps, modelId: string, version: number, name: string, positions: PositionInput[], portfolios: string[]): Promise<InvestmentModel> {
  const model = await getModel(deps, modelId);
  checkVersion(model, version, false);
  const content = validateModelContent(name, positions, portfolios);
  await checkKnown(deps, content.positions);
  return deps.models.replace({ ...model, ...content, version: model.version + 1, updateTime: deps.now() });
}

/** Deletes a model when `version` matches. */
export async function deleteModel(deps: ModelDeps, modelId: string, version: number): Promise<void> {
  const model = await getModel(deps, modelId);
  checkVersion(model, version, false);
  await deps.models.delete(modelId, version);
}

/** Adds or replaces one position (target 0 removes it). */
export async function upsertModelPosition(deps: ModelDeps, modelId: string, version: number, position: PositionInput): Promise<InvestmentModel> {
  const model = await getModel(deps, modelId);
  checkVersion(model, version, true);
  const positions = upsertPosition(model, position);
  await checkKnown(deps, positions.filter((p) => p.securityId === position.securityId));
  return deps.models.replace({ ...model, positions, version: model.version + 1, updateTime: deps.now() });
}

/** Removes one position. */
export async function removeModelPosition(deps: ModelDeps, modelId: string, version: number, securityId: string): Promise<InvestmentModel> {
  const model = await getModel(deps, modelId);
  checkVersion(model, version, true);
  return deps.models.replace({ ...model, positions: removePosition(model, securityId), version: model.version + 1, updateTime: deps.now() });
}

/** Adds portfolios (ids already present are ignored; nothing changes, not even the version, if all were). */
export async function addModelPortfolios(deps: ModelDeps, modelId: string, version: number, ids: string[]): Promise<InvestmentModel> {
  const model = await getModel(deps, modelId);
  checkVersion(model, version, true);
  const { portfolios, changed } = addPortfolios(model, ids);
  return changed ? deps.models.replace({ ...model, portfolios, version: model.version + 1, updateTime: deps.now() }) : model;
}

/** Removes portfolios (unknown ids are ignored). */
export async function removeModelPortfolios(deps: ModelDeps, modelId: string, version: number, ids: string[]): Promise<InvestmentModel> {
  const model = await getModel(deps, modelId);
  checkVersion(model, version, true);
  const { portfolios, changed } = removePortfolios(model, ids);
  return changed ? deps.models.replace({ ...model, portfolios, version: model.version + 1, updateTime: deps.now() }) : model;
}

export { checkPortfolioId };

async function checkKnown(deps: ModelDeps, positions: ModelPosition[]): Promise<void> {
  if (positions.length === 0) return;
  checkSecuritiesExist(positions, await deps.knownSecurities(positions.map((p) => p.securityId)));
}

function sameOrTaken(existing: InvestmentModel, content: ModelContent): InvestmentModel {
  const key = (c: ModelContent) =>
    JSON.stringify([c.positions.map((p) => [p.securityId, p.target.toFixed(), p.lowDrift.toFixed(), p.highDrift.toFixed()]), [...c.portfolios].sort()]);
  if (key(existing) === key(content)) return existing;
  throw alreadyExists("MODEL_NAME_TAKEN", `A model named "${content.name}" already exists`, { metadata: { model_id: existing.modelId } });
}

// tradeplane.optimization.v1.ModelService: transport only. Each handler checks the caller's role, calls the
// use case and shapes the response; DomainErrors become statuses in the platform's error mapping.
import type { ModelServiceImplementation } from "../../../generated/tradeplane/optimization/v1/model_service";
import { requireRole } from "../../platform/auth";
import type { TradeplaneCallContext } from "../../platform/grpc-server";
import {
  addModelPortfolios,
  createModel,
  deleteModel,
  getModel,
  removeModelPortfolios,
  removeModelPosition,
  updateModel,
  upsertModelPosition,
  type ModelDeps,
} from "../domain/manage-models";
import type { ModelStore } from "../adapters/model-store";
import { decodePageToken, encodePageToken, modelToWire, pageSizeOf, positionFromWire } from "./wire";

/** Model management is for traders and operators; any authenticated caller may read. */
const EDITORS = ["trader", "admin", "service"] as const;

/** Builds the ModelService handlers. */
export function createModelService(deps: ModelDeps & { store: ModelStore }): ModelServiceImplementation<TradeplaneCallContext> {
  return {
    async createModel(request, context) {
      requireRole(context.principal, ...EDITORS);
      const model = await createModel(deps, request.name, request.positions.map(positionFromWire), request.portfolios);
      return { model: modelToWire(model) };
    },

    async getModel(request) {
      return { model: modelToWire(await getModel(deps, request.modelId)) };
    },

    async listModels(request) {
      const after = decodePageToken(request.pageToken);
      const page = await deps.store.list(
        { portfolioId: request.portfolioId, nameContains: request.nameContains.slice(0, 255) },
        pageSizeOf(request.pageSize),
        after === null ? null : { createTime: after.createTime, modelId: after.id },
      );
      return {
        models: page.models.map(modelToWire),
        nextPageToken: encodePageToken(page.next === null ? null : { createTime: page.next.createTime, id: page.next.modelId }),
      };
    },

    async updateModel(request, context) {
      requireRole(context.principal, ...EDITORS);
      const model = await updateModel(deps, request.modelId, request.version, request.name, request.positions.map(positionFromWire), request.portfolios);
      return { model: modelToWire(model) };
    },

    async deleteModel(request, context) {
      requireRole(context.principal, ...EDITORS);
      await deleteModel(deps, request.modelId, request.version);
      return {};
    },

    async upsertModelPosition(request, context) {
      requireRole(context.principal, ...EDITORS);
      return { model: modelToWire(await upsertModelPosition(deps, request.modelId, request.version, positionFromWire(request.position))) };
    },

    async removeModelPosition(request, context) {
      requireRole(context.principal, ...EDITORS);
      return { model: modelToWire(await removeModelPosition(deps, request.modelId, request.version, request.securityId)) };
    },

    async addModelPortfolios(request, context) {
      requireRole(context.principal, ...EDITORS);
      return { model: modelToWire(await addModelPortfolios(deps, request.modelId, request.version, request.portfolios)) };
    },

    async removeModelPortfolios(request, context) {
      requireRole(context.principal, ...EDITORS);
      return { model: modelToWire(await removeModelPortfolios(deps, request.modelId, request.version, request.portfolios)) };
    },
  };
}

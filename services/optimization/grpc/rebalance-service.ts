// tradeplane.optimization.v1.RebalanceService: transport only. Object-level authorization (the caller must be
// allowed on every portfolio it touches) happens here, before the use case runs.
import type { RebalanceServiceImplementation, RebalanceModelResponse } from "../../../generated/tradeplane/optimization/v1/rebalance_service";
import { authorizePortfolio } from "../../platform/auth";
import { notFound } from "../../platform/errors";
import type { TradeplaneCallContext } from "../../platform/grpc-server";
import type { Logger } from "../../platform/logger";
import type { ProposalStore } from "../adapters/proposal-store";
import type { OptimizationConfig } from "../config";
import { executeProposal, type ExecuteDeps } from "../domain/execute-proposal";
import { checkModelId, checkPortfolioId } from "../domain/investment-model";
import { rebalanceModel } from "../domain/rebalance-model";
import { rebalancePortfolio, type RebalanceDeps } from "../domain/rebalance-portfolio";
import { decodePageToken, encodePageToken, optionsFromWire, pageSizeOf, proposalToWire, sideToWire } from "./wire";

export interface RebalanceServiceDeps {
  rebalance: RebalanceDeps;
  execute: ExecuteDeps;
  proposals: ProposalStore;
  config: OptimizationConfig;
  logger: Logger;
}

/** Builds the RebalanceService handlers. */
export function createRebalanceService(deps: RebalanceServiceDeps): RebalanceServiceImplementation<TradeplaneCallContext> {
  const { config } = deps;
  return {
    async rebalancePortfolio(request, context) {
      checkPortfolioId(request.portfolioId);
      if (request.modelId !== "") checkModelId(request.modelId);
      authorizePortfolio(context.principal, request.portfolioId);
      const proposal = await rebalancePortfolio(deps.rebalance, {
        portfolioId: request.portfolioId,
        modelId: request.modelId,
        options: optionsFromWire(request.options, config),
        idempotencyKey: request.idempotencyKey.slice(0, 128),
        rebalanceId: "",
      });
      return { proposal: proposalToWire(proposal) };
    },

    async *rebalanceModel(request, context): AsyncGenerator<RebalanceModelResponse> {
      checkModelId(request.modelId);
      const model = await deps.rebalance.models.get(request.modelId);
      if (model === null) throw notFound("MODEL_NOT_FOUND", `Model ${request.modelId} not found`);
      for (const portfolioId of model.portfolios) authorizePortfolio(context.principal, portfolioId);
      const concurrency = Math.min(request.concurrency > 0 ? request.concurrency : config.concurrency, config.maxConcurrency);
      const signal = AbortSignal.any([context.signal, context.shutdownSignal]);
      const run = rebalanceModel(deps.rebalance, {
        modelId: request.modelId,
        options: optionsFromWire(request.options, config),
        concurrency,
        stopOnFirstFailure: request.stopOnFirstFailure,
        signal,
        onUnexpectedError: (portfolioId, error) => deps.logger.error("rebalance of one portfolio failed unexpectedly", { portfolioId, error: String(error) }),
      });
      for await (const frame of run) {
        if ("outcome" in frame) {
          const { outcome } = frame;
          yield {
            frame: {
              $case: "portfolioResult",
              value: {
                portfolioId: outcome.portfolioId,
                outcome: outcome.proposal
                  ? { $case: "proposal", value: proposalToWire(outcome.proposal) }
                  : { $case: "error", value: { code: outcome.failure.code, message: outcome.failure.message, securityIds: outcome.failure.securityIds } },
              },
            },
          };
        } else {
          const s = frame.summary;
          yield {
            frame: {
              $case: "summary",
              value: { ...s, elapsedMs: String(s.elapsedMs) },
            },
          };
        }
      }
    },

    async getProposal(request, context) {
      const proposal = await deps.proposals.get(request.proposalId);
      if (proposal === null) throw notFound("PROPOSAL_NOT_FOUND", `Proposal ${request.proposalId} not found`);
      authorizePortfolio(context.principal, proposal.portfolioId);
      return { proposal: proposalToWire(proposal) };
    },

    async listProposals(request, context) {
      const { principal } = context;
      if (request.portfolioId !== "") authorizePortfolio(principal, request.portfolioId);
      const after = decodePageToken(request.pageToken);
      const page = await deps.proposals.list(
        {
          portfolioId: request.portfolioId,
          portfolioIn: principal.allPortfolios ? null : [...principal.portfolios],
          modelId: request.modelId,
          rebalanceId: request.rebalanceId,
          fromTime: request.fromTime ?? null,
          toTime: request.toTime ?? null,
        },
        pageSizeOf(request.pageSize),
        after === null ? null : { createTime: after.createTime, proposalId: after.id },
      );
      return {
        proposals: page.proposals.map(proposalToWire),
        nextPageToken: encodePageToken(page.next === null ? null : { createTime: page.next.createTime, id: page.next.proposalId }),
      };
    },

    async executeProposal(request, context) {
      const proposal = await deps.proposals.get(request.proposalId);
      if (proposal === null) throw notFound("PROPOSAL_NOT_FOUND", `Proposal ${request.proposalId} not found`);
      authorizePortfolio(context.principal, proposal.portfolioId);
      const waitMs = Math.min(request.waitForSellsMs, config.maxWaitForSellsMs);
      const { legs } = await executeProposal(deps.execute, request.proposalId, waitMs);
      return {
        proposalId: request.proposalId,
        legs: legs.map((l) => ({ ...l, side: sideToWire(l.side), quantity: l.quantity.toFixed() })),
        submittedCount: legs.filter((l) => l.orderId !== "").length,
        failedCount: legs.filter((l) => l.orderId === "").length,
      };
    },
  };
}

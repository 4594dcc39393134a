// Conversions between the generated contract types and the domain: decimals as strings, enums by name, page
// tokens as opaque base64 of the keyset position. Request options are validated and defaulted here.
import { Side } from "../../../generated/tradeplane/common/v1/common";
import {
  RebalanceMode,
  SolverKind,
  type Model as WireModel,
  type ModelPosition as WirePosition,
  type Proposal as WireProposal,
  type RebalanceOptions as WireOptions,
} from "../../../generated/tradeplane/optimization/v1/optimization";
import { invalid, type FieldViolation } from "../../platform/errors";
import type { OptimizationConfig } from "../config";
import type { InvestmentModel, PositionInput } from "../domain/investment-model";
import type { Proposal, ProposalOptions } from "../domain/proposal";

const DECIMAL = /^\d+(\.\d+)?$/;
export const DEFAULT_PAGE_SIZE = 50;
export const MAX_PAGE_SIZE = 1000;

/** A model as the contract shows it. */
export function modelToWire(model: InvestmentModel): WireModel {
  return {
    modelId: model.modelId,
    name: model.name,
    positions: model.positions.map((p) => ({ securityId: p.securityId, target: p.target.toFixed(), highDrift: p.highDrift.toFixed(), lowDrift: p.lowDrift.toFixed() })),
    portfolios: model.portfolios,
    lastRebalanceDate: model.lastRebalanceDate ?? undefined,
    version: model.version,
    createTime: model.createTime,
    updateTime: model.updateTime,
  };
}

/** A position from the wire (validation happens in the domain). */
export function positionFromWire(p: WirePosition | undefined): PositionInput {
  return { securityId: p?.securityId ?? "", target: p?.target ?? "", lowDrift: p?.lowDrift ?? "", highDrift: p?.highDrift ?? "" };
}

/** Request options with server defaults filled in; INVALID_ARGUMENT INVALID_OPTIONS for malformed values. */
export function optionsFromWire(options: WireOptions | undefined, config: OptimizationConfig): ProposalOptions {
  const violations: FieldViolation[] = [];
  const decimal = (value: string | undefined, fallback: string, field: string) => {
    if (value === undefined || value === "") return fallback;
    if (!DECIMAL.test(value)) violations.push({ field: `options.${field}`, description: "must be a decimal number >= 0" });
    return value;
  };
  const minCash = decimal(options?.minCash, config.minCash, "min_cash");
  const minTradeNotional = decimal(options?.minTradeNotional, config.minTradeNotional, "min_trade_notional");
  const requested = options?.solverTimeLimitMs ?? 0;
  if (requested > config.maxSolverTimeLimitMs) {
    violations.push({ field: "options.solver_time_limit_ms", description: `must be at most ${config.maxSolverTimeLimitMs}` });
  }
  if (violations.length > 0) throw invalid("INVALID_OPTIONS", violations[0].description, violations);
  const mode = options?.mode === RebalanceMode.REBALANCE_MODE_BUY_ONLY ? "BUY_ONLY" : options?.mode === RebalanceMode.REBALANCE_MODE_SELL_ONLY ? "SELL_ONLY" : "FULL";
  return {
    minCash,
    minTradeNotional,
    mode,
    onlyOutOfBand: options?.onlyOutOfBand ?? false,
    useLotSize: options?.useLotSize ?? false,
    solverTimeLimitMs: requested > 0 ? requested : config.solverTimeLimitMs,
  };
}

function optionsToWire(options: ProposalOptions): WireOptions {
  const mode = { FULL: RebalanceMode.REBALANCE_MODE_FULL, BUY_ONLY: RebalanceMode.REBALANCE_MODE_BUY_ONLY, SELL_ONLY: RebalanceMode.REBALANCE_MODE_SELL_ONLY }[options.mode];
  return {
    minCash: options.minCash,
    mode,
    minTradeNotional: options.minTradeNotional,
    onlyOutOfBand: options.onlyOutOfBand,
    useLotSize: options.useLotSize,
    solverTimeLimitMs: options.solverTimeLimitMs,
  };
}

/** A proposal as the contract shows it (weights with 4 decimals). */
export function proposalToWire(p: Proposal): WireProposal {
  return {
    proposalId: p.proposalId,
    portfolioId: p.portfolioId,
    modelId: p.modelId,
    modelVersion: p.modelVersion,
    modelName: p.modelName,
    options: optionsToWire(p.options),
    marketValue: p.marketValue.toFixed(),
    cashBefore: p.cashBefore.toFixed(),
    cashAfter: p.cashAfter.toFixed(),
    objective: p.objective.toFixed(),
    solver: p.solver === "SEPARABLE" ? SolverKind.SOLVER_KIND_SEPARABLE : SolverKind.SOLVER_KIND_BRANCH_AND_BOUND,
    solverTimeMs: p.solverTimeMs,
    trades: p.trades.map((t) => ({
      leg: t.leg,
      side: sideToWire(t.side),
      securityId: t.securityId,
      symbol: t.symbol,
      quantity: t.quantity.toFixed(),
      price: t.price.toFixed(),
      estimatedNotional: t.estimatedNotional.toFixed(),
    })),
    drifts: p.drifts.map((d) => ({
      securityId: d.securityId,
      target: d.target.toFixed(),
      lowDrift: d.lowDrift.toFixed(),
      highDrift: d.highDrift.toFixed(),
      quantityBefore: d.quantityBefore.toFixed(),
      quantityAfter: d.quantityAfter.toFixed(),
      price: d.price.toFixed(),
      weightBefore: d.weightBefore.toFixed(4),
      weightAfter: d.weightAfter.toFixed(4),
      inBandBefore: d.inBandBefore,
      inBandAfter: d.inBandAfter,
    })),
    createTime: p.createTime,
    execution: p.execution
      ? {
          executeTime: p.execution.executeTime,
          orderIds: p.trades.map((t) => p.execution!.legs.find((l) => l.leg === t.leg)?.orderId ?? ""),
        }
      : undefined,
    rebalanceId: p.rebalanceId,
    optimalityProven: p.optimalityProven,
    objectiveLowerBound: p.objectiveLowerBound.toFixed(),
  };
}

/** The contract's side enum. */
export function sideToWire(side: "BUY" | "SELL"): Side {
  return side === "BUY" ? Side.SIDE_BUY : Side.SIDE_SELL;
}

/** Page size with the contract's default and cap. */
export function pageSizeOf(requested: number): number {
  if (requested < 0) throw invalid("INVALID_PAGE_SIZE", "page_size must not be negative", [{ field: "page_size", description: "must be >= 0" }]);
  return requested === 0 ? DEFAULT_PAGE_SIZE : Math.min(requested, MAX_PAGE_SIZE);
}

/** An opaque page token for a keyset position (create time + id). */
export function encodePageToken(position: { createTime: Date; id: string } | null): string {
  return position === null ? "" : Buffer.from(JSON.stringify([position.createTime.toISOString(), position.id])).toString("base64url");
}

/** The keyset position of a page token; INVALID_ARGUMENT for a token this server did not issue. */
export function decodePageToken(token: string): { createTime: Date; id: string } | null {
  if (token === "") return null;
  try {
    const [time, id] = JSON.parse(Buffer.from(token, "base64url").toString("utf8")) as [string, string];
    const createTime = new Date(time);
    if (typeof id !== "string" || Number.isNaN(createTime.getTime())) throw new Error("malformed");
    return { createTime, id };
  } catch {
    throw invalid("INVALID_PAGE_TOKEN", "page_token is not a token this server issued", [{ field: "page_token", description: "unknown token" }]);
  }
}

// A stored rebalance proposal: immutable once written, except for the record of its execution.
import type Decimal from "decimal.js";
import type { ProposalContent, ProposedTrade } from "./build-proposal";
import type { RebalanceMode, SolveMethod } from "./rebalance-problem";

/** The options a proposal was solved with, server defaults filled in (decimal strings). */
export interface ProposalOptions {
  minCash: string;
  minTradeNotional: string;
  mode: RebalanceMode;
  onlyOutOfBand: boolean;
  useLotSize: boolean;
  solverTimeLimitMs: number;
}

/** A trade with the instrument's ticker. */
export type ProposalTrade = ProposedTrade & { symbol: string };

/** Outcome of submitting one leg. */
export interface LegExecution {
  leg: number;
  orderId: string;
  errorCode: string;
  errorMessage: string;
}

/** The record ExecuteProposal keeps. */
export interface ProposalExecution {
  executeTime: Date;
  legs: LegExecution[];
}

/** One rebalance result for one portfolio. */
export interface Proposal extends Omit<ProposalContent, "trades"> {
  proposalId: string;
  portfolioId: string;
  modelId: string;
  modelVersion: number;
  modelName: string;
  /** Shared by the proposals of one RebalanceModel run; empty for RebalancePortfolio. */
  rebalanceId: string;
  options: ProposalOptions;
  trades: ProposalTrade[];
  solver: SolveMethod;
  solverTimeMs: number;
  /** False only when the search budget ran out; `objectiveLowerBound` then bounds the true optimum. */
  optimalityProven: boolean;
  objectiveLowerBound: Decimal;
  createTime: Date;
  execution: ProposalExecution | null;
}

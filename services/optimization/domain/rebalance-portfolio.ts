// RebalancePortfolio as a use case: find the model, read holdings and prices, solve exactly (off the event
// loop), store the proposal. Reads happen before any write; the only write is one proposal insert.
import Decimal from "decimal.js";
import { alreadyExists, DomainError, failedPrecondition, notFound } from "../../platform/errors";
import type { ProposalContent } from "./build-proposal";
import { buildRebalanceProblem, type PortfolioSnapshot } from "./build-rebalance-problem";
import type { InvestmentModel } from "./investment-model";
import { noFeasibleSolution, securityIdsOf } from "./optimization-error";
import type { Proposal, ProposalOptions } from "./proposal";
import type { RebalanceProblem, RebalanceSolution } from "./rebalance-problem";

/** What market data tells the rebalance about one instrument. */
export interface InstrumentFacts {
  symbol: string;
  lotSize: Decimal;
}

/** Everything rebalancePortfolio needs, passed in by the composition root. */
export interface RebalanceDeps {
  models: {
    get(modelId: string): Promise<InvestmentModel | null>;
    findByPortfolio(portfolioId: string): Promise<InvestmentModel[]>;
    markRebalanced(modelId: string, at: Date): Promise<void>;
  };
  portfolios: { snapshot(portfolioId: string): Promise<PortfolioSnapshot> };
  market: {
    instruments(securityIds: string[]): Promise<Map<string, InstrumentFacts>>;
    /** Latest `last` price by symbol; symbols without a quote are absent. */
    prices(symbols: string[]): Promise<Map<string, Decimal>>;
  };
  /** Solves and derives the proposal's content (trades, drifts) from the solution. */
  solver: { solve(problem: RebalanceProblem): Promise<{ solution: RebalanceSolution; content: ProposalContent; solverTimeMs: number }> };
  proposals: {
    /** Stores a new proposal; with an idempotency key already used, returns the stored one instead. */
    insert(proposal: Proposal, idempotencyKey: string, fingerprint: string): Promise<Proposal>;
    findByKey(portfolioId: string, idempotencyKey: string): Promise<{ proposal: Proposal; fingerprint: string } | null>;
  };
  newId(): string;
  now(): Date;
}

/** One RebalancePortfolio request, options already defaulted. */
export interface RebalanceRequest {
  portfolioId: string;
  /** Empty: the single model listing the portfolio. */
  modelId: string;
  options: ProposalOptions;
  idempotencyKey: string;
  /** Set by RebalanceModel for every proposal of one run. */
  rebalanceId: string;
  /** A model already loaded by the caller (RebalanceModel), to avoid reading it per portfolio. RebalanceModel
   * also marks the model rebalanced once for the whole run instead of once per portfolio. */
  model?: InvestmentModel;
  /** Instruments and prices already read for the whole run (RebalanceModel reads the model's securities once);
   * only securities outside it are read for this portfolio. */
  market?: MarketSnapshot;
}

/** What market data said about a set of securities at one moment. */
export interface MarketSnapshot {
  /** Every security asked about, whether or not market data knows it or has a price for it. */
  asked: ReadonlySet<string>;
  instruments: ReadonlyMap<string, InstrumentFacts>;
  /** Latest price by security id; securities without a quote are absent. */
  prices: ReadonlyMap<string, Decimal>;
}

/** Reads instruments (ticker, lot) and the latest prices of `securityIds` from market data. */
export async function readMarket(deps: Pick<RebalanceDeps, "market">, securityIds: string[]): Promise<MarketSnapshot> {
  const instruments = await deps.market.instruments(securityIds);
  const bySymbol = await deps.market.prices([...new Set([...instruments.values()].map((i) => i.symbol))]);
  const prices = new Map<string, Decimal>();
  for (const [securityId, facts] of instruments) {
    const price = bySymbol.get(facts.symbol);
    if (price !== undefined) prices.set(securityId, price);
  }
  return { asked: new Set(securityIds), instruments, prices };
}

/** Rebalances one portfolio to its model and stores the proposal. */
export async function rebalancePortfolio(deps: RebalanceDeps, request: RebalanceRequest): Promise<Proposal> {
  const fingerprint = JSON.stringify([request.portfolioId, request.modelId, request.options]);
  if (request.idempotencyKey !== "") {
    const earlier = await deps.proposals.findByKey(request.portfolioId, request.idempotencyKey);
    if (earlier !== null) return sameRequestOrConflict(earlier, fingerprint, request.idempotencyKey);
  }
  const model = request.model ?? (await modelOf(deps, request));
  const snapshot = await deps.portfolios.snapshot(request.portfolioId);
  const held = snapshot.holdings.filter((h) => !h.quantity.isZero()).map((h) => h.securityId);
  const securityIds = [...new Set([...model.positions.map((p) => p.securityId), ...held])];
  const known = request.market;
  const unknown = known === undefined ? securityIds : securityIds.filter((id) => !known.asked.has(id));
  const fresh = unknown.length > 0 ? await readMarket(deps, unknown) : null;
  const instruments = new Map<string, InstrumentFacts>();
  const prices = new Map<string, Decimal>();
  const lots = new Map<string, Decimal>();
  for (const part of [known, fresh]) {
    if (!part) continue;
    for (const [securityId, facts] of part.instruments) {
      instruments.set(securityId, facts);
      lots.set(securityId, facts.lotSize);
    }
    for (const [securityId, price] of part.prices) prices.set(securityId, price);
  }

  const { options } = request;
  const problem = buildRebalanceProblem(snapshot, model.positions, prices, lots, {
    minCash: new Decimal(options.minCash),
    minTradeNotional: new Decimal(options.minTradeNotional),
    mode: options.mode,
    onlyOutOfBand: options.onlyOutOfBand,
    useLotSize: options.useLotSize,
  });
  problem.options.timeLimitMs = options.solverTimeLimitMs;
  const { solution, content, solverTimeMs } = await deps.solver.solve(problem).catch((error: unknown) => {
    throw withLotSizeHint(error, options.useLotSize, instruments);
  });
  const now = deps.now();
  const proposal: Proposal = {
    ...content,
    proposalId: deps.newId(),
    portfolioId: request.portfolioId,
    modelId: model.modelId,
    modelVersion: model.version,
    modelName: model.name,
    rebalanceId: request.rebalanceId,
    options,
    trades: content.trades.map((t) => ({ ...t, symbol: instruments.get(t.securityId)?.symbol ?? "" })),
    solver: solution.method,
    solverTimeMs,
    optimalityProven: solution.proven,
    objectiveLowerBound: new Decimal(solution.lowerBound),
    createTime: now,
    execution: null,
  };
  const stored = await deps.proposals.insert(proposal, request.idempotencyKey, fingerprint);
  if (stored.proposalId !== proposal.proposalId) return sameRequestOrConflict({ proposal: stored, fingerprint }, fingerprint, request.idempotencyKey);
  if (request.model === undefined) await deps.models.markRebalanced(model.modelId, now);
  return stored;
}

async function modelOf(deps: RebalanceDeps, request: RebalanceRequest): Promise<InvestmentModel> {
  if (request.modelId !== "") {
    const model = await deps.models.get(request.modelId);
    if (model === null) throw notFound("MODEL_NOT_FOUND", `Model ${request.modelId} not found`, { metadata: { model_id: request.modelId } });
    return model;
  }
  const models = await deps.models.findByPortfolio(request.portfolioId);
  if (models.length === 0) {
    throw notFound("PORTFOLIO_NOT_IN_MODEL", `Portfolio ${request.portfolioId} not found`, { metadata: { portfolio_id: request.portfolioId } });
  }
  if (models.length > 1) {
    throw failedPrecondition("AMBIGUOUS_MODEL", `Portfolio ${request.portfolioId} belongs to several models; pass model_id`, {
      metadata: { portfolio_id: request.portfolioId, model_ids: models.map((m) => m.modelId).join(",") },
    });
  }
  return models[0];
}

function sameRequestOrConflict(earlier: { proposal: Proposal; fingerprint: string }, fingerprint: string, key: string): Proposal {
  if (earlier.fingerprint === fingerprint) return earlier.proposal;
  throw alreadyExists("IDEMPOTENCY_KEY_REUSED", `Idempotency key ${key} was used for a different rebalance request`, {
    metadata: { proposal_id: earlier.proposal.proposalId },
  });
}

/**
 * Without use_lot_size every security trades in whole units (GlobeCo's rule), so a model of fractional instruments
 * (crypto) often has no whole quantity inside a narrow band. When the securities a NO_FEASIBLE_SOLUTION names trade
 * in fractions, the message says so and names the option, rather than leave the caller to guess.
 */
function withLotSizeHint(error: unknown, useLotSize: boolean, instruments: ReadonlyMap<string, InstrumentFacts>): unknown {
  if (useLotSize || !(error instanceof DomainError) || error.metadata?.reason !== "EMPTY_BOUNDS") return error;
  const securityIds = securityIdsOf(error);
  const fractional = securityIds.filter((id) => instruments.get(id)?.lotSize.lt(1));
  if (fractional.length === 0) return error;
  const names = fractional.map((id) => instruments.get(id)?.symbol || id).join(", ");
  return noFeasibleSolution(
    `${error.message}, in whole units; ${names} can be traded in fractions: set options.use_lot_size to use their lot sizes`,
    securityIds,
    "EMPTY_BOUNDS",
  );
}

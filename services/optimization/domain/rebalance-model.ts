// RebalanceModel as a use case: every portfolio of a model, at most `concurrency` at a time, each result
// yielded as soon as it completes, then a summary. Solving happens in the solver pool, so the event loop only
// coordinates I/O. Instruments and prices of the model's securities are read once per run. With stopOnFirstFailure, the first dependency failure stops new starts (the GlobeCo rule:
// a service down for one portfolio is down for all); the portfolios never started count as skipped.
import { isDomainError, notFound } from "../../platform/errors";
import type { Proposal, ProposalOptions } from "./proposal";
import { readMarket, rebalancePortfolio, type MarketSnapshot, type RebalanceDeps } from "./rebalance-portfolio";

/** Why one portfolio got no proposal. */
export interface PortfolioFailure {
  code: string;
  message: string;
  securityIds: string[];
}

/** One streamed outcome. */
export type PortfolioOutcome =
  | { portfolioId: string; proposal: Proposal; failure?: undefined }
  | { portfolioId: string; failure: PortfolioFailure; proposal?: undefined };

/** The last frame of a run. */
export interface RebalanceRunSummary {
  modelId: string;
  rebalanceId: string;
  portfoliosTotal: number;
  succeeded: number;
  failed: number;
  skipped: number;
  tradesTotal: number;
  elapsedMs: number;
  startTime: Date;
}

export interface RebalanceModelRequest {
  modelId: string;
  options: ProposalOptions;
  concurrency: number;
  stopOnFirstFailure: boolean;
  /** Aborts the run (client gone, deadline, shutdown): no new portfolio starts. */
  signal?: AbortSignal;
  /** Told about failures that are bugs (not DomainErrors), so they reach the log. */
  onUnexpectedError?: (portfolioId: string, error: unknown) => void;
}

const DEPENDENCY_FAILURE = "DEPENDENCY_UNAVAILABLE";

/** Rebalances every portfolio of a model, yielding outcomes as they complete and the summary last. */
export async function* rebalanceModel(
  deps: RebalanceDeps,
  request: RebalanceModelRequest,
): AsyncGenerator<{ outcome: PortfolioOutcome } | { summary: RebalanceRunSummary }> {
  const startTime = deps.now();
  const started = performance.now();
  const model = await deps.models.get(request.modelId);
  if (model === null) throw notFound("MODEL_NOT_FOUND", `Model ${request.modelId} not found`, { metadata: { model_id: request.modelId } });
  const rebalanceId = deps.newId();
  const queue = [...model.portfolios];
  const summary: RebalanceRunSummary = {
    modelId: model.modelId,
    rebalanceId,
    portfoliosTotal: queue.length,
    succeeded: 0,
    failed: 0,
    skipped: 0,
    tradesTotal: 0,
    elapsedMs: 0,
    startTime,
  };
  // Prices are read once for the whole run: every portfolio is valued at the same moment, and a thousand
  // portfolios do not ask market data for the same quotes a thousand times. A market data failure here fails
  // the run (it would fail every portfolio).
  const market: MarketSnapshot = await readMarket(deps, model.positions.map((p) => p.securityId));
  let stopped = false;
  const finished: PortfolioOutcome[] = [];
  let wake: (() => void) | null = null;
  let running = 0;

  const runOne = async (portfolioId: string): Promise<void> => {
    let outcome: PortfolioOutcome;
    try {
      const proposal = await rebalancePortfolio(deps, { portfolioId, modelId: model.modelId, options: request.options, idempotencyKey: "", rebalanceId, model, market });
      outcome = { portfolioId, proposal };
    } catch (error) {
      outcome = { portfolioId, failure: failureOf(error) };
      if (outcome.failure.code === "INTERNAL") request.onUnexpectedError?.(portfolioId, error);
    }
    // Counted down before waking the loop, so the loop never waits for a task that has already finished.
    running--;
    finished.push(outcome);
    wake?.();
  };

  const startMore = () => {
    while (!stopped && running < request.concurrency && queue.length > 0 && !request.signal?.aborted) {
      running++;
      void runOne(queue.shift()!);
    }
  };

  startMore();
  while (running > 0 || finished.length > 0) {
    if (finished.length === 0) {
      await new Promise<void>((resolve) => (wake = resolve));
      wake = null;
      continue;
    }
    const outcome = finished.shift()!;
    if (outcome.proposal) {
      summary.succeeded++;
      summary.tradesTotal += outcome.proposal.trades.length;
    } else {
      summary.failed++;
      if (request.stopOnFirstFailure && outcome.failure.code === DEPENDENCY_FAILURE) stopped = true;
    }
    yield { outcome };
    startMore();
  }
  summary.skipped = queue.length;
  if (summary.succeeded > 0) await deps.models.markRebalanced(model.modelId, deps.now());
  summary.elapsedMs = Math.round(performance.now() - started);
  yield { summary };
}

// Domain failures keep their code; anything unexpected is reported as a dependency failure only when it is
// one (the adapters map unreachable peers to DEPENDENCY_UNAVAILABLE), otherwise as INTERNAL.
function failureOf(error: unknown): PortfolioFailure {
  if (isDomainError(error)) {
    const ids = error.metadata?.security_ids;
    return { code: error.code, message: error.message, securityIds: ids ? ids.split(",") : [] };
  }
  return { code: "INTERNAL", message: "unexpected error while rebalancing this portfolio", securityIds: [] };
}

import { AccountingError } from "./accounting-error";
import { replayLedger } from "./audit-ledger";
import { requireEntityId } from "./identifiers";
import type { WithLedgerSession } from "./ledger-session";
import { methodOf, parseBookKey } from "./ledger-state";
import { COST_BASIS_METHODS, type CostBasisMethod, type TaxLot } from "./tax-lots";

/** What SetCostBasisMethod did. */
export interface CostBasisMethodChange {
  portfolioId: string;
  method: CostBasisMethod;
  previous: CostBasisMethod;
  changed: boolean;
  openLots: number;
  transactionsReplayed: number;
}

/**
 * Chooses a portfolio's cost-basis method. The audit defines lots as the replay of the portfolio's log with
 * one method, so a change cannot apply "from now on" without the stored lots disagreeing with that replay:
 * instead the open lots and realizations are re-derived from the log with the new method, under the
 * portfolio's lock (no trade can interleave), in the same transaction that records the choice.
 */
export async function setCostBasisMethod(
  deps: { withLedgerSession: WithLedgerSession },
  request: { portfolioId: string; method: string | null },
): Promise<CostBasisMethodChange> {
  const portfolioId = requireEntityId(request.portfolioId, "portfolio_id");
  const method = request.method;
  if (method === null || !(COST_BASIS_METHODS as readonly string[]).includes(method)) {
    const description = `must be one of ${COST_BASIS_METHODS.join(", ")}`;
    throw new AccountingError("INVALID_ARGUMENT", `cost_basis_method ${description}`, [{ field: "cost_basis_method", description }]);
  }
  const chosen = method as CostBasisMethod;

  return deps.withLedgerSession(async (session) => {
    await session.lockPortfolios([portfolioId]);
    const current = await session.loadState([portfolioId], []);
    const previous = methodOf(current, portfolioId);
    const log = previous === chosen ? [] : await session.processedTransactions(portfolioId);
    const replay = replayLedger(log, new Map([[portfolioId, chosen]]));
    const books = new Map<string, TaxLot[]>();
    for (const [key, lots] of replay.state.lots) if (parseBookKey(key).portfolioId === portfolioId && lots.length > 0) books.set(key, lots);
    if (previous === chosen) {
      // Nothing to re-derive; record the choice so a later change of the default cannot move this portfolio.
      await session.saveCostBasisMethod(portfolioId, chosen, null);
      return { portfolioId, method: chosen, previous, changed: false, openLots: await session.openLotCount(portfolioId), transactionsReplayed: 0 };
    }
    await session.saveCostBasisMethod(portfolioId, chosen, { books, closures: replay.closures.filter((c) => c.portfolioId === portfolioId) });
    const openLots = [...books.values()].reduce((n, lots) => n + lots.length, 0);
    return { portfolioId, method: chosen, previous, changed: true, openLots, transactionsReplayed: log.length };
  });
}

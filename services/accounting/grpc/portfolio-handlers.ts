// AccountingService's portfolio handlers over gRPC: positions with their lots and realizations, the portfolio's
// cost basis method, and the valued portfolio summary.
import type Decimal from "decimal.js";
import type { AccountingServiceImplementation } from "../../../generated/tradeplane/accounting/v1/accounting_service";
import type { TradeplaneCallContext } from "../../platform/grpc-server";
import { replayLedger } from "../domain/audit-ledger";
import { requireEntityId } from "../domain/identifiers";
import { parseBookKey } from "../domain/ledger-state";
import { decodePageToken, pageSizeOf } from "../domain/list-query";
import { dec, formatDecimal } from "../domain/money";
import { averageCost, valuePortfolio, type SecurityHolding } from "../domain/portfolio-valuation";
import { setCostBasisMethod } from "../domain/set-cost-basis-method";
import { DEFAULT_COST_BASIS_METHOD, type TaxLot } from "../domain/tax-lots";
import type { AccountingServiceDeps } from "./accounting-service";
import { methodName, methodValue, toWireLot, toWireRealization } from "./accounting-wire";
import { nextToken } from "./next-token";
import { canSee, portfolioNotFound, visiblePortfolio } from "./portfolio-visibility";

export function portfolioHandlers(
  deps: AccountingServiceDeps,
): Pick<AccountingServiceImplementation<TradeplaneCallContext>, "listPositions" | "setCostBasisMethod" | "getPortfolioSummary"> {
  return {
    async listPositions(request, { principal }) {
      requireEntityId(request.portfolioId, "portfolio_id");
      visiblePortfolio(principal, request.portfolioId);
      const holdings = await deps.queries.portfolioHoldings(request.portfolioId);
      const configured = holdings.method ?? DEFAULT_COST_BASIS_METHOD;
      const method = methodName(request.costBasisMethod) ?? configured;
      let lots = holdings.lots;
      let realized = holdings.realized;
      let closures = request.includeRealizations || method !== configured ? await deps.queries.closures(request.portfolioId) : [];
      if (method !== configured) {
        // Another method is a different reading of the same log: replay the portfolio's transactions with it.
        const replay = replayLedger(await deps.queries.processedTransactions(request.portfolioId), new Map([[request.portfolioId, method]]));
        lots = [...replay.state.lots].flatMap(([key, book]) => book.map((lot) => ({ ...parseBookKey(key), lot })));
        const dates = new Map((await deps.queries.processedTransactions(request.portfolioId)).map((t) => [t.id, t.transactionDate]));
        closures = replay.closures.map((c) => ({ ...c, saleDate: dates.get(c.transactionId) ?? "" }));
        realized = new Map();
        for (const c of replay.closures) realized.set(c.securityId, (realized.get(c.securityId) ?? dec(0)).plus(c.realizedPnl));
      }
      const positions = holdings.balances
        .filter((b) => b.securityId !== null && (request.securityId === "" || b.securityId === request.securityId))
        .filter((b) => !b.quantityLong.isZero() || !b.quantityShort.isZero() || (request.includeClosed && !(realized.get(b.securityId as string) ?? dec(0)).isZero()))
        .sort((a, b) => ((a.securityId as string) < (b.securityId as string) ? -1 : 1));
      const limit = pageSizeOf(request.pageSize);
      const offset = decodePageToken(request.pageToken);
      const page = positions.slice(offset, offset + limit).map((b) => {
        const securityId = b.securityId as string;
        const longLots = lots.filter((l) => l.securityId === securityId && l.side === "LONG").map((l) => l.lot);
        return {
          portfolioId: request.portfolioId,
          securityId,
          symbol: holdings.symbols.get(securityId) ?? "",
          quantity: formatDecimal(b.quantityLong),
          quantityShort: formatDecimal(b.quantityShort),
          averageCost: formatOptional(averageCost(longLots)),
          costBasis: formatDecimal(longLots.reduce((sum, lot) => sum.plus(lot.cost), dec(0))),
          realizedPnl: formatDecimal(realized.get(securityId) ?? dec(0)),
          costBasisMethod: methodValue(method),
          lots: consumptionOrder(longLots, method).map(toWireLot),
          realizations: request.includeRealizations ? closures.filter((c) => c.securityId === securityId).map(toWireRealization) : [],
          lastUpdated: b.lastUpdated,
        };
      });
      return { positions: page, nextPageToken: nextToken(offset, limit, positions.length) };
    },

    async setCostBasisMethod(request, { principal }) {
      requireEntityId(request.portfolioId, "portfolio_id");
      visiblePortfolio(principal, request.portfolioId);
      const result = await setCostBasisMethod(deps, { portfolioId: request.portfolioId, method: methodName(request.costBasisMethod) });
      return {
        portfolioId: result.portfolioId,
        costBasisMethod: methodValue(result.method),
        previousCostBasisMethod: methodValue(result.previous),
        changed: result.changed,
        openLots: result.openLots,
        transactionsReplayed: result.transactionsReplayed,
      };
    },

    async getPortfolioSummary(request, { principal }) {
      requireEntityId(request.portfolioId, "portfolio_id");
      if (!canSee(principal, request.portfolioId)) throw portfolioNotFound();
      const holdings = await deps.queries.portfolioHoldings(request.portfolioId);
      if (holdings.balances.length === 0) throw portfolioNotFound();
      const securityRows = holdings.balances.filter((b) => b.securityId !== null);
      const unknown = securityRows.map((b) => b.securityId as string).filter((id) => !holdings.symbols.has(id));
      const resolved = unknown.length > 0 ? await deps.resolveSymbols(unknown) : new Map<string, string>();
      const symbolOf = (id: string) => holdings.symbols.get(id) ?? resolved.get(id) ?? "";
      const cash = holdings.balances.find((b) => b.securityId === null);
      const securities: SecurityHolding[] = securityRows
        .map((b) => {
          const securityId = b.securityId as string;
          const book = (side: "LONG" | "SHORT") => holdings.lots.filter((l) => l.securityId === securityId && l.side === side).map((l) => l.lot);
          return {
            securityId,
            symbol: symbolOf(securityId),
            quantityLong: b.quantityLong,
            quantityShort: b.quantityShort,
            longLots: book("LONG"),
            shortLots: book("SHORT"),
            realizedPnl: holdings.realized.get(securityId) ?? dec(0),
            lastUpdated: b.lastUpdated,
          };
        })
        .sort((a, b) => (a.securityId < b.securityId ? -1 : 1));
      const prices = await deps.prices(securities.filter((s) => s.symbol !== "").map((s) => ({ securityId: s.securityId, symbol: s.symbol })));
      const v = valuePortfolio(cash?.quantityLong ?? dec(0), cash?.reserved ?? dec(0), securities, prices);
      const lastUpdated = holdings.balances.reduce((max, b) => (b.lastUpdated > max ? b.lastUpdated : max), holdings.balances[0].lastUpdated);
      return {
        summary: {
          portfolioId: request.portfolioId,
          cashBalance: formatDecimal(v.cashBalance),
          cashReserved: formatDecimal(v.cashReserved),
          cashAvailable: formatDecimal(v.cashBalance.minus(v.cashReserved)),
          securityCount: securities.length,
          securities: v.securities.map((s) => ({
            securityId: s.holding.securityId,
            symbol: s.holding.symbol,
            quantityLong: formatDecimal(s.holding.quantityLong),
            quantityShort: formatDecimal(s.holding.quantityShort),
            netQuantity: formatDecimal(s.netQuantity),
            price: s.price ? formatDecimal(s.price.price) : "",
            priceTime: s.price?.time,
            marketValue: formatOptional(s.marketValue),
            costBasis: formatDecimal(s.costBasis),
            unrealizedPnl: formatOptional(s.unrealizedPnl),
            realizedPnl: formatDecimal(s.holding.realizedPnl),
            weight: formatOptional(s.weight),
            lastUpdated: s.holding.lastUpdated,
          })),
          totalMarketValue: formatDecimal(v.totalMarketValue),
          totalValue: formatDecimal(v.totalValue),
          totalCostBasis: formatDecimal(v.totalCostBasis),
          totalUnrealizedPnl: formatDecimal(v.totalUnrealizedPnl),
          totalRealizedPnl: formatDecimal(v.totalRealizedPnl),
          cashWeight: formatOptional(v.cashWeight),
          missingPrices: v.missingPrices,
          lastUpdated,
        },
      };
    },
  };
}

/** Lots in the order the method consumes them (FIFO/AVERAGE: opening order). */
function consumptionOrder(lots: TaxLot[], method: string): TaxLot[] {
  if (method === "LIFO") return [...lots].reverse();
  if (method === "HIFO") return [...lots].sort((a, b) => b.cost.div(b.quantity).comparedTo(a.cost.div(a.quantity)));
  return lots;
}

function formatOptional(value: Decimal | null): string {
  return value === null ? "" : formatDecimal(value);
}

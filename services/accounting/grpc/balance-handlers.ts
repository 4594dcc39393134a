// AccountingService's balance reads over gRPC: one balance by id or by portfolio and security, and the filtered list.
import type { AccountingServiceImplementation } from "../../../generated/tradeplane/accounting/v1/accounting_service";
import type { TradeplaneCallContext } from "../../platform/grpc-server";
import { requireEntityId } from "../domain/identifiers";
import { decodePageToken, pageSizeOf, parseDateFilter, parseSortBy, invalidFilter } from "../domain/list-query";
import type { AccountingServiceDeps } from "./accounting-service";
import { toWireBalance } from "./accounting-wire";
import { nextToken } from "./next-token";
import { canSee, notFound, scopeOf, visiblePortfolio } from "./portfolio-visibility";

export function balanceHandlers(deps: AccountingServiceDeps): Pick<AccountingServiceImplementation<TradeplaneCallContext>, "getBalance" | "listBalances"> {
  return {
    async getBalance(request, { principal }) {
      if (request.id !== "0" && request.id !== "") {
        const found = await deps.queries.getBalanceById(request.id);
        if (!found || !canSee(principal, found.portfolioId)) throw notFound("Balance not found");
        return { balance: toWireBalance(found) };
      }
      requireEntityId(request.portfolioId, "portfolio_id");
      visiblePortfolio(principal, request.portfolioId);
      const securityId = request.securityId ? requireEntityId(request.securityId, "security_id") : null;
      const found = await deps.queries.getBalanceByKey(request.portfolioId, securityId);
      if (found) return { balance: toWireBalance(found) };
      if (securityId) throw notFound("Balance not found");
      return { balance: { id: "0", portfolioId: request.portfolioId, securityId: "", quantityLong: "0", quantityShort: "0", version: 0, quantityReserved: "0", quantityAvailable: "0" } };
    },

    async listBalances(request, { principal }) {
      if (request.zeroOnly && request.nonZeroOnly) throw invalidFilter("zero_only", "conflicts with non_zero_only");
      if (request.cashOnly && request.securityId) throw invalidFilter("cash_only", "conflicts with security_id");
      const limit = pageSizeOf(request.pageSize);
      const offset = decodePageToken(request.pageToken);
      const { items, total } = await deps.queries.listBalances({
        portfolioIds: scopeOf(principal),
        portfolioId: request.portfolioId || null,
        securityId: request.securityId || null,
        cashOnly: request.cashOnly,
        nonZeroOnly: request.nonZeroOnly,
        zeroOnly: request.zeroOnly,
        lastUpdatedFrom: parseDateFilter(request.lastUpdatedFrom, "last_updated_from"),
        lastUpdatedTo: parseDateFilter(request.lastUpdatedTo, "last_updated_to"),
        sort: parseSortBy(request.sortBy, ["portfolio_id", "security_id", "last_updated", "quantity_long", "quantity_short"], [
          { field: "portfolio_id", descending: false },
          { field: "security_id", descending: false },
        ]),
        offset,
        limit,
      });
      return { balances: items.map(toWireBalance), nextPageToken: nextToken(offset, limit, total), totalSize: total };
    },
  };
}

// AccountingService's ledger audit over gRPC: replays the visible portfolios' transactions and reports where the
// stored balances and lots differ.
import type { AccountingServiceImplementation } from "../../../generated/tradeplane/accounting/v1/accounting_service";
import type { TradeplaneCallContext } from "../../platform/grpc-server";
import { auditLedger } from "../domain/audit-ledger";
import type { AccountingServiceDeps } from "./accounting-service";
import { differenceKindValue } from "./accounting-wire";
import { scopeOf, visiblePortfolio } from "./portfolio-visibility";

/** Most differences one AuditLedger response lists (the count covers all). */
const MAX_REPORTED_DIFFERENCES = 1000;

export function auditHandlers(deps: AccountingServiceDeps): Pick<AccountingServiceImplementation<TradeplaneCallContext>, "auditLedger"> {
  return {
    async auditLedger(request, { principal }) {
      for (const id of request.portfolioIds) visiblePortfolio(principal, id);
      const scope = request.portfolioIds.length > 0 ? request.portfolioIds : scopeOf(principal);
      const snapshot = await deps.queries.auditSnapshot(scope);
      const report = auditLedger(snapshot);
      const portfolios = new Set([...snapshot.transactions.map((t) => t.portfolioId), ...snapshot.balances.map((b) => b.portfolioId)]);
      return {
        portfoliosChecked: String(portfolios.size),
        balancesChecked: String(report.balancesChecked),
        lotsChecked: String(report.lotsChecked),
        transactionsReplayed: String(report.transactionsReplayed),
        differenceCount: String(report.differences.length),
        differences: report.differences.slice(0, MAX_REPORTED_DIFFERENCES).map((d) => ({ ...d, kind: differenceKindValue(d.kind), securityId: d.securityId ?? "" })),
        auditedThroughTransactionId: snapshot.maxTransactionId,
      };
    },
  };
}

// Holdings and cash of a portfolio from the accounting service: its balance rows (ListBalances, non-zero rows,
// paged by 1,000), the cash row being the one without a security id. Net quantity = long − short.
import Decimal from "decimal.js";
import type { TradeplaneClient } from "../../../clients/node";
import type { AccountingServiceDefinition } from "../../../generated/tradeplane/accounting/v1/accounting_service";
import type { PortfolioSnapshot } from "../domain/build-rebalance-problem";
import { callPeer } from "./dependency-call";

const PAGE_SIZE = 1_000;

/** Reads portfolio snapshots over the accounting client. */
export function createAccountingPortfolios(client: TradeplaneClient<typeof AccountingServiceDefinition>) {
  return {
    async snapshot(portfolioId: string): Promise<PortfolioSnapshot> {
      let cash = new Decimal(0);
      const holdings: PortfolioSnapshot["holdings"] = [];
      let pageToken = "";
      do {
        const page = await callPeer("accounting", () =>
          client.listBalances({ portfolioId, nonZeroOnly: true, pageSize: PAGE_SIZE, pageToken }),
        );
        for (const balance of page.balances) {
          if (balance.securityId === "") cash = cash.plus(balance.quantityLong || "0");
          else holdings.push({ securityId: balance.securityId, quantity: new Decimal(balance.quantityLong || "0").minus(balance.quantityShort || "0") });
        }
        pageToken = page.nextPageToken;
      } while (pageToken !== "");
      return { cash, holdings };
    },
  };
}

import { authorizePortfolio } from "./authorize-portfolio";
import { invalidField } from "./order-error";
import { ORDER_STATUSES, type Order, type OrderStatus } from "./order";
import type { Caller, OrderStore } from "./ports";

/** ListOrders filter as the transport hands it over (empty = no filter). */
export interface ListOrdersInput {
  portfolioId: string;
  statuses: readonly string[];
  symbol: string;
  side: string;
  createdFrom: Date | null;
  createdTo: Date | null;
  pageSize: number;
  pageToken: string;
}

export const DEFAULT_PAGE_SIZE = 50;
export const MAX_PAGE_SIZE = 1000;

/**
 * ListOrders: one portfolio, or all of the caller's portfolios when none is named; newest first; page_size
 * defaults to 50 and is capped at 1000.
 */
export async function listOrders(
  deps: { store: OrderStore },
  caller: Caller,
  input: ListOrdersInput,
): Promise<{ orders: Order[]; nextPageToken: string | null }> {
  let portfolioIds: readonly string[] | null;
  if (input.portfolioId !== "") {
    authorizePortfolio(caller, input.portfolioId);
    portfolioIds = [input.portfolioId];
  } else {
    portfolioIds = caller.allPortfolios ? null : caller.portfolios;
  }
  const statuses = input.statuses.map((raw) => {
    const status = raw.toUpperCase();
    if (!(ORDER_STATUSES as readonly string[]).includes(status)) throw invalidField("statuses", `invalid status: ${raw}`);
    return status as OrderStatus;
  });
  if (input.pageSize < 0) throw invalidField("page_size", "page_size must not be negative");
  if (input.createdFrom && input.createdTo && input.createdFrom > input.createdTo) {
    throw invalidField("created_from", "created_from must not be after created_to");
  }
  if (portfolioIds !== null && portfolioIds.length === 0) return { orders: [], nextPageToken: null };
  return deps.store.list({
    portfolioIds,
    statuses,
    symbol: input.symbol === "" ? null : input.symbol.toUpperCase(),
    side: input.side === "BUY" || input.side === "SELL" ? input.side : null,
    createdFrom: input.createdFrom,
    createdTo: input.createdTo,
    pageToken: input.pageToken === "" ? null : input.pageToken,
    pageSize: input.pageSize === 0 ? DEFAULT_PAGE_SIZE : Math.min(input.pageSize, MAX_PAGE_SIZE),
  });
}

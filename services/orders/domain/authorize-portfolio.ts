import { OrderError } from "./order-error";
import type { Caller } from "./ports";

/** Admins and services act on every portfolio; everybody else only on the portfolios in their token. */
export function mayActOn(caller: Caller, portfolioId: string): boolean {
  return caller.allPortfolios || caller.portfolios.includes(portfolioId);
}

/** Throws PERMISSION_DENIED unless the caller may act on the portfolio. */
export function authorizePortfolio(caller: Caller, portfolioId: string): void {
  if (!mayActOn(caller, portfolioId)) {
    throw new OrderError("PERMISSION_DENIED", `not allowed to act on portfolio ${portfolioId}`, [], { portfolioId });
  }
}

/** The error for an order the caller may not see: the same as a missing one, so ids reveal nothing (Hub rule). */
export function orderNotFound(orderId: string): OrderError {
  return new OrderError("ORDER_NOT_FOUND", "order not found", [], { orderId });
}

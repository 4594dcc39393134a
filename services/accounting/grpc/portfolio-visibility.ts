// Which portfolios a caller's token lets the accounting handlers see, and the not-found errors for the rest.
import type { Principal } from "../../platform/auth";
import { AccountingError } from "../domain/accounting-error";

export function canSee(principal: Principal, portfolioId: string): boolean {
  return principal.allPortfolios || principal.portfolios.has(portfolioId);
}

/** Portfolios outside the caller's token look exactly like portfolios that do not exist. */
export function visiblePortfolio(principal: Principal, portfolioId: string): void {
  if (!canSee(principal, portfolioId)) throw portfolioNotFound();
}

export function scopeOf(principal: Principal): string[] | null {
  return principal.allPortfolios ? null : [...principal.portfolios];
}

export function portfolioNotFound(): AccountingError {
  return new AccountingError("PORTFOLIO_NOT_FOUND", "Portfolio not found");
}

export function notFound(message: string): AccountingError {
  return new AccountingError("NOT_FOUND", message);
}

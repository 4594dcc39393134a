// AccountingService over gRPC: transport only. Each handler authorizes, converts the request, calls one use
// case or query, and converts the result. The handlers live in one file per group (transactions, cash
// movements, balances, portfolio reads, reservations, audit); this file composes them.
import type { AccountingServiceImplementation } from "../../../generated/tradeplane/accounting/v1/accounting_service";
import type { TradeplaneCallContext } from "../../platform/grpc-server";
import type { LedgerQueries } from "../adapters/ledger-queries";
import type { DailyCashLimits } from "../domain/cash-movements";
import type { WithLedgerSession } from "../domain/ledger-session";
import type { ReservationHolds } from "../domain/manage-reservations";
import type { PricePoint } from "../domain/portfolio-valuation";
import { mapAccountingErrors } from "./accounting-error-status";
import { auditHandlers } from "./audit-handlers";
import { balanceHandlers } from "./balance-handlers";
import { cashMovementHandlers } from "./cash-movement-handlers";
import { portfolioHandlers } from "./portfolio-handlers";
import { reservationHandlers } from "./reservation-handlers";
import { transactionHandlers } from "./transaction-handlers";

/** Prices by security id; an unreachable market data service yields an empty map, never an error. */
export type PriceLookup = (securities: { securityId: string; symbol: string }[]) => Promise<Map<string, PricePoint>>;

export interface AccountingServiceDeps {
  withLedgerSession: WithLedgerSession;
  reservationHolds: ReservationHolds;
  queries: LedgerQueries;
  limits: DailyCashLimits;
  prices: PriceLookup;
  /** Tickers of securities the ledger has not seen in a fill (from market data's instruments). */
  resolveSymbols: (securityIds: string[]) => Promise<Map<string, string>>;
  now: () => Date;
  newId: () => string;
  importConcurrency: number;
  maxImportRows: number;
}

export function createAccountingService(deps: AccountingServiceDeps): AccountingServiceImplementation<TradeplaneCallContext> {
  const service: AccountingServiceImplementation<TradeplaneCallContext> = {
    ...transactionHandlers(deps),
    ...balanceHandlers(deps),
    ...portfolioHandlers(deps),
    ...cashMovementHandlers(deps),
    ...reservationHandlers(deps),
    ...auditHandlers(deps),
  };

  return mapAccountingErrors(service);
}

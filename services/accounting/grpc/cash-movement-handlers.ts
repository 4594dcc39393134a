// AccountingService's cash movements over gRPC: Deposit and Withdraw, which answer with the new cash balance and
// the day's totals.
import Decimal from "decimal.js";
import type { AccountingServiceImplementation } from "../../../generated/tradeplane/accounting/v1/accounting_service";
import type { Principal } from "../../platform/auth";
import type { TradeplaneCallContext } from "../../platform/grpc-server";
import { requireEntityId } from "../domain/identifiers";
import { formatDecimal } from "../domain/money";
import { recordCashMovement, type CashMovementResult } from "../domain/record-cash-movement";
import type { AccountingServiceDeps } from "./accounting-service";
import { toWireBalance, toWireTransaction } from "./accounting-wire";
import { visiblePortfolio } from "./portfolio-visibility";

export function cashMovementHandlers(deps: AccountingServiceDeps): Pick<AccountingServiceImplementation<TradeplaneCallContext>, "deposit" | "withdraw"> {
  async function cashMovement(
    kind: "DEPOSIT" | "WITHDRAWAL",
    request: { portfolioId: string; amount: string; idempotencyKey: string; transactionDate: string },
    principal: Principal,
  ) {
    requireEntityId(request.portfolioId, "portfolio_id");
    visiblePortfolio(principal, request.portfolioId);
    const result: CashMovementResult = await recordCashMovement(deps, { ...request, kind });
    const transaction = result.transaction ?? (await deps.queries.getTransaction(result.transactionId));
    const cash = await deps.queries.getBalanceByKey(request.portfolioId, null);
    return {
      transaction: transaction ? toWireTransaction(transaction) : undefined,
      cashBalance: cash ? toWireBalance(cash) : undefined,
      dailyTotal: formatDecimal(result.dailyTotal),
      dailyRemaining: formatDecimal(Decimal.max(result.dailyRemaining, 0)),
      replayed: result.replayed,
    };
  }

  return {
    async deposit(request, { principal }) {
      return cashMovement("DEPOSIT", request, principal);
    },

    async withdraw(request, { principal }) {
      return cashMovement("WITHDRAWAL", request, principal);
    },
  };
}

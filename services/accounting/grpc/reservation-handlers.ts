// AccountingService's reservation handlers over gRPC: holds that services and admins place and release for orders.
import type { AccountingServiceImplementation } from "../../../generated/tradeplane/accounting/v1/accounting_service";
import { requireRole } from "../../platform/auth";
import type { TradeplaneCallContext } from "../../platform/grpc-server";
import { createReservation, releaseReservationById } from "../domain/manage-reservations";
import { formatDecimal } from "../domain/money";
import type { AccountingServiceDeps } from "./accounting-service";
import { toWireReservation } from "./accounting-wire";

export function reservationHandlers(deps: AccountingServiceDeps): Pick<AccountingServiceImplementation<TradeplaneCallContext>, "createReservation" | "releaseReservation"> {
  return {
    async createReservation(request, { principal }) {
      requireRole(principal, "service", "admin");
      const result = await createReservation(deps, {
        portfolioId: request.portfolioId,
        orderId: request.orderId,
        securityId: request.securityId || null,
        amount: request.amount,
      });
      return { reservation: toWireReservation(result.reservation), availableAfter: formatDecimal(result.availableAfter) };
    },

    async releaseReservation(request, { principal }) {
      requireRole(principal, "service", "admin");
      return { reservation: toWireReservation(await releaseReservationById(deps, request.reservationId)) };
    },
  };
}

// AllocationService over gRPC: transport only.
import { Side } from "../../../generated/tradeplane/common/v1/common";
import type { ExecutionInput as WireExecutionInput } from "../../../generated/tradeplane/accounting/v1/allocation_service";
import {
  ExecutionResultStatus,
  type AllocationServiceImplementation,
  type Execution,
} from "../../../generated/tradeplane/accounting/v1/allocation_service";
import { requireRole } from "../../platform/auth";
import type { TradeplaneCallContext } from "../../platform/grpc-server";
import type { ExecutionStore } from "../adapters/execution-store";
import { AccountingError } from "../domain/accounting-error";
import type { ExecutionInput, StoredExecution } from "../domain/allocation";
import { decodePageToken, encodePageToken, pageSizeOf, parseDateFilter } from "../domain/list-query";
import { formatDecimal } from "../domain/money";
import { recordExecutions } from "../domain/record-executions";
import { sendExecutions, type SendDeps } from "../domain/send-executions";
import { mapAccountingErrors } from "./accounting-error-status";

export interface AllocationServiceDeps {
  executions: ExecutionStore;
  send: SendDeps;
  now: () => Date;
}

export function createAllocationService(deps: AllocationServiceDeps): AllocationServiceImplementation<TradeplaneCallContext> {
  const service: AllocationServiceImplementation<TradeplaneCallContext> = {
    async recordExecutions(request, { principal }) {
      requireRole(principal, "service", "admin");
      const result = await recordExecutions({ executions: deps.executions, now: deps.now }, request.executions.map(fromWireExecution));
      return {
        processedCount: result.created,
        skippedCount: result.skipped,
        errorCount: result.errors,
        results: result.results.map((r) => ({
          executionServiceId: r.executionServiceId,
          status: ExecutionResultStatus[`EXECUTION_RESULT_STATUS_${r.status}`],
          error: r.error,
          executionId: r.executionId ?? "0",
        })),
      };
    },

    async getExecution(request, { principal }) {
      requireRole(principal, "service", "admin");
      const found = await deps.executions.get(request.id);
      if (!found) throw new AccountingError("NOT_FOUND", "execution not found");
      return { execution: toWireExecution(found) };
    },

    async listExecutions(request, { principal }) {
      requireRole(principal, "service", "admin");
      const limit = pageSizeOf(request.pageSize);
      const offset = decodePageToken(request.pageToken);
      const { items, total } = await deps.executions.list({
        portfolioIds: null,
        portfolioId: request.portfolioId || null,
        securityId: request.securityId || null,
        tradeDate: parseDateFilter(request.tradeDate, "trade_date"),
        offset,
        limit,
      });
      return { executions: items.map(toWireExecution), nextPageToken: offset + limit < total ? encodePageToken(offset + limit) : "", totalSize: total };
    },

    async sendExecutions(_request, { principal }) {
      requireRole(principal, "service", "admin");
      const result = await sendExecutions(deps.send);
      const imported = result.importResult;
      return {
        batchId: result.batchId,
        windowStart: result.windowStart,
        windowEnd: result.windowEnd,
        processedCount: result.processedCount,
        fileName: result.fileName,
        importSummary: imported
          ? {
              totalRows: String(imported.totalRows),
              successfulRows: String(imported.successfulRows),
              failedRows: String(imported.failedRows.length),
              batches: String(imported.batches),
              durationMs: String(imported.durationMs),
            }
          : undefined,
        errorFileName: result.errorFileName,
        message: result.message,
      };
    },
  };
  return mapAccountingErrors(service);
}

function fromWireExecution(e: WireExecutionInput): ExecutionInput {
  return {
    executionServiceId: e.executionServiceId,
    isOpen: e.isOpen,
    executionStatus: e.executionStatus,
    tradeType: e.tradeType === Side.SIDE_BUY ? "BUY" : e.tradeType === Side.SIDE_SELL ? "SELL" : "",
    destination: e.destination,
    securityId: e.securityId,
    ticker: e.ticker,
    portfolioId: e.portfolioId,
    quantity: e.quantity,
    limitPrice: e.limitPrice,
    receivedTimestamp: e.receivedTimestamp ?? null,
    sentTimestamp: e.sentTimestamp ?? null,
    lastFillTimestamp: e.lastFillTimestamp ?? null,
    quantityFilled: e.quantityFilled,
    totalAmount: e.totalAmount,
    averagePrice: e.averagePrice,
  };
}

function toWireExecution(e: StoredExecution): Partial<Execution> {
  return {
    id: e.id,
    executionServiceId: e.executionServiceId,
    isOpen: false,
    executionStatus: e.executionStatus,
    tradeType: e.tradeType === "BUY" ? Side.SIDE_BUY : Side.SIDE_SELL,
    destination: e.destination,
    securityId: e.securityId,
    portfolioId: e.portfolioId,
    ticker: e.ticker,
    quantity: formatDecimal(e.quantity),
    limitPrice: e.limitPrice ? formatDecimal(e.limitPrice) : "",
    receivedTimestamp: e.receivedTimestamp,
    sentTimestamp: e.sentTimestamp,
    lastFillTimestamp: e.lastFillTimestamp ?? undefined,
    quantityFilled: formatDecimal(e.quantityFilled),
    totalAmount: formatDecimal(e.totalAmount),
    averagePrice: formatDecimal(e.averagePrice),
    tradeDate: e.tradeDate,
    readyToSendTimestamp: e.readyToSendTimestamp,
    version: e.version,
  };
}

// AccountingService's transaction handlers over gRPC: posting a batch, reading and listing transactions, and
// importing a file of them as a stream.
import type { AccountingServiceImplementation } from "../../../generated/tradeplane/accounting/v1/accounting_service";
import type { TradeplaneCallContext } from "../../platform/grpc-server";
import { AccountingError } from "../domain/accounting-error";
import { importTransactions } from "../domain/import-transactions";
import { isEntityId } from "../domain/identifiers";
import { decodePageToken, pageSizeOf, parseDateFilter, parseSortBy, invalidFilter } from "../domain/list-query";
import { postTransactionBatches, postTransactions } from "../domain/post-transactions";
import type { AccountingServiceDeps } from "./accounting-service";
import { fromWireImportRow, fromWireInput, statusName, toWireTransaction, typeName } from "./accounting-wire";
import { nextToken } from "./next-token";
import { canSee, notFound, scopeOf, visiblePortfolio } from "./portfolio-visibility";

export function transactionHandlers(
  deps: AccountingServiceDeps,
): Pick<AccountingServiceImplementation<TradeplaneCallContext>, "postTransactions" | "getTransaction" | "listTransactions" | "importTransactions"> {
  const post = (inputs: Parameters<typeof postTransactions>[1]) => postTransactions(deps, inputs);

  return {
    async postTransactions(request, { principal }) {
      // A token for every portfolio sees them all: no need to look at 1,000 ids.
      if (!principal.allPortfolios) for (const item of request.transactions) if (isEntityId(item.portfolioId)) visiblePortfolio(principal, item.portfolioId);
      const result = await post(request.transactions.map(fromWireInput));
      // One pass, no per-item arrays: a 1,000-item batch answers with 1,000 items.
      const successful: ReturnType<typeof toWireTransaction>[] = [];
      const failed = [];
      for (const item of result.items) {
        if (item.ok) successful.push(toWireTransaction(item.transaction));
        else failed.push({ index: item.index, transaction: request.transactions[item.index], reason: item.reason, errors: item.errors, existingTransactionId: item.existingTransactionId ?? "0" });
      }
      return { successful, failed, summary: result.summary };
    },

    async getTransaction(request, { principal }) {
      const found = await deps.queries.getTransaction(request.id);
      if (!found || !canSee(principal, found.portfolioId)) throw notFound("Transaction not found");
      return { transaction: toWireTransaction(found) };
    },

    async listTransactions(request, { principal }) {
      if (request.cashOnly && request.securityId) throw invalidFilter("cash_only", "conflicts with security_id");
      const limit = pageSizeOf(request.pageSize);
      const offset = decodePageToken(request.pageToken);
      const { items, total } = await deps.queries.listTransactions({
        portfolioIds: scopeOf(principal),
        portfolioId: request.portfolioId || null,
        securityId: request.securityId || null,
        cashOnly: request.cashOnly,
        type: request.transactionType ? (typeName(request.transactionType) as never) : null,
        status: request.status ? statusName(request.status) : null,
        date: parseDateFilter(request.transactionDate, "transaction_date"),
        fromDate: parseDateFilter(request.fromDate, "from_date"),
        toDate: parseDateFilter(request.toDate, "to_date"),
        sourceId: request.sourceId || null,
        sort: parseSortBy(request.sortBy, ["portfolio_id", "security_id", "transaction_date", "transaction_type", "status", "create_time"], [
          { field: "transaction_date", descending: true },
        ]),
        offset,
        limit,
      });
      return { transactions: items.map(toWireTransaction), nextPageToken: nextToken(offset, limit, total), totalSize: total };
    },

    async importTransactions(requests, { principal }) {
      const rows = [];
      for await (const message of requests) {
        if (message.rows.length > 1000) throw new AccountingError("INVALID_ARGUMENT", "at most 1,000 rows per message", [{ field: "rows", description: "at most 1,000 rows per message" }]);
        rows.push(...message.rows.map(fromWireImportRow));
        if (rows.length > deps.maxImportRows) {
          throw new AccountingError("BATCH_TOO_LARGE", `an import takes at most ${deps.maxImportRows} rows`);
        }
      }
      // Rows of portfolios the caller may not act on fail on their own instead of failing the whole file.
      const allowed: typeof rows = [];
      const refused: typeof rows = [];
      for (const r of rows) (canSee(principal, r.portfolioId.trim()) || !isEntityId(r.portfolioId.trim()) ? allowed : refused).push(r);
      const result = await importTransactions({ postBatches: (batches) => postTransactionBatches(deps, batches), now: () => Date.now(), concurrency: deps.importConcurrency }, allowed);
      const failed = [...result.failedRows, ...refused.map((row) => ({ row, errorMessage: "portfolioId: not permitted for this caller" }))].sort(
        (a, b) => a.row.lineNumber - b.row.lineNumber,
      );
      return {
        summary: { totalRows: String(rows.length), successfulRows: String(result.successfulRows), failedRows: String(failed.length), batches: String(result.batches), durationMs: String(result.durationMs) },
        failedRows: failed.map((f) => ({ row: { ...f.row, lineNumber: String(f.row.lineNumber) }, errorMessage: f.errorMessage })),
      };
    },
  };
}

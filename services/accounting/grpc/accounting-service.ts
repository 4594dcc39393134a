// AccountingService over gRPC: transport only. Each handler authorizes, converts the request, calls one use
// case or query, and converts the result.
import Decimal from "decimal.js";
import type { AccountingServiceImplementation } from "../../../generated/tradeplane/accounting/v1/accounting_service";
import { requireRole, type Principal } from "../../platform/auth";
import type { TradeplaneCallContext } from "../../platform/grpc-server";
import type { LedgerQueries } from "../adapters/ledger-queries";
import { AccountingError } from "../domain/accounting-error";
import { auditLedger, replayLedger } from "../domain/audit-ledger";
import type { DailyCashLimits } from "../domain/cash-movements";
import { importTransactions } from "../domain/import-transactions";
import { isEntityId, requireEntityId } from "../domain/identifiers";
import type { WithLedgerSession } from "../domain/ledger-session";
import { parseBookKey } from "../domain/ledger-state";
import { decodePageToken, encodePageToken, pageSizeOf, parseDateFilter, parseSortBy, invalidFilter } from "../domain/list-query";
import { createReservation, releaseReservationById, type ReservationHolds } from "../domain/manage-reservations";
import { dec, formatDecimal } from "../domain/money";
import { averageCost, valuePortfolio, type PricePoint, type SecurityHolding } from "../domain/portfolio-valuation";
import { postTransactionBatches, postTransactions } from "../domain/post-transactions";
import { recordCashMovement, type CashMovementResult } from "../domain/record-cash-movement";
import { setCostBasisMethod } from "../domain/set-cost-basis-method";
import { DEFAULT_COST_BASIS_METHOD, type TaxLot } from "../domain/tax-lots";
import { mapAccountingErrors } from "./accounting-error-status";
import {
  differenceKindValue,
  fromWireImportRow,
  fromWireInput,
  methodName,
  methodValue,
  statusName,
  toWireBalance,
  toWireLot,
  toWireRealization,
  toWireReservation,
  toWireTransaction,
  typeName,
} from "./accounting-wire";

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

/** Most differences one AuditLedger response lists (the count covers all). */
const MAX_REPORTED_DIFFERENCES = 1000;

export function createAccountingService(deps: AccountingServiceDeps): AccountingServiceImplementation<TradeplaneCallContext> {
  const post = (inputs: Parameters<typeof postTransactions>[1]) => postTransactions(deps, inputs);

  const service: AccountingServiceImplementation<TradeplaneCallContext> = {
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

    async getBalance(request, { principal }) {
      if (request.id !== "0" && request.id !== "") {
        const found = await deps.queries.getBalanceById(request.id);
        if (!found || !canSee(principal, found.portfolioId)) throw notFound("Balance not found");
        return { balance: toWireBalance(found) };
      }
      requireEntityId(request.portfolioId, "portfolio_id");
      visiblePortfolio(principal, request.portfolioId);
      const securityId = request.securityId ? requireEntityId(request.securityId, "security_id") : null;
      const found = await deps.queries.getBalanceByKey(request.portfolioId, securityId);
      if (found) return { balance: toWireBalance(found) };
      if (securityId) throw notFound("Balance not found");
      return { balance: { id: "0", portfolioId: request.portfolioId, securityId: "", quantityLong: "0", quantityShort: "0", version: 0, quantityReserved: "0", quantityAvailable: "0" } };
    },

    async listBalances(request, { principal }) {
      if (request.zeroOnly && request.nonZeroOnly) throw invalidFilter("zero_only", "conflicts with non_zero_only");
      if (request.cashOnly && request.securityId) throw invalidFilter("cash_only", "conflicts with security_id");
      const limit = pageSizeOf(request.pageSize);
      const offset = decodePageToken(request.pageToken);
      const { items, total } = await deps.queries.listBalances({
        portfolioIds: scopeOf(principal),
        portfolioId: request.portfolioId || null,
        securityId: request.securityId || null,
        cashOnly: request.cashOnly,
        nonZeroOnly: request.nonZeroOnly,
        zeroOnly: request.zeroOnly,
        lastUpdatedFrom: parseDateFilter(request.lastUpdatedFrom, "last_updated_from"),
        lastUpdatedTo: parseDateFilter(request.lastUpdatedTo, "last_updated_to"),
        sort: parseSortBy(request.sortBy, ["portfolio_id", "security_id", "last_updated", "quantity_long", "quantity_short"], [
          { field: "portfolio_id", descending: false },
          { field: "security_id", descending: false },
        ]),
        offset,
        limit,
      });
      return { balances: items.map(toWireBalance), nextPageToken: nextToken(offset, limit, total), totalSize: total };
    },

    async listPositions(request, { principal }) {
      requireEntityId(request.portfolioId, "portfolio_id");
      visiblePortfolio(principal, request.portfolioId);
      const holdings = await deps.queries.portfolioHoldings(request.portfolioId);
      const configured = holdings.method ?? DEFAULT_COST_BASIS_METHOD;
      const method = methodName(request.costBasisMethod) ?? configured;
      let lots = holdings.lots;
      let realized = holdings.realized;
      let closures = request.includeRealizations || method !== configured ? await deps.queries.closures(request.portfolioId) : [];
      if (method !== configured) {
        // Another method is a different reading of the same log: replay the portfolio's transactions with it.
        const replay = replayLedger(await deps.queries.processedTransactions(request.portfolioId), new Map([[request.portfolioId, method]]));
        lots = [...replay.state.lots].flatMap(([key, book]) => book.map((lot) => ({ ...parseBookKey(key), lot })));
        const dates = new Map((await deps.queries.processedTransactions(request.portfolioId)).map((t) => [t.id, t.transactionDate]));
        closures = replay.closures.map((c) => ({ ...c, saleDate: dates.get(c.transactionId) ?? "" }));
        realized = new Map();
        for (const c of replay.closures) realized.set(c.securityId, (realized.get(c.securityId) ?? dec(0)).plus(c.realizedPnl));
      }
      const positions = holdings.balances
        .filter((b) => b.securityId !== null && (request.securityId === "" || b.securityId === request.securityId))
        .filter((b) => !b.quantityLong.isZero() || !b.quantityShort.isZero() || (request.includeClosed && !(realized.get(b.securityId as string) ?? dec(0)).isZero()))
        .sort((a, b) => ((a.securityId as string) < (b.securityId as string) ? -1 : 1));
      const limit = pageSizeOf(request.pageSize);
      const offset = decodePageToken(request.pageToken);
      const page = positions.slice(offset, offset + limit).map((b) => {
        const securityId = b.securityId as string;
        const longLots = lots.filter((l) => l.securityId === securityId && l.side === "LONG").map((l) => l.lot);
        return {
          portfolioId: request.portfolioId,
          securityId,
          symbol: holdings.symbols.get(securityId) ?? "",
          quantity: formatDecimal(b.quantityLong),
          quantityShort: formatDecimal(b.quantityShort),
          averageCost: formatOptional(averageCost(longLots)),
          costBasis: formatDecimal(longLots.reduce((sum, lot) => sum.plus(lot.cost), dec(0))),
          realizedPnl: formatDecimal(realized.get(securityId) ?? dec(0)),
          costBasisMethod: methodValue(method),
          lots: consumptionOrder(longLots, method).map(toWireLot),
          realizations: request.includeRealizations ? closures.filter((c) => c.securityId === securityId).map(toWireRealization) : [],
          lastUpdated: b.lastUpdated,
        };
      });
      return { positions: page, nextPageToken: nextToken(offset, limit, positions.length) };
    },

    async setCostBasisMethod(request, { principal }) {
      requireEntityId(request.portfolioId, "portfolio_id");
      visiblePortfolio(principal, request.portfolioId);
      const result = await setCostBasisMethod(deps, { portfolioId: request.portfolioId, method: methodName(request.costBasisMethod) });
      return {
        portfolioId: result.portfolioId,
        costBasisMethod: methodValue(result.method),
        previousCostBasisMethod: methodValue(result.previous),
        changed: result.changed,
        openLots: result.openLots,
        transactionsReplayed: result.transactionsReplayed,
      };
    },

    async getPortfolioSummary(request, { principal }) {
      requireEntityId(request.portfolioId, "portfolio_id");
      if (!canSee(principal, request.portfolioId)) throw portfolioNotFound();
      const holdings = await deps.queries.portfolioHoldings(request.portfolioId);
      if (holdings.balances.length === 0) throw portfolioNotFound();
      const securityRows = holdings.balances.filter((b) => b.securityId !== null);
      const unknown = securityRows.map((b) => b.securityId as string).filter((id) => !holdings.symbols.has(id));
      const resolved = unknown.length > 0 ? await deps.resolveSymbols(unknown) : new Map<string, string>();
      const symbolOf = (id: string) => holdings.symbols.get(id) ?? resolved.get(id) ?? "";
      const cash = holdings.balances.find((b) => b.securityId === null);
      const securities: SecurityHolding[] = securityRows
        .map((b) => {
          const securityId = b.securityId as string;
          const book = (side: "LONG" | "SHORT") => holdings.lots.filter((l) => l.securityId === securityId && l.side === side).map((l) => l.lot);
          return {
            securityId,
            symbol: symbolOf(securityId),
            quantityLong: b.quantityLong,
            quantityShort: b.quantityShort,
            longLots: book("LONG"),
            shortLots: book("SHORT"),
            realizedPnl: holdings.realized.get(securityId) ?? dec(0),
            lastUpdated: b.lastUpdated,
          };
        })
        .sort((a, b) => (a.securityId < b.securityId ? -1 : 1));
      const prices = await deps.prices(securities.filter((s) => s.symbol !== "").map((s) => ({ securityId: s.securityId, symbol: s.symbol })));
      const v = valuePortfolio(cash?.quantityLong ?? dec(0), cash?.reserved ?? dec(0), securities, prices);
      const lastUpdated = holdings.balances.reduce((max, b) => (b.lastUpdated > max ? b.lastUpdated : max), holdings.balances[0].lastUpdated);
      return {
        summary: {
          portfolioId: request.portfolioId,
          cashBalance: formatDecimal(v.cashBalance),
          cashReserved: formatDecimal(v.cashReserved),
          cashAvailable: formatDecimal(v.cashBalance.minus(v.cashReserved)),
          securityCount: securities.length,
          securities: v.securities.map((s) => ({
            securityId: s.holding.securityId,
            symbol: s.holding.symbol,
            quantityLong: formatDecimal(s.holding.quantityLong),
            quantityShort: formatDecimal(s.holding.quantityShort),
            netQuantity: formatDecimal(s.netQuantity),
            price: s.price ? formatDecimal(s.price.price) : "",
            priceTime: s.price?.time,
            marketValue: formatOptional(s.marketValue),
            costBasis: formatDecimal(s.costBasis),
            unrealizedPnl: formatOptional(s.unrealizedPnl),
            realizedPnl: formatDecimal(s.holding.realizedPnl),
            weight: formatOptional(s.weight),
            lastUpdated: s.holding.lastUpdated,
          })),
          totalMarketValue: formatDecimal(v.totalMarketValue),
          totalValue: formatDecimal(v.totalValue),
          totalCostBasis: formatDecimal(v.totalCostBasis),
          totalUnrealizedPnl: formatDecimal(v.totalUnrealizedPnl),
          totalRealizedPnl: formatDecimal(v.totalRealizedPnl),
          cashWeight: formatOptional(v.cashWeight),
          missingPrices: v.missingPrices,
          lastUpdated,
        },
      };
    },

    async deposit(request, { principal }) {
      return cashMovement("DEPOSIT", request, principal);
    },

    async withdraw(request, { principal }) {
      return cashMovement("WITHDRAWAL", request, principal);
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

  return mapAccountingErrors(service);
}

/** Lots in the order the method consumes them (FIFO/AVERAGE: opening order). */
function consumptionOrder(lots: TaxLot[], method: string): TaxLot[] {
  if (method === "LIFO") return [...lots].reverse();
  if (method === "HIFO") return [...lots].sort((a, b) => b.cost.div(b.quantity).comparedTo(a.cost.div(a.quantity)));
  return lots;
}

function formatOptional(value: Decimal | null): string {
  return value === null ? "" : formatDecimal(value);
}

function nextToken(offset: number, limit: number, total: number): string {
  return offset + limit < total ? encodePageToken(offset + limit) : "";
}

function canSee(principal: Principal, portfolioId: string): boolean {
  return principal.allPortfolios || principal.portfolios.has(portfolioId);
}

/** Portfolios outside the caller's token look exactly like portfolios that do not exist. */
function visiblePortfolio(principal: Principal, portfolioId: string): void {
  if (!canSee(principal, portfolioId)) throw portfolioNotFound();
}

function scopeOf(principal: Principal): string[] | null {
  return principal.allPortfolios ? null : [...principal.portfolios];
}

function portfolioNotFound(): AccountingError {
  return new AccountingError("PORTFOLIO_NOT_FOUND", "Portfolio not found");
}

function notFound(message: string): AccountingError {
  return new AccountingError("NOT_FOUND", message);
}

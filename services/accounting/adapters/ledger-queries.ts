// Reads of the ledger: transactions, balances (with what open reservations hold), positions and the audit
// snapshot. Filters arrive parsed and validated; column names come only from fixed allowlists.
import Decimal from "decimal.js";
import type { Knex } from "knex";
import type { StoredLedger, StoredLot } from "../domain/audit-ledger";
import type { StoredTransaction } from "../domain/ledger-session";
import type { BalanceRow } from "../domain/ledger-state";
import type { SortTerm } from "../domain/list-query";
import { dec } from "../domain/money";
import type { CostBasisMethod, LotClosure, TaxLot } from "../domain/tax-lots";
import type { TransactionStatus, TransactionType } from "../domain/transaction-type";
import {
  fromSqlDate,
  toBalanceRow,
  toReservation,
  toStoredTransaction,
  toTaxLot,
  type BalanceSqlRow,
  type LotSqlRow,
  type ReservationSqlRow,
  type TransactionSqlRow,
} from "./ledger-rows";
import { raw } from "./ledger-sql";

/** A stored transaction with its timestamps. */
export interface TransactionRecord extends StoredTransaction {
  createdAt: Date;
  updatedAt: Date;
}

/** A balance row with its id, timestamps and the part open reservations hold. */
export interface BalanceRecord extends BalanceRow {
  id: string;
  lastUpdated: Date;
  reserved: Decimal;
}

export interface TransactionFilter {
  /** null: every portfolio (admin); otherwise only these. */
  portfolioIds: string[] | null;
  portfolioId: string | null;
  securityId: string | null;
  cashOnly: boolean;
  type: TransactionType | null;
  status: TransactionStatus | null;
  /** YYYY-MM-DD. */
  date: string | null;
  fromDate: string | null;
  toDate: string | null;
  sourceId: string | null;
  sort: SortTerm[];
  offset: number;
  limit: number;
}

export interface BalanceFilter {
  portfolioIds: string[] | null;
  portfolioId: string | null;
  securityId: string | null;
  cashOnly: boolean;
  nonZeroOnly: boolean;
  zeroOnly: boolean;
  lastUpdatedFrom: string | null;
  lastUpdatedTo: string | null;
  sort: SortTerm[];
  offset: number;
  limit: number;
}

/** Everything ListPositions and GetPortfolioSummary need about one portfolio, read in one snapshot. */
export interface PortfolioHoldings {
  method: CostBasisMethod | null;
  balances: BalanceRecord[];
  lots: StoredLot[];
  realized: Map<string, Decimal>;
  symbols: Map<string, string>;
}

const TRANSACTION_SORT_COLUMNS: Record<string, string> = {
  portfolio_id: "portfolio_id",
  security_id: "security_id",
  transaction_date: "transaction_date",
  transaction_type: "transaction_type",
  status: "status",
  create_time: "created_at",
};
const BALANCE_SORT_COLUMNS: Record<string, string> = {
  portfolio_id: "b.portfolio_id",
  security_id: "b.security_id",
  last_updated: "b.last_updated",
  quantity_long: "b.quantity_long",
  quantity_short: "b.quantity_short",
};

export function createLedgerQueries(knex: Knex, schema: string) {
  const t = (name: string) => `${schema}.${name}`;

  return {
    async getTransaction(id: string): Promise<TransactionRecord | null> {
      const { rows } = await raw(knex, `select * from ?? where id = ?`, [t("transactions"), id]);
      return rows.length > 0 ? toTransactionRecord(rows[0]) : null;
    },

    async listTransactions(f: TransactionFilter): Promise<{ items: TransactionRecord[]; total: number }> {
      const q = knex(t("transactions"));
      if (f.portfolioIds) q.whereIn("portfolio_id", f.portfolioIds);
      if (f.portfolioId) q.where("portfolio_id", f.portfolioId);
      if (f.securityId) q.where("security_id", f.securityId);
      if (f.cashOnly) q.whereNull("security_id");
      if (f.type) q.where("transaction_type", f.type);
      if (f.status) q.where("status", f.status);
      if (f.date) q.where("transaction_date", f.date);
      if (f.fromDate) q.where("transaction_date", ">=", f.fromDate);
      if (f.toDate) q.where("transaction_date", "<=", f.toDate);
      if (f.sourceId) q.where("source_id", f.sourceId);
      const [{ count }] = (await q.clone().count({ count: "*" })) as { count: string }[];
      for (const term of f.sort) q.orderBy(TRANSACTION_SORT_COLUMNS[term.field], term.descending ? "desc" : "asc");
      const rows = (await q.orderBy("id", "asc").offset(f.offset).limit(f.limit)) as TransactionSqlRow[];
      return { items: rows.map(toTransactionRecord), total: Number(count) };
    },

    async getBalanceById(id: string): Promise<BalanceRecord | null> {
      const rows = await balanceQuery().where("b.id", id);
      return rows.length > 0 ? toBalanceRecord(rows[0]) : null;
    },

    async getBalanceByKey(portfolioId: string, securityId: string | null): Promise<BalanceRecord | null> {
      const q = balanceQuery().where("b.portfolio_id", portfolioId);
      if (securityId) q.where("b.security_id", securityId);
      else q.whereNull("b.security_id");
      const rows = await q;
      return rows.length > 0 ? toBalanceRecord(rows[0]) : null;
    },

    async listBalances(f: BalanceFilter): Promise<{ items: BalanceRecord[]; total: number }> {
      const q = balanceQuery();
      if (f.portfolioIds) q.whereIn("b.portfolio_id", f.portfolioIds);
      if (f.portfolioId) q.where("b.portfolio_id", f.portfolioId);
      if (f.securityId) q.where("b.security_id", f.securityId);
      if (f.cashOnly) q.whereNull("b.security_id");
      if (f.nonZeroOnly) q.where((w) => w.whereNot("b.quantity_long", 0).orWhereNot("b.quantity_short", 0));
      if (f.zeroOnly) q.where("b.quantity_long", 0).where("b.quantity_short", 0);
      if (f.lastUpdatedFrom) q.whereRaw("(b.last_updated at time zone 'UTC')::date >= ?", [f.lastUpdatedFrom]);
      if (f.lastUpdatedTo) q.whereRaw("(b.last_updated at time zone 'UTC')::date <= ?", [f.lastUpdatedTo]);
      const total = await knex.count({ count: "*" }).from(q.clone().as("filtered"));
      for (const term of f.sort) {
        // Ascending security_id puts NULLs (the cash row) last, as the reference's default order does.
        q.orderByRaw(`${BALANCE_SORT_COLUMNS[term.field]} ${term.descending ? "desc nulls first" : "asc nulls last"}`);
      }
      const rows = await q.orderBy("b.id", "asc").offset(f.offset).limit(f.limit);
      return { items: rows.map(toBalanceRecord), total: Number((total[0] as { count: string }).count) };
    },

    /** The portfolio's balances, open lots, realized P&L and method, read in one repeatable-read snapshot. */
    async portfolioHoldings(portfolioId: string): Promise<PortfolioHoldings> {
      return knex.transaction(
        async (trx) => {
          const balances = (await balanceQuery(trx).where("b.portfolio_id", portfolioId)).map(toBalanceRecord);
          const lots = await raw(trx, `select * from ?? where portfolio_id = ? order by security_id, side, seq`, [t("tax_lots"), portfolioId]);
          const realized = await raw(trx, `select security_id, sum(realized_pnl) as pnl from ?? where portfolio_id = ? group by security_id`, [
            t("lot_closures"),
            portfolioId,
          ]);
          const method = await raw(trx, `select cost_basis_method from ?? where portfolio_id = ?`, [t("portfolio_settings"), portfolioId]);
          const symbols = await raw(
            trx,
            `select s.security_id, s.symbol from ?? s where s.security_id in (select security_id from ?? where portfolio_id = ?)`,
            [t("security_symbols"), t("balances"), portfolioId],
          );
          return {
            method: method.rows[0]?.cost_basis_method ?? null,
            balances,
            lots: (lots.rows as LotSqlRow[]).map(toStoredLot),
            realized: new Map((realized.rows as { security_id: string; pnl: string }[]).map((r) => [r.security_id, dec(r.pnl)])),
            symbols: new Map((symbols.rows as { security_id: string; symbol: string }[]).map((r) => [r.security_id, r.symbol])),
          };
        },
        { isolationLevel: "repeatable read", readOnly: true },
      );
    },

    /** Per-sale, per-lot realizations of a portfolio, oldest first. */
    async closures(portfolioId: string): Promise<(LotClosure & { saleDate: string })[]> {
      const { rows } = await raw(knex, `select * from ?? where portfolio_id = ? order by transaction_id, id`, [t("lot_closures"), portfolioId]);
      return (rows as ClosureSqlRow[]).map(toClosure);
    },

    /** The PROC transactions of one portfolio in processing order (to replay lots under another method). */
    async processedTransactions(portfolioId: string): Promise<StoredTransaction[]> {
      const { rows } = await raw(knex, `select * from ?? where portfolio_id = ? and status = 'PROC' order by id`, [t("transactions"), portfolioId]);
      return (rows as TransactionSqlRow[]).map(toStoredTransaction);
    },

    async rememberSymbols(pairs: { securityId: string; symbol: string }[]): Promise<void> {
      if (pairs.length === 0) return;
      await raw(
        knex,
        // In security id order, as every writer of these shared rows takes them (see ledger-store.ts).
        `insert into ?? (security_id, symbol)
         select distinct on (security_id) security_id, symbol from unnest(?::text[], ?::text[]) s(security_id, symbol)
         order by security_id
         on conflict (security_id) do update set symbol = excluded.symbol`,
        [t("security_symbols"), pairs.map((p) => p.securityId), pairs.map((p) => p.symbol)],
      );
    },

    /**
     * Everything the audit compares, in one repeatable-read snapshot so concurrent posting cannot make the log
     * and the balances disagree mid-read. null portfolioIds: every portfolio.
     */
    async auditSnapshot(portfolioIds: string[] | null): Promise<StoredLedger & { maxTransactionId: string }> {
      return knex.transaction(
        async (trx) => {
          const scope = portfolioIds ? `where portfolio_id = any(?::text[])` : "";
          const args = portfolioIds ? [portfolioIds] : [];
          const transactions = await raw(trx, `select * from ?? ${scope} order by id`, [t("transactions"), ...args]);
          const balances = await raw(trx, `select * from ?? ${scope}`, [t("balances"), ...args]);
          const lots = await raw(trx, `select * from ?? ${scope}`, [t("tax_lots"), ...args]);
          const realized = await raw(trx, `select portfolio_id, security_id, sum(realized_pnl) as pnl from ?? ${scope} group by 1, 2`, [
            t("lot_closures"),
            ...args,
          ]);
          const methods = await raw(trx, `select portfolio_id, cost_basis_method from ?? ${scope}`, [t("portfolio_settings"), ...args]);
          const reservations = await raw(trx, `select * from ?? ${scope}`, [t("reservations"), ...args]);
          const txns = (transactions.rows as TransactionSqlRow[]).map(toStoredTransaction);
          return {
            transactions: txns,
            methods: new Map((methods.rows as { portfolio_id: string; cost_basis_method: CostBasisMethod }[]).map((r) => [r.portfolio_id, r.cost_basis_method])),
            balances: (balances.rows as BalanceSqlRow[]).map(toBalanceRow),
            lots: (lots.rows as LotSqlRow[]).map(toStoredLot),
            realized: new Map((realized.rows as { portfolio_id: string; security_id: string; pnl: string }[]).map((r) => [`${r.portfolio_id}|${r.security_id}`, dec(r.pnl)])),
            reservations: (reservations.rows as ReservationSqlRow[]).map(toReservation),
            maxTransactionId: txns.length > 0 ? txns[txns.length - 1].id : "0",
          };
        },
        { isolationLevel: "repeatable read", readOnly: true },
      );
    },

    async setCostBasisMethod(portfolioId: string, method: CostBasisMethod): Promise<void> {
      await raw(
        knex,
        `insert into ?? (portfolio_id, cost_basis_method) values (?, ?) on conflict (portfolio_id) do update set cost_basis_method = excluded.cost_basis_method, updated_at = now()`,
        [t("portfolio_settings"), portfolioId, method],
      );
    },
  };

  function balanceQuery(db: Knex | Knex.Transaction = knex) {
    // What open reservations hold, per balance row, so every read shows reserved and available: one probe of
    // reservations_open_by_asset per row returned (cash is the key '', as in the ledger store). A subquery in the
    // select list rather than a join: a page is sorted and cut before it runs, and a count never runs it.
    return db(`${t("balances")} as b`).select(
      "b.*",
      knex.raw(
        `(select coalesce(sum(r.amount - r.consumed - r.released), 0) from ?? r
           where r.status = 'OPEN' and r.portfolio_id = b.portfolio_id and coalesce(r.security_id, '') = coalesce(b.security_id, '')) as held`,
        [t("reservations")],
      ),
    );
  }
}

export type LedgerQueries = ReturnType<typeof createLedgerQueries>;

function toTransactionRecord(r: TransactionSqlRow): TransactionRecord {
  return { ...toStoredTransaction(r), createdAt: r.created_at, updatedAt: r.updated_at };
}

function toBalanceRecord(r: BalanceSqlRow & { held: string }): BalanceRecord {
  return { ...toBalanceRow(r), id: r.id, lastUpdated: r.last_updated as Date, reserved: dec(r.held) };
}

function toStoredLot(r: LotSqlRow): StoredLot {
  return { portfolioId: r.portfolio_id, securityId: r.security_id, side: r.side, lot: toTaxLot(r) as TaxLot };
}

interface ClosureSqlRow {
  transaction_id: string;
  portfolio_id: string;
  security_id: string;
  side: "LONG" | "SHORT";
  lot_id: string;
  sale_date: string;
  quantity: string;
  cost: string;
  proceeds: string;
  realized_pnl: string;
}

function toClosure(r: ClosureSqlRow): LotClosure & { saleDate: string } {
  return {
    transactionId: r.transaction_id,
    portfolioId: r.portfolio_id,
    securityId: r.security_id,
    side: r.side,
    lotId: r.lot_id,
    saleDate: fromSqlDate(r.sale_date),
    quantity: dec(r.quantity),
    cost: dec(r.cost),
    proceeds: dec(r.proceeds),
    realizedPnl: dec(r.realized_pnl),
  };
}

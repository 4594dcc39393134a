// The ledger in Postgres: one knex transaction per unit of work, portfolio advisory locks, one statement for what
// a posting reads and one for what it writes (data-modifying CTEs over unnest of column arrays), so a 1,000-item
// batch costs five round trips: BEGIN, lock, read, write, COMMIT.
// This file is the unit of work and its session; the read is in ledger-working-set.ts, the write in ledger-writes.ts
// and ledger-lot-writes.ts, the row mappers in ledger-rows.ts and raw() in ledger-sql.ts.
import type { Knex } from "knex";
import type { Database } from "../../platform/database";
import { AccountingError } from "../domain/accounting-error";
import type { LedgerSession, ReservationLookup, SecurityKey, WithLedgerSession } from "../domain/ledger-session";
import { createLedgerState, parseBookKey } from "../domain/ledger-state";
import { dec } from "../domain/money";
import { addLotRow, addLots, insertLotsSql, lotBindings, lotRows } from "./ledger-lot-writes";
import { toCashMovement, toStoredTransaction, type CashMovementSqlRow, type TransactionSqlRow } from "./ledger-rows";
import { raw, text } from "./ledger-sql";
import { readWorkingSet, workingSet, type LoadedBook } from "./ledger-working-set";
import {
  addBalances,
  addClosures,
  addReservations,
  addSecuritySymbols,
  addTransactions,
  insertCashMovements,
  runWrites,
  type Writes,
} from "./ledger-writes";

/** Postgres unique_violation: a concurrent writer took a source id or an order id first. */
const UNIQUE_VIOLATION = "23505";

/**
 * Builds the accounting unit of work over one knex pool and schema. `prepared` (the platform's `db.prepared`) names
 * the posting path's statements, so each connection parses and plans them once rather than on every batch.
 */
export function createLedgerStore(knex: Knex, schema: string, prepared: Database["prepared"] = () => ({})): WithLedgerSession {
  return <T>(work: (session: LedgerSession) => Promise<T>) =>
    knex
      .transaction((trx) => work(createSession(trx, schema, prepared)))
      .catch((error: unknown) => {
        if ((error as { code?: string }).code === UNIQUE_VIOLATION) {
          throw new AccountingError("CONCURRENT_MODIFICATION", "a concurrent request stored the same key first", [], {}, { cause: error });
        }
        throw error;
      });
}

function createSession(trx: Knex.Transaction, schema: string, prepared: Database["prepared"]): LedgerSession {
  const t = (name: string) => `${schema}.${name}`;
  // Balance ids of the rows read (and of those a save created), so save knows which rows to update and which to insert.
  const loadedBalanceIds = new Map<string, string>();
  // The lot books read (seq and values by lot id), so save writes only the lots that changed.
  const loadedBooks = new Map<string, LoadedBook>();

  return {
    async lockPortfolios(portfolioIds) {
      if (portfolioIds.length === 0) return;
      // Sorted, in one statement: two sessions always take their locks in the same order, so they cannot deadlock.
      await raw(trx, 
        `select count(pg_advisory_xact_lock(k)) from (
           select distinct hashtextextended('tradeplane.accounting.portfolio:' || p, 0) as k from unnest(?::text[]) p order by 1
         ) locks`,
        [[...new Set(portfolioIds)]],
        prepared("ledger_lock_portfolios"),
      );
    },

    async loadForPosting(sourceIds, portfolioIds, securities, lookup = NO_LOOKUP) {
      if (sourceIds.length === 0) return { owners: new Map(), state: createLedgerState(), ids: [], reservations: [], openHolds: new Map() };
      const read = await readWorkingSet(trx, t, sourceIds, portfolioIds, securities, lookup, prepared("ledger_read_working_set"));
      return { owners: read.owners, state: workingSet(read, loadedBalanceIds, loadedBooks), ids: read.ids, reservations: read.reservations, openHolds: read.openHolds };
    },

    async loadState(portfolioIds, securities) {
      if (portfolioIds.length === 0 && securities.length === 0) return createLedgerState();
      const read = await readWorkingSet(trx, t, [], portfolioIds, securities, NO_LOOKUP, prepared("ledger_read_working_set"));
      return workingSet(read, loadedBalanceIds, loadedBooks);
    },

    async processedTransactions(portfolioId) {
      const { rows } = await raw(trx, `select * from ?? where portfolio_id = ? and status = 'PROC' order by id`, [t("transactions"), portfolioId]);
      return (rows as TransactionSqlRow[]).map(toStoredTransaction);
    },

    async openLotCount(portfolioId) {
      const { rows } = await raw(trx, `select count(*)::int as n from ?? where portfolio_id = ?`, [t("tax_lots"), portfolioId]);
      return (rows as { n: number }[])[0].n;
    },

    async saveCostBasisMethod(portfolioId, method, rebuild) {
      await raw(
        trx,
        `insert into ?? (portfolio_id, cost_basis_method) values (?, ?)
         on conflict (portfolio_id) do update set cost_basis_method = excluded.cost_basis_method, updated_at = now()`,
        [t("portfolio_settings"), portfolioId, method],
      );
      if (rebuild === null) return;
      await raw(trx, `delete from ?? where portfolio_id = ?`, [t("tax_lots"), portfolioId]);
      await raw(trx, `delete from ?? where portfolio_id = ?`, [t("lot_closures"), portfolioId]);
      const lots = lotRows();
      for (const [key, book] of rebuild.books) {
        const { portfolioId, securityId, side } = parseBookKey(key);
        book.forEach((lot, seq) => addLotRow(lots, portfolioId, securityId, side, seq, lot));
      }
      if (lots.lotIds.length > 0) await raw(trx, insertLotsSql, lotBindings(t, lots));
      const c = rebuild.closures;
      if (c.length === 0) return;
      // In replay order, so the serial ids keep each sale's closures in the order they were made.
      await raw(
        trx,
        `insert into ?? (transaction_id, portfolio_id, security_id, side, lot_id, sale_date, quantity, cost, proceeds, realized_pnl)
         select u.transaction_id, u.portfolio_id, u.security_id, u.side, u.lot_id, x.transaction_date, u.quantity, u.cost, u.proceeds, u.realized_pnl
           from unnest(?::bigint[], ?::text[], ?::text[], ?::text[], ?::text[], ?::numeric[], ?::numeric[], ?::numeric[], ?::numeric[])
                with ordinality as u(transaction_id, portfolio_id, security_id, side, lot_id, quantity, cost, proceeds, realized_pnl, n)
           join ?? x on x.id = u.transaction_id
          order by u.n`,
        [
          t("lot_closures"),
          c.map((x) => x.transactionId),
          c.map((x) => x.portfolioId),
          c.map((x) => x.securityId),
          c.map((x) => x.side),
          c.map((x) => x.lotId),
          c.map((x) => text(x.quantity)),
          c.map((x) => text(x.cost)),
          c.map((x) => text(x.proceeds)),
          c.map((x) => text(x.realizedPnl)),
          t("transactions"),
        ],
      );
    },

    async openReservationTotal(portfolioId, securityId) {
      // Cash is the key '' (security ids have 24 characters), so the asset is an equality that the index
      // reservations_open_by_asset answers; `is not distinct from` would filter every open hold of the portfolio.
      const { rows } = await raw(trx, 
        `select coalesce(sum(amount - consumed - released), 0) as held from ??
          where status = 'OPEN' and portfolio_id = ? and coalesce(security_id, '') = coalesce(?::text, '')`,
        [t("reservations"), portfolioId, securityId],
      );
      return dec((rows as { held: string }[])[0].held);
    },

    async findCashMovement(key) {
      const { rows } = await raw(trx, `select * from ?? where idempotency_key = ?`, [t("cash_movements"), key]);
      return rows.length > 0 ? toCashMovement(rows[0] as CashMovementSqlRow) : null;
    },

    async cashMovementTotalSince(portfolioId, kind, since) {
      const { rows } = await raw(trx, 
        `select coalesce(sum(amount), 0) as total from ?? where portfolio_id = ? and kind = ? and created_at >= ?`,
        [t("cash_movements"), portfolioId, kind, since],
      );
      return dec((rows as { total: string }[])[0].total);
    },

    async save(changes) {
      const { reservations, cashMovements, securitySymbols } = changes;
      const writes: Writes = { parts: [], bindings: [], shape: "" };
      addTransactions(writes, t, changes.transactions);
      const balanceInserts = addBalances(writes, t, changes, loadedBalanceIds);
      await addLots(trx, writes, t, changes, loadedBooks);
      addClosures(writes, t, changes);
      addReservations(writes, t, reservations);
      addSecuritySymbols(writes, t, securitySymbols ?? []);
      // From here on only the statements' parameters are needed, not the working set they were built from.
      await runWrites(trx, writes, balanceInserts, loadedBalanceIds, prepared);
      await insertCashMovements(trx, t, cashMovements);
    },
  };
}

/** A read that looks up no reservations and no holds (every caller but the fills'). */
const NO_LOOKUP: ReservationLookup = { reservationIdsOrOrderIds: [], holdKeys: [] };

export type { SecurityKey };

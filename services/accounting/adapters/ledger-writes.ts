// What a posting writes, as one statement: each table's write (transactions, balances, lots, realizations,
// reservations, security symbols) is a data-modifying CTE over unnest of column arrays, collected in Writes and run
// by runWrites as one named statement. The lot books' writes are in ledger-lot-writes.ts; cash movements are
// inserted after that statement, one insert each.
import type { Knex } from "knex";
import type { Database } from "../../platform/database";
import type { CashMovement } from "../domain/cash-movements";
import type { LedgerChanges, StoredTransaction } from "../domain/ledger-session";
import { balanceKey, type BalanceRow } from "../domain/ledger-state";
import type { Reservation } from "../domain/reservation";
import { bare, raw, text, type Qualify } from "./ledger-sql";

/**
 * The writes of one save as one statement: each table's write is a data-modifying CTE, so a batch's transactions,
 * balances, lots, realizations, reservations and security symbols cost one round trip, one parse and one plan
 * instead of one per table. The CTEs
 * touch disjoint rows, and the realizations' foreign key is checked at the end of the statement, when the
 * transactions they name are in. Column arrays are filled in one pass over the changes.
 */
export interface Writes {
  parts: string[];
  bindings: unknown[];
  /** One letter per CTE, in order: the statement's text follows from it, so it names the prepared statement. */
  shape: string;
}

/** Each CTE's letter in the write's statement name (a name longer than 63 bytes would be cut by Postgres). */
const WRITE_LETTERS = {
  new_transactions: "t",
  updated_balances: "u",
  new_balances: "b",
  closed_lots: "d",
  reduced_lots: "r",
  new_lots: "l",
  new_closures: "c",
  changed_reservations: "h",
  security_symbols: "s",
} as const;

/** Adds one CTE; `sql` must be the same text every time for a given name, since the name picks the statement. */
export function addWrite(writes: Writes, name: keyof typeof WRITE_LETTERS, sql: string, bindings: unknown[]): void {
  writes.parts.push(`${name} as (${sql})`);
  writes.shape += WRITE_LETTERS[name];
  for (const binding of bindings) writes.bindings.push(binding);
}

/** Runs the collected writes; new balance rows come back with their ids (one JSON value), which `loaded` records. */
export async function runWrites(
  trx: Knex.Transaction,
  writes: Writes,
  balanceInserts: boolean,
  loaded: Map<string, string>,
  prepared: Database["prepared"],
): Promise<void> {
  if (writes.parts.length === 0) return;
  const result = balanceInserts
    ? "select json_agg(json_build_array(id::text, portfolio_id, security_id)) as created from new_balances"
    : "select null as created";
  // The result clause depends only on whether new_balances is among the CTEs, so the shape still fixes the text.
  const { rows } = await raw(trx, `with ${writes.parts.join(",\n")}\n${result}`, writes.bindings, prepared(`ledger_save_${writes.shape}`));
  const created = (rows[0] as { created: [string, string, string | null][] | null }).created;
  for (const [id, portfolioId, securityId] of created ?? []) loaded.set(balanceKey(portfolioId, securityId), id);
}

export function addTransactions(writes: Writes, t: Qualify, transactions: StoredTransaction[]): void {
  if (transactions.length === 0) return;
  const n = transactions.length;
  const ids = new Array<string>(n), portfolioIds = new Array<string>(n), securityIds = new Array<string | null>(n);
  const sourceIds = new Array<string>(n), statuses = new Array<string>(n), types = new Array<string>(n);
  const quantities = new Array<string>(n), prices = new Array<string>(n), fees = new Array<string>(n), dates = new Array<string>(n);
  const attempts = new Array<number>(n), versions = new Array<number>(n), errors = new Array<string | null>(n);
  for (let i = 0; i < n; i++) {
    const x = transactions[i];
    ids[i] = x.id;
    portfolioIds[i] = x.portfolioId;
    securityIds[i] = x.securityId;
    sourceIds[i] = x.sourceId;
    statuses[i] = x.status;
    types[i] = x.type;
    quantities[i] = text(x.quantity);
    prices[i] = text(x.price);
    fees[i] = x.fee.isZero() ? "0" : text(x.fee); // only fills carry a fee
    dates[i] = x.transactionDate;
    attempts[i] = x.reprocessingAttempts;
    versions[i] = x.version;
    errors[i] = x.errorMessage === null ? null : x.errorMessage.slice(0, 255);
  }
  // A plain insert, not ON CONFLICT DO NOTHING: speculative insertion costs an extra index probe and a token per
  // row. A source id a concurrent batch committed after our lookup raises unique_violation instead, which
  // createLedgerStore turns into CONCURRENT_MODIFICATION, so the caller reruns the whole unit and then reports
  // those items as duplicates.
  addWrite(writes, "new_transactions",
    `insert into ?? (id, portfolio_id, security_id, source_id, status, transaction_type, quantity, price, fee, transaction_date,
                     reprocessing_attempts, version, error_message)
     select * from unnest(?::bigint[], ?::text[], ?::text[], ?::text[], ?::text[], ?::text[], ?::numeric[], ?::numeric[], ?::numeric[],
                          ?::date[], ?::int[], ?::int[], ?::text[])`,
    [t("transactions"), bare(ids), portfolioIds, securityIds, sourceIds, bare(statuses), bare(types), bare(quantities), bare(prices), bare(fees), dates,
      bare(attempts), bare(versions), errors],
  );
}

/** Updates the touched balance rows that exist and inserts the new ones; true when there are new ones. */
export function addBalances(writes: Writes, t: Qualify, changes: LedgerChanges, loaded: Map<string, string>): boolean {
  const updated = { ids: [] as string[], long: [] as string[], short: [] as string[], versions: [] as number[] };
  const created = {
    portfolioIds: [] as string[],
    securityIds: [] as (string | null)[],
    long: [] as string[],
    short: [] as string[],
    versions: [] as number[],
  };
  for (const key of changes.state.touchedBalances) {
    const row = changes.state.balances.get(key) as BalanceRow;
    const id = loaded.get(key);
    if (id !== undefined) {
      updated.ids.push(id);
      updated.long.push(text(row.quantityLong));
      updated.short.push(text(row.quantityShort));
      updated.versions.push(row.version);
    } else {
      created.portfolioIds.push(row.portfolioId);
      created.securityIds.push(row.securityId);
      created.long.push(text(row.quantityLong));
      created.short.push(text(row.quantityShort));
      created.versions.push(row.version);
    }
  }
  if (updated.ids.length > 0) {
    addWrite(writes, "updated_balances",
      `update ?? b set quantity_long = v.quantity_long, quantity_short = v.quantity_short, version = v.version, last_updated = now()
         from unnest(?::bigint[], ?::numeric[], ?::numeric[], ?::int[]) as v(id, quantity_long, quantity_short, version)
        where b.id = v.id`,
      [t("balances"), bare(updated.ids), bare(updated.long), bare(updated.short), bare(updated.versions)],
    );
  }
  if (created.portfolioIds.length === 0) return false;
  addWrite(writes, "new_balances",
    `insert into ?? (portfolio_id, security_id, quantity_long, quantity_short, version)
     select * from unnest(?::text[], ?::text[], ?::numeric[], ?::numeric[], ?::int[])
     returning id, portfolio_id, security_id`,
    [t("balances"), created.portfolioIds, created.securityIds, bare(created.long), bare(created.short), bare(created.versions)],
  );
  return true;
}

export function addClosures(writes: Writes, t: Qualify, changes: LedgerChanges): void {
  const c = changes.closures;
  if (c.length === 0) return;
  const n = c.length;
  const transactionIds = new Array<string>(n), portfolioIds = new Array<string>(n), securityIds = new Array<string>(n);
  const sides = new Array<string>(n), lotIds = new Array<string>(n), dates = new Array<string>(n);
  const quantities = new Array<string>(n), costs = new Array<string>(n), proceeds = new Array<string>(n), pnl = new Array<string>(n);
  // Closures come in the order of the transactions that made them, so the sale dates are found walking both lists.
  const transactions = changes.transactions;
  let next = 0;
  for (let i = 0; i < n; i++) {
    const x = c[i];
    while (next < transactions.length && transactions[next].id !== x.transactionId) next++;
    if (next === transactions.length) throw new Error(`closure of transaction ${x.transactionId}, which this save does not write`);
    transactionIds[i] = x.transactionId;
    portfolioIds[i] = x.portfolioId;
    securityIds[i] = x.securityId;
    sides[i] = x.side;
    lotIds[i] = x.lotId;
    dates[i] = transactions[next].transactionDate;
    quantities[i] = text(x.quantity);
    costs[i] = text(x.cost);
    proceeds[i] = text(x.proceeds);
    pnl[i] = text(x.realizedPnl);
  }
  addWrite(writes, "new_closures",
    `insert into ?? (transaction_id, portfolio_id, security_id, side, lot_id, sale_date, quantity, cost, proceeds, realized_pnl)
     select * from unnest(?::bigint[], ?::text[], ?::text[], ?::text[], ?::text[], ?::date[], ?::numeric[], ?::numeric[], ?::numeric[], ?::numeric[])`,
    [t("lot_closures"), bare(transactionIds), portfolioIds, securityIds, bare(sides), lotIds, dates, bare(quantities), bare(costs), bare(proceeds), bare(pnl)],
  );
}

/** Upserts the reservations a fill consumed or released (the row exists: only what fills change is updated). */
export function addReservations(writes: Writes, t: Qualify, reservations: Reservation[]): void {
  if (reservations.length === 0) return;
  addWrite(writes, "changed_reservations",
    `insert into ?? (reservation_id, order_id, portfolio_id, security_id, amount, consumed, released, status, created_at, updated_at)
     select * from unnest(?::text[], ?::text[], ?::text[], ?::text[], ?::numeric[], ?::numeric[], ?::numeric[], ?::text[], ?::timestamptz[], ?::timestamptz[])
     on conflict (reservation_id) do update
       set consumed = excluded.consumed, released = excluded.released, status = excluded.status, updated_at = excluded.updated_at`,
    [
      t("reservations"),
      reservations.map((r) => r.reservationId),
      reservations.map((r) => r.orderId),
      reservations.map((r) => r.portfolioId),
      reservations.map((r) => r.securityId),
      reservations.map((r) => text(r.amount)),
      reservations.map((r) => text(r.consumed)),
      reservations.map((r) => text(r.released)),
      reservations.map((r) => r.status),
      reservations.map((r) => r.createdAt.toISOString()),
      reservations.map((r) => r.updatedAt.toISOString()),
    ],
  );
}

/**
 * Upserts the tickers fills carry. Securities are shared by every portfolio, so two postings of different portfolios
 * (whose locks do not serialise them) may touch the same rows: the insert takes them in security id order (its
 * select is sorted), which keeps the two from deadlocking.
 */
export function addSecuritySymbols(writes: Writes, t: Qualify, symbols: { securityId: string; symbol: string }[]): void {
  if (symbols.length === 0) return;
  addWrite(writes, "security_symbols",
    `insert into ?? (security_id, symbol)
     select distinct on (security_id) security_id, symbol from unnest(?::text[], ?::text[]) s(security_id, symbol)
     order by security_id
     on conflict (security_id) do update set symbol = excluded.symbol`,
    [t("security_symbols"), symbols.map((s) => s.securityId), symbols.map((s) => s.symbol)],
  );
}

export async function insertCashMovements(trx: Knex.Transaction, t: Qualify, movements: CashMovement[]): Promise<void> {
  for (const m of movements) {
    await raw(trx, 
      `insert into ?? (idempotency_key, portfolio_id, kind, amount, transaction_id, balance_after, created_at) values (?, ?, ?, ?, ?, ?, ?)`,
      [t("cash_movements"), m.idempotencyKey, m.portfolioId, m.kind, text(m.amount), m.transactionId, text(m.balanceAfter), m.createdAt.toISOString()],
    );
  }
}

// The ledger in Postgres: one knex transaction per unit of work, portfolio advisory locks, one statement for what
// a posting reads and one for what it writes (data-modifying CTEs over unnest of column arrays), so a 1,000-item
// batch costs five round trips: BEGIN, lock, read, write, COMMIT.
import Decimal from "decimal.js";
import type { Knex } from "knex";
import type { Database } from "../../platform/database";
import { AccountingError } from "../domain/accounting-error";
import type { CashMovement, CashMovementKind } from "../domain/cash-movements";
import type { LedgerChanges, LedgerSession, ReservationLookup, SecurityKey, StoredTransaction, WithLedgerSession } from "../domain/ledger-session";
import { balanceKey, bookKey, createLedgerState, parseBookKey, type BalanceRow, type LedgerState } from "../domain/ledger-state";
import { dec } from "../domain/money";
import type { Reservation, ReservationStatus } from "../domain/reservation";
import type { BookSide, CostBasisMethod, TaxLot } from "../domain/tax-lots";
import type { TransactionStatus, TransactionType } from "../domain/transaction-type";

/** Postgres unique_violation: a concurrent writer took a source id or an order id first. */
const UNIQUE_VIOLATION = "23505";

/** "YYYY-MM-DD" from the DATE parser, back to the GlobeCo "YYYYMMDD". */
export function fromSqlDate(value: string): string {
  return value.replace(/-/g, "");
}

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

type Qualify = (name: string) => string;

/** A read that looks up no reservations and no holds (every caller but the fills'). */
const NO_LOOKUP: ReservationLookup = { reservationIdsOrOrderIds: [], holdKeys: [] };

/** What readWorkingSet returns: each part as rows of plain values (JSON), or null when it has none. */
interface WorkingSetRead {
  owners: Map<string, string>;
  ids: string[];
  reservations: Reservation[];
  openHolds: Map<string, Decimal>;
  balances: [id: string, portfolioId: string, securityId: string | null, quantityLong: string, quantityShort: string, version: number][] | null;
  lots:
    | [
        portfolioId: string, securityId: string, side: BookSide, lotId: string, seq: number, openedOn: string,
        quantity: string, cost: string, openQuantity: string, openPrice: string,
      ][]
    | null;
  methods: [portfolioId: string, method: CostBasisMethod][] | null;
}

/**
 * Everything a posting unit reads, in one statement and one round trip (it runs after lockPortfolios, so it sees
 * every write committed before the locks were granted): the transactions owning these source ids; the cash rows
 * of these portfolios and the rows of these securities; the lots of the positions found (lots are never written
 * without their balance row, and balance rows are never deleted, so a new position has no lot book to read); the
 * portfolios' cost-basis methods; one new transaction id per source id not found, taken after the locks so ids
 * increase in processing order (the audit replays in id order); and, for fills, the reservations found by
 * reservation id or order id and the open-hold total of each (portfolio, cash or security) key, which a fill batch
 * would otherwise read in two more round trips (the key matched as in openReservationTotal, on both index columns).
 *
 * Every lookup is an index probe per key whatever the table's size: `offset 0` keeps each lateral subquery from
 * being flattened into a join, which the planner, with its disk-oriented costs, would hash over a scan of the whole
 * table. Each part comes back as one JSON array (decimals and ids as text, never as JSON numbers).
 */
async function readWorkingSet(
  trx: Knex.Transaction,
  t: Qualify,
  sourceIds: string[],
  portfolioIds: string[],
  securities: SecurityKey[],
  lookup: ReservationLookup,
  statement: { name?: string },
): Promise<WorkingSetRead> {
  const { rows } = await raw(
    trx,
    `with sources as (
       select k.source_id, x.id from unnest(?::text[]) k(source_id)
         cross join lateral (select id from ?? x where x.source_id = k.source_id offset 0) x
     ), held as materialized (
       select b.id, b.portfolio_id, b.security_id, b.quantity_long, b.quantity_short, b.version
         from (select distinct * from unnest(?::text[], ?::text[])) k(portfolio_id, security_id)
         cross join lateral (select * from ?? x where x.portfolio_id = k.portfolio_id and x.security_id = k.security_id and x.security_id is not null offset 0) b
     ), balances as (
       select id, portfolio_id, security_id, quantity_long, quantity_short, version from ?? where security_id is null and portfolio_id = any(?::text[])
       union all
       select * from held
     ), found_reservations as (
       select r.* from (select distinct * from unnest(?::text[])) k(id)
         cross join lateral (select * from ?? x where x.reservation_id = k.id or x.order_id = k.id offset 0) r
     )
     select
       (select json_agg(json_build_array(source_id, id::text)) from sources) as owners,
       (select json_agg(json_build_array(id::text, portfolio_id, security_id, quantity_long::text, quantity_short::text, version)) from balances) as balances,
       (select json_agg(json_build_array(l.portfolio_id, l.security_id, l.side, l.lot_id, l.seq, to_char(l.opened_on, 'YYYYMMDD'),
                                         l.quantity::text, l.cost::text, l.open_quantity::text, l.open_price::text)
                        order by l.portfolio_id, l.security_id, l.side, l.seq)
          from held h cross join lateral (select * from ?? x where x.portfolio_id = h.portfolio_id and x.security_id = h.security_id offset 0) l) as lots,
       (select json_agg(json_build_array(portfolio_id, cost_basis_method)) from ?? where portfolio_id = any(?::text[])) as methods,
       (select json_agg(nextval(?::regclass)::text) from generate_series(1, ?::int - (select count(*) from sources)::int)) as ids,
       (select json_agg(json_build_array(reservation_id, order_id, portfolio_id, security_id, amount::text, consumed::text, released::text,
                                         status, created_at, updated_at))
          from found_reservations) as reservations,
       (select json_agg(json_build_array(k.portfolio_id, k.security_id, coalesce(h.held, 0)::text))
          from (select distinct * from unnest(?::text[], ?::text[])) k(portfolio_id, security_id)
          cross join lateral (
            select sum(r.amount - r.consumed - r.released) as held from ?? r
             where r.status = 'OPEN' and r.portfolio_id = k.portfolio_id and coalesce(r.security_id, '') = coalesce(k.security_id, '')
          ) h) as holds`,
    [
      sourceIds,
      t("transactions"),
      securities.map((s) => s.portfolioId),
      securities.map((s) => s.securityId),
      t("balances"),
      t("balances"),
      portfolioIds,
      lookup.reservationIdsOrOrderIds,
      t("reservations"),
      t("tax_lots"),
      t("portfolio_settings"),
      [...new Set([...portfolioIds, ...securities.map((s) => s.portfolioId)])],
      t("transactions_id_seq"),
      sourceIds.length,
      lookup.holdKeys.map((k) => k.portfolioId),
      lookup.holdKeys.map((k) => k.securityId),
      t("reservations"),
    ],
    statement,
  );
  const read = rows[0] as {
    owners: [string, string][] | null;
    ids: string[] | null;
    reservations: ReservationJson[] | null;
    holds: [portfolioId: string, securityId: string | null, held: string][] | null;
  } & Omit<WorkingSetRead, "owners" | "ids" | "reservations" | "openHolds">;
  // A reservation named by both its id and its order id is found twice.
  const reservations = new Map<string, Reservation>();
  for (const row of read.reservations ?? []) reservations.set(row[0], reservationOfJson(row));
  const openHolds = new Map<string, Decimal>();
  for (const [portfolioId, securityId, held] of read.holds ?? []) openHolds.set(balanceKey(portfolioId, securityId), dec(held));
  return {
    owners: new Map(read.owners ?? []),
    ids: (read.ids ?? []).sort((a, b) => a.length - b.length || (a < b ? -1 : a > b ? 1 : 0)),
    reservations: [...reservations.values()],
    openHolds,
    balances: read.balances,
    lots: read.lots,
    methods: read.methods,
  };
}

/** A reservation row as readWorkingSet returns it (decimals as text, timestamps as JSON's ISO 8601 with offset). */
type ReservationJson = [
  reservationId: string, orderId: string, portfolioId: string, securityId: string | null, amount: string, consumed: string, released: string,
  status: ReservationStatus, createdAt: string, updatedAt: string,
];

function reservationOfJson([reservationId, orderId, portfolioId, securityId, amount, consumed, released, status, createdAt, updatedAt]: ReservationJson): Reservation {
  return {
    reservationId,
    orderId,
    portfolioId,
    securityId,
    amount: dec(amount),
    consumed: dec(consumed),
    released: dec(released),
    status,
    createdAt: new Date(createdAt),
    updatedAt: new Date(updatedAt),
  };
}

/** The working set a read describes; records the loaded balance ids and lot books, so save can write the difference. */
function workingSet(read: WorkingSetRead, loadedBalanceIds: Map<string, string>, loadedBooks: Map<string, LoadedBook>): LedgerState {
  const state = createLedgerState();
  for (const [id, portfolioId, securityId, quantityLong, quantityShort, version] of read.balances ?? []) {
    const key = balanceKey(portfolioId, securityId);
    state.balances.set(key, { portfolioId, securityId, quantityLong: dec(quantityLong), quantityShort: dec(quantityShort), version });
    loadedBalanceIds.set(key, id);
  }
  for (const [portfolioId, securityId, side, lotId, seq, openedOn, quantity, cost, openQuantity, openPrice] of read.lots ?? []) {
    const key = bookKey(portfolioId, securityId, side);
    const lot: TaxLot = { lotId, openedOn, quantity: dec(quantity), cost: dec(cost), openQuantity: dec(openQuantity), openPrice: dec(openPrice) };
    let book = state.lots.get(key);
    if (book === undefined) state.lots.set(key, (book = []));
    book.push(lot);
    let loadedBook = loadedBooks.get(key);
    if (loadedBook === undefined) loadedBooks.set(key, (loadedBook = new Map()));
    loadedBook.set(lotId, { seq, lot });
  }
  for (const [portfolioId, method] of read.methods ?? []) state.methods.set(portfolioId, method);
  return state;
}

/**
 * knex's binding type has no room for arrays with nulls, which is exactly what unnest wants. Array bindings are
 * sent as Postgres array literals built here: pg would send the very same text, but builds it by string
 * concatenation and knex first walks every element looking for undefined, which for a batch's dozen
 * 1,000-element columns was the largest allocation of the whole request.
 */
export function raw(db: Knex | Knex.Transaction, query: string, bindings: unknown[], statement: { name?: string } = {}): Promise<{ rows: any[] }> {
  const literals = new Array<unknown>(bindings.length);
  for (let i = 0; i < bindings.length; i++) literals[i] = arrayLiteral(bindings[i]);
  const built = db.raw(query, literals as Knex.RawBinding[]);
  // A named statement (see createLedgerStore) is parsed and planned once per connection.
  return (statement.name === undefined ? built : built.options(statement)) as unknown as Promise<{ rows: any[] }>;
}

/**
 * `{"a","b",NULL}` for an array of strings, numbers, booleans and nulls, quoted and escaped exactly as pg's
 * own arrayString does; anything else (not an array, or elements such as dates or nested arrays) is left to pg.
 * The common column (no nulls, nothing to escape) is one join.
 */
function arrayLiteral(value: unknown): unknown {
  if (!Array.isArray(value)) return value;
  let plain = true;
  for (let i = 0; i < value.length; i++) {
    const element: unknown = value[i];
    if (typeof element === "string") {
      if (element.indexOf('"') !== -1 || element.indexOf("\\") !== -1) plain = false;
    } else if (typeof element !== "number" && typeof element !== "bigint" && typeof element !== "boolean") {
      if (element !== null && element !== undefined) return value;
      plain = false;
    }
  }
  if (value.length === 0) return "{}";
  if (plain) return `{"${value.join('","')}"}`;
  // Usually only a few NULLs (a cash row's security) make the column not plain: escape only what needs it.
  const parts = new Array<string>(value.length);
  for (let i = 0; i < value.length; i++) {
    const element: unknown = value[i];
    if (element === null || element === undefined) parts[i] = "NULL";
    else {
      const text = String(element);
      parts[i] = text.indexOf('"') === -1 && text.indexOf("\\") === -1 ? `"${text}"` : `"${text.replace(/["\\]/g, "\\$&")}"`;
    }
  }
  return `{${parts.join(",")}}`;
}

const text = (d: Decimal) => d.toFixed();

/**
 * The array literal of values whose text never needs quoting (numbers, decimals in plain notation: digits, a sign
 * and a point, and the fixed codes of statuses, types and sides), so it skips the scan arrayLiteral makes of every
 * element for quotes and backslashes.
 */
function bare(values: (string | number)[]): string {
  return values.length === 0 ? "{}" : `{${values.join(",")}}`;
}

/**
 * The writes of one save as one statement: each table's write is a data-modifying CTE, so a batch's transactions,
 * balances, lots, realizations, reservations and security symbols cost one round trip, one parse and one plan
 * instead of one per table. The CTEs
 * touch disjoint rows, and the realizations' foreign key is checked at the end of the statement, when the
 * transactions they name are in. Column arrays are filled in one pass over the changes.
 */
interface Writes {
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
function addWrite(writes: Writes, name: keyof typeof WRITE_LETTERS, sql: string, bindings: unknown[]): void {
  writes.parts.push(`${name} as (${sql})`);
  writes.shape += WRITE_LETTERS[name];
  for (const binding of bindings) writes.bindings.push(binding);
}

/** Runs the collected writes; new balance rows come back with their ids (one JSON value), which `loaded` records. */
async function runWrites(
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

function addTransactions(writes: Writes, t: Qualify, transactions: StoredTransaction[]): void {
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
function addBalances(writes: Writes, t: Qualify, changes: LedgerChanges, loaded: Map<string, string>): boolean {
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

/**
 * Writes only what changed in the touched books: lots opened in the unit are inserted, lots it closed are
 * deleted, lots it partly closed are updated, and untouched lots stay where they are (rewriting whole books
 * made every trade cost as much as its book was long). Surviving lots keep their seq and new lots are numbered
 * after the book's last one, which keeps the opening order; a book whose order that cannot express (never the
 * case for the lot rules, which only append and remove) is rewritten whole: its old lots are deleted by a statement
 * of their own first, since one statement cannot delete and re-insert the same key.
 */
async function addLots(trx: Knex.Transaction, writes: Writes, t: Qualify, changes: LedgerChanges, loaded: Map<string, LoadedBook>): Promise<void> {
  if (changes.state.touchedBooks.size === 0) return;
  const deletes = lotRows();
  const updates = lotRows();
  const inserts = lotRows();
  const rewrites = { portfolioIds: [] as string[], securityIds: [] as string[], sides: [] as string[] };
  for (const key of changes.state.touchedBooks) {
    const { portfolioId, securityId, side } = parseBookKey(key);
    const lots = changes.state.lots.get(key) ?? [];
    const before = loaded.get(key);
    if (before === undefined) {
      // A book the unit opened: every lot is new, numbered from 0.
      for (let seq = 0; seq < lots.length; seq++) addLotRow(inserts, portfolioId, securityId, side, seq, lots[seq]);
    } else if (keepsOrder(lots, before)) {
      addBookDiff(deletes, updates, inserts, portfolioId, securityId, side, lots, before);
    } else {
      rewrites.portfolioIds.push(portfolioId);
      rewrites.securityIds.push(securityId);
      rewrites.sides.push(side);
      for (let seq = 0; seq < lots.length; seq++) addLotRow(inserts, portfolioId, securityId, side, seq, lots[seq]);
    }
  }
  if (rewrites.portfolioIds.length > 0) {
    await raw(trx,
      `delete from ?? l using unnest(?::text[], ?::text[], ?::text[]) k(portfolio_id, security_id, side)
        where l.portfolio_id = k.portfolio_id and l.security_id = k.security_id and l.side = k.side`,
      [t("tax_lots"), rewrites.portfolioIds, rewrites.securityIds, rewrites.sides],
    );
  }
  if (deletes.lotIds.length > 0) {
    addWrite(writes, "closed_lots",
      `delete from ?? l using unnest(?::text[], ?::text[], ?::text[], ?::text[]) k(portfolio_id, security_id, side, lot_id)
        where l.portfolio_id = k.portfolio_id and l.security_id = k.security_id and l.side = k.side and l.lot_id = k.lot_id`,
      [t("tax_lots"), deletes.portfolioIds, deletes.securityIds, bare(deletes.sides), deletes.lotIds],
    );
  }
  if (updates.lotIds.length > 0) {
    addWrite(writes, "reduced_lots",
      `update ?? l set quantity = u.quantity, cost = u.cost, open_quantity = u.open_quantity, open_price = u.open_price
         from unnest(?::text[], ?::text[], ?::text[], ?::text[], ?::numeric[], ?::numeric[], ?::numeric[], ?::numeric[])
              u(portfolio_id, security_id, side, lot_id, quantity, cost, open_quantity, open_price)
        where l.portfolio_id = u.portfolio_id and l.security_id = u.security_id and l.side = u.side and l.lot_id = u.lot_id`,
      [
        t("tax_lots"),
        updates.portfolioIds,
        updates.securityIds,
        bare(updates.sides),
        updates.lotIds,
        bare(updates.quantities),
        bare(updates.costs),
        bare(updates.openQuantities),
        bare(updates.openPrices),
      ],
    );
  }
  if (inserts.lotIds.length > 0) addWrite(writes, "new_lots", insertLotsSql, lotBindings(t, inserts));
}

/** A book as loadState read it: each lot's stored seq and values, by lot id. */
type LoadedBook = Map<string, { seq: number; lot: TaxLot }>;

/** True when the surviving lots keep their stored seq order and every new lot comes after them (seq can express it). */
function keepsOrder(lots: TaxLot[], before: LoadedBook): boolean {
  let previousSeq = -1;
  let sawNew = false;
  for (const lot of lots) {
    const old = before.get(lot.lotId);
    if (old === undefined) sawNew = true;
    else if (sawNew || old.seq < previousSeq) return false;
    else previousSeq = old.seq;
  }
  return true;
}

/** Adds the inserts, updates and deletes turning the loaded book into `lots` (whose order keepsOrder accepted). */
function addBookDiff(
  deletes: LotRows,
  updates: LotRows,
  inserts: LotRows,
  portfolioId: string,
  securityId: string,
  side: BookSide,
  lots: TaxLot[],
  before: LoadedBook,
): void {
  let nextSeq = 0;
  for (const { seq } of before.values()) if (seq >= nextSeq) nextSeq = seq + 1;
  let keptCount = 0;
  for (const lot of lots) {
    const old = before.get(lot.lotId);
    if (old === undefined) {
      addLotRow(inserts, portfolioId, securityId, side, nextSeq++, lot);
      continue;
    }
    keptCount++;
    if (!sameLot(old.lot, lot)) addLotRow(updates, portfolioId, securityId, side, old.seq, lot);
  }
  if (keptCount < before.size) {
    const kept = new Set<string>();
    for (const lot of lots) kept.add(lot.lotId);
    for (const [lotId, old] of before) if (!kept.has(lotId)) addLotRow(deletes, portfolioId, securityId, side, old.seq, old.lot);
  }
}

function sameLot(a: TaxLot, b: TaxLot): boolean {
  return (
    a === b ||
    (a.openedOn === b.openedOn && a.quantity.equals(b.quantity) && a.cost.equals(b.cost) && a.openQuantity.equals(b.openQuantity) && a.openPrice.equals(b.openPrice))
  );
}

/** Tax-lot rows as column arrays (`seq` keeps a book's opening order), filled row by row. */
interface LotRows {
  portfolioIds: string[];
  securityIds: string[];
  sides: string[];
  lotIds: string[];
  seqs: number[];
  openedOn: string[];
  quantities: string[];
  costs: string[];
  openQuantities: string[];
  openPrices: string[];
}

function lotRows(): LotRows {
  return { portfolioIds: [], securityIds: [], sides: [], lotIds: [], seqs: [], openedOn: [], quantities: [], costs: [], openQuantities: [], openPrices: [] };
}

function addLotRow(rows: LotRows, portfolioId: string, securityId: string, side: BookSide, seq: number, lot: TaxLot): void {
  rows.portfolioIds.push(portfolioId);
  rows.securityIds.push(securityId);
  rows.sides.push(side);
  rows.lotIds.push(lot.lotId);
  rows.seqs.push(seq);
  rows.openedOn.push(lot.openedOn);
  const quantity = text(lot.quantity);
  rows.quantities.push(quantity);
  rows.costs.push(text(lot.cost));
  // A lot nothing has closed yet still holds the very Decimal it opened with: no second conversion.
  rows.openQuantities.push(lot.openQuantity === lot.quantity ? quantity : text(lot.openQuantity));
  rows.openPrices.push(text(lot.openPrice));
}

const insertLotsSql = `insert into ?? (portfolio_id, security_id, side, lot_id, seq, opened_on, quantity, cost, open_quantity, open_price)
  select * from unnest(?::text[], ?::text[], ?::text[], ?::text[], ?::int[], ?::date[], ?::numeric[], ?::numeric[], ?::numeric[], ?::numeric[])`;

function lotBindings(t: Qualify, lots: LotRows): unknown[] {
  return [
    t("tax_lots"),
    lots.portfolioIds,
    lots.securityIds,
    bare(lots.sides),
    lots.lotIds,
    bare(lots.seqs),
    lots.openedOn,
    bare(lots.quantities),
    bare(lots.costs),
    bare(lots.openQuantities),
    bare(lots.openPrices),
  ];
}

function addClosures(writes: Writes, t: Qualify, changes: LedgerChanges): void {
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
function addReservations(writes: Writes, t: Qualify, reservations: Reservation[]): void {
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
function addSecuritySymbols(writes: Writes, t: Qualify, symbols: { securityId: string; symbol: string }[]): void {
  if (symbols.length === 0) return;
  addWrite(writes, "security_symbols",
    `insert into ?? (security_id, symbol)
     select distinct on (security_id) security_id, symbol from unnest(?::text[], ?::text[]) s(security_id, symbol)
     order by security_id
     on conflict (security_id) do update set symbol = excluded.symbol`,
    [t("security_symbols"), symbols.map((s) => s.securityId), symbols.map((s) => s.symbol)],
  );
}

async function insertCashMovements(trx: Knex.Transaction, t: Qualify, movements: CashMovement[]): Promise<void> {
  for (const m of movements) {
    await raw(trx, 
      `insert into ?? (idempotency_key, portfolio_id, kind, amount, transaction_id, balance_after, created_at) values (?, ?, ?, ?, ?, ?, ?)`,
      [t("cash_movements"), m.idempotencyKey, m.portfolioId, m.kind, text(m.amount), m.transactionId, text(m.balanceAfter), m.createdAt.toISOString()],
    );
  }
}

export interface BalanceSqlRow {
  id: string;
  portfolio_id: string;
  security_id: string | null;
  quantity_long: string;
  quantity_short: string;
  version: number;
  last_updated?: Date;
}

export function toBalanceRow(r: BalanceSqlRow): BalanceRow {
  return { portfolioId: r.portfolio_id, securityId: r.security_id, quantityLong: dec(r.quantity_long), quantityShort: dec(r.quantity_short), version: r.version };
}

export interface LotSqlRow {
  portfolio_id: string;
  security_id: string;
  side: BookSide;
  lot_id: string;
  /** Position in the book (opening order); not every query selects it. */
  seq?: number;
  opened_on: string;
  quantity: string;
  cost: string;
  open_quantity: string;
  open_price: string;
}

export function toTaxLot(r: LotSqlRow): TaxLot {
  return {
    lotId: r.lot_id,
    openedOn: fromSqlDate(r.opened_on),
    quantity: dec(r.quantity),
    cost: dec(r.cost),
    openQuantity: dec(r.open_quantity),
    openPrice: dec(r.open_price),
  };
}

export interface ReservationSqlRow {
  reservation_id: string;
  order_id: string;
  portfolio_id: string;
  security_id: string | null;
  amount: string;
  consumed: string;
  released: string;
  status: ReservationStatus;
  created_at: Date;
  updated_at: Date;
}

export function toReservation(r: ReservationSqlRow): Reservation {
  return {
    reservationId: r.reservation_id,
    orderId: r.order_id,
    portfolioId: r.portfolio_id,
    securityId: r.security_id,
    amount: dec(r.amount),
    consumed: dec(r.consumed),
    released: dec(r.released),
    status: r.status,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
  };
}

interface CashMovementSqlRow {
  idempotency_key: string;
  portfolio_id: string;
  kind: CashMovementKind;
  amount: string;
  transaction_id: string;
  balance_after: string;
  created_at: Date;
}

function toCashMovement(r: CashMovementSqlRow): CashMovement {
  return {
    idempotencyKey: r.idempotency_key,
    portfolioId: r.portfolio_id,
    kind: r.kind,
    amount: dec(r.amount),
    transactionId: r.transaction_id,
    balanceAfter: dec(r.balance_after),
    createdAt: r.created_at,
  };
}

export interface TransactionSqlRow {
  id: string;
  portfolio_id: string;
  security_id: string | null;
  source_id: string;
  status: TransactionStatus;
  transaction_type: TransactionType;
  quantity: string;
  price: string;
  fee: string;
  transaction_date: string;
  reprocessing_attempts: number;
  version: number;
  error_message: string | null;
  created_at: Date;
  updated_at: Date;
}

export function toStoredTransaction(r: TransactionSqlRow): StoredTransaction {
  return {
    id: r.id,
    portfolioId: r.portfolio_id,
    securityId: r.security_id,
    sourceId: r.source_id,
    status: r.status,
    type: r.transaction_type,
    quantity: dec(r.quantity),
    price: dec(r.price),
    fee: dec(r.fee),
    transactionDate: fromSqlDate(r.transaction_date),
    reprocessingAttempts: r.reprocessing_attempts,
    version: r.version,
    errorMessage: r.error_message,
  };
}

export type { SecurityKey };

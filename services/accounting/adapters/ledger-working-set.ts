// What a posting reads, in one statement: the owners of its source ids, the balance rows, lot books and cost-basis
// methods it touches, new transaction ids and, for fills, the reservations and open holds; and the working set
// (LedgerState) built from it, recording what was loaded so a save writes only the difference.
import Decimal from "decimal.js";
import type { Knex } from "knex";
import type { ReservationLookup, SecurityKey } from "../domain/ledger-session";
import { balanceKey, bookKey, createLedgerState, type LedgerState } from "../domain/ledger-state";
import { dec } from "../domain/money";
import type { Reservation, ReservationStatus } from "../domain/reservation";
import type { BookSide, CostBasisMethod, TaxLot } from "../domain/tax-lots";
import { raw, type Qualify } from "./ledger-sql";

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
export async function readWorkingSet(
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
export function workingSet(read: WorkingSetRead, loadedBalanceIds: Map<string, string>, loadedBooks: Map<string, LoadedBook>): LedgerState {
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

/** A book as loadState read it: each lot's stored seq and values, by lot id. */
export type LoadedBook = Map<string, { seq: number; lot: TaxLot }>;

// The lot books' part of a save: the difference between each touched book as loaded and as the unit left it
// (new lots inserted, closed lots deleted, partly closed lots updated), added to the save's Writes; and the tax-lot
// rows as column arrays, which saveCostBasisMethod also uses to insert a rebuilt book.
import type { Knex } from "knex";
import type { LedgerChanges } from "../domain/ledger-session";
import { parseBookKey } from "../domain/ledger-state";
import type { BookSide, TaxLot } from "../domain/tax-lots";
import { bare, raw, text, type Qualify } from "./ledger-sql";
import type { LoadedBook } from "./ledger-working-set";
import { addWrite, type Writes } from "./ledger-writes";

/**
 * Writes only what changed in the touched books: lots opened in the unit are inserted, lots it closed are
 * deleted, lots it partly closed are updated, and untouched lots stay where they are (rewriting whole books
 * made every trade cost as much as its book was long). Surviving lots keep their seq and new lots are numbered
 * after the book's last one, which keeps the opening order; a book whose order that cannot express (never the
 * case for the lot rules, which only append and remove) is rewritten whole: its old lots are deleted by a statement
 * of their own first, since one statement cannot delete and re-insert the same key.
 */
export async function addLots(trx: Knex.Transaction, writes: Writes, t: Qualify, changes: LedgerChanges, loaded: Map<string, LoadedBook>): Promise<void> {
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
export interface LotRows {
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

export function lotRows(): LotRows {
  return { portfolioIds: [], securityIds: [], sides: [], lotIds: [], seqs: [], openedOn: [], quantities: [], costs: [], openQuantities: [], openPrices: [] };
}

export function addLotRow(rows: LotRows, portfolioId: string, securityId: string, side: BookSide, seq: number, lot: TaxLot): void {
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

export const insertLotsSql = `insert into ?? (portfolio_id, security_id, side, lot_id, seq, opened_on, quantity, cost, open_quantity, open_price)
  select * from unnest(?::text[], ?::text[], ?::text[], ?::text[], ?::int[], ?::date[], ?::numeric[], ?::numeric[], ?::numeric[], ?::numeric[])`;

export function lotBindings(t: Qualify, lots: LotRows): unknown[] {
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

import Decimal from "decimal.js";
import { accountingDecimal, dec, roundToStoredScale } from "./money";

/** How a disposal picks the lots it closes: oldest, newest, highest unit cost first, or the pooled average. */
export const COST_BASIS_METHODS = ["FIFO", "LIFO", "HIFO", "AVERAGE"] as const;
export type CostBasisMethod = (typeof COST_BASIS_METHODS)[number];

/** The default method of a portfolio that never chose one. */
export const DEFAULT_COST_BASIS_METHOD: CostBasisMethod = "FIFO";

/** A portfolio keeps one lot book per security and side: LONG for long units, SHORT for short units. */
export type BookSide = "LONG" | "SHORT";

/** An open tax lot; books keep their lots in opening order. */
export interface TaxLot {
  /** Id of the transaction that opened the lot (each transaction opens at most one lot). */
  lotId: string;
  /** YYYYMMDD date of the opening transaction. */
  openedOn: string;
  /** Units still open; negative only in a long book driven below zero by the (unchecked) transaction API. */
  quantity: Decimal;
  /** Remaining cost of those units including fees, same sign as quantity (for a short lot: minus the proceeds). */
  cost: Decimal;
  /** Units the lot opened with. */
  openQuantity: Decimal;
  /** Trade price the lot opened at. */
  openPrice: Decimal;
}

/** The part of a lot one disposal closed, with the P&L it realized. */
export interface LotClosure {
  transactionId: string;
  portfolioId: string;
  securityId: string;
  lotId: string;
  side: BookSide;
  /** Units closed, same sign as the lot. */
  quantity: Decimal;
  /** Lot cost released by these units. */
  cost: Decimal;
  /** Cash the closing trade attributes to these units (net of its fee share); 0 for a transfer. */
  proceeds: Decimal;
  /** proceeds − cost; 0 for a transfer, which moves cost basis out without selling. */
  realizedPnl: Decimal;
}

/** One transaction's effect on a lot book. */
export interface LotTrade {
  transactionId: string;
  portfolioId: string;
  securityId: string;
  /** YYYYMMDD. */
  date: string;
  side: BookSide;
  /** Signed change of units in this book (BUY +q, SELL −q in LONG; SHORT +q, COVER −q in SHORT). */
  delta: Decimal;
  price: Decimal;
  fee: Decimal;
  /** False for IN/OUT transfers: they move lots without realizing P&L. */
  realizes: boolean;
}

/**
 * Applies one trade to a lot book. A trade in the book's direction opens a lot; a trade against it closes lots
 * in the method's order and, if it is larger than the book, opens a lot of the opposite sign for the rest.
 *
 * Money is tracked as signed "amounts" so one formula serves both sides: a trade's amount is
 * bookSign × delta × price + fee (what it costs to move the book by delta), and closing units realizes
 * −(amount share + cost share). Shares are rounded to the stored scale and the last share takes the remainder,
 * so the cash, cost and P&L columns always add up exactly.
 */
export function applyLotTrade(
  lots: readonly TaxLot[],
  method: CostBasisMethod,
  trade: LotTrade,
): { lots: TaxLot[]; closures: LotClosure[] } {
  const bookSign = trade.side === "LONG" ? 1 : -1;
  const delta = accountingDecimal(trade.delta);
  const signedNotional = bookSign === 1 ? delta.times(trade.price) : delta.times(trade.price).negated();
  const amount = roundToStoredScale(trade.fee.isZero() ? signedNotional : signedNotional.plus(trade.fee));
  const bookQuantity = sumQuantity(lots);
  const closures: LotClosure[] = [];

  if (bookQuantity.isZero() || bookQuantity.isNegative() === delta.isNegative()) {
    // Opening leaves the existing lots as they are: share them rather than copying each one.
    const lot = openLot(trade, delta, amount);
    return { lots: method === "AVERAGE" ? poolLots([...lots, lot]) : [...lots, lot], closures };
  }

  // Closing changes lots: work on copies, so the caller's book stays as it was.
  const book = lots.map((lot) => ({ ...lot }));

  const closeUnits = Decimal.min(delta.abs(), bookQuantity.abs());
  const reopens = delta.abs().greaterThan(closeUnits);
  let unitsLeft = closeUnits;
  let amountAllocated = dec(0);
  for (const lot of closingOrder(book, method)) {
    if (unitsLeft.isZero()) break;
    const lotUnits = lot.quantity.abs();
    const units = Decimal.min(lotUnits, unitsLeft);
    unitsLeft = unitsLeft.minus(units);
    const lastShare = unitsLeft.isZero();

    const amountShare =
      lastShare && !reopens ? amount.minus(amountAllocated) : roundToStoredScale(amount.times(units).div(delta.abs()));
    amountAllocated = amountAllocated.plus(amountShare);
    const costShare = units.equals(lotUnits) ? lot.cost : roundToStoredScale(lot.cost.times(units).div(lotUnits));

    const closedQuantity = lot.quantity.isNegative() ? units.negated() : units;
    closures.push({
      transactionId: trade.transactionId,
      portfolioId: trade.portfolioId,
      securityId: trade.securityId,
      lotId: lot.lotId,
      side: trade.side,
      quantity: closedQuantity,
      cost: costShare,
      proceeds: trade.realizes ? amountShare.negated() : dec(0),
      realizedPnl: trade.realizes ? amountShare.plus(costShare).negated() : dec(0),
    });
    lot.quantity = lot.quantity.minus(closedQuantity);
    lot.cost = lot.cost.minus(costShare);
  }

  let remaining = book.filter((lot) => !lot.quantity.isZero());
  if (reopens) {
    const rest = delta.isNegative() ? delta.plus(closeUnits) : delta.minus(closeUnits);
    remaining = [openLot(trade, rest, amount.minus(amountAllocated))];
    if (method === "AVERAGE") remaining = poolLots(remaining);
  }
  return { lots: remaining, closures };
}

function openLot(trade: LotTrade, quantity: Decimal, cost: Decimal): TaxLot {
  return {
    lotId: trade.transactionId,
    openedOn: trade.date,
    quantity,
    cost,
    openQuantity: quantity,
    openPrice: accountingDecimal(trade.price),
  };
}

/** Lots in the order a disposal consumes them; ties keep opening order (Array.prototype.sort is stable). */
function closingOrder(book: TaxLot[], method: CostBasisMethod): TaxLot[] {
  switch (method) {
    case "FIFO":
    case "AVERAGE":
      return [...book];
    case "LIFO":
      return [...book].reverse();
    case "HIFO":
      return [...book].sort((a, b) => unitCost(b).comparedTo(unitCost(a)));
  }
}

/** Id of the single pooled lot an AVERAGE book keeps. */
export const AVERAGE_LOT_ID = "avg";

/**
 * Under AVERAGE a book is one pooled lot: every acquisition adds its units and cost, so the pool's unit cost
 * is Hub's moving average (Q·A + q·p) / (Q + q), and a sale releases cost × sold / held, i.e. avg × qty.
 */
function poolLots(book: TaxLot[]): TaxLot[] {
  if (book.length === 1 && book[0].lotId === AVERAGE_LOT_ID) return book;
  const quantity = sumQuantity(book);
  const cost = sumCost(book);
  return [
    {
      lotId: AVERAGE_LOT_ID,
      openedOn: book[0].openedOn,
      quantity,
      cost,
      openQuantity: book.reduce((sum, lot) => sum.plus(lot.openQuantity), dec(0)),
      openPrice: quantity.isZero() ? dec(0) : roundToStoredScale(cost.div(quantity)),
    },
  ];
}

/** Cost per unit of a lot (for a short lot: minus the proceeds per unit). */
export function unitCost(lot: TaxLot): Decimal {
  return lot.quantity.isZero() ? dec(0) : lot.cost.div(lot.quantity);
}

/** Total open units of a book. */
export function sumQuantity(lots: readonly TaxLot[]): Decimal {
  if (lots.length === 1) return accountingDecimal(lots[0].quantity);
  return lots.reduce((sum, lot) => sum.plus(lot.quantity), dec(0));
}

/** Total open cost of a book. */
export function sumCost(lots: readonly TaxLot[]): Decimal {
  return lots.reduce((sum, lot) => sum.plus(lot.cost), dec(0));
}

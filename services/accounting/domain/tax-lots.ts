import Decimal from "decimal.js";
import { accountingDecimal, dec, roundToStoredScale, ZERO } from "./money";

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
  /**
   * What moving the book by delta costs (bookSign × delta × price + fee, before rounding), when the caller has it
   * already: a trade's cash leg negated. Left out, it is computed here.
   */
  amount?: Decimal;
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
  const delta = accountingDecimal(trade.delta);
  const amount = roundToStoredScale(trade.amount ?? tradeAmount(trade, delta));
  const bookQuantity = sumQuantity(lots);
  const closures: LotClosure[] = [];

  if (bookQuantity.isZero() || bookQuantity.isNegative() === delta.isNegative()) {
    // Opening leaves the existing lots as they are: share them rather than copying each one.
    const lot = openLot(trade, delta, amount);
    return { lots: method === "AVERAGE" ? poolLots([...lots, lot]) : [...lots, lot], closures };
  }

  // Closing changes lots: a lot it closes is replaced in a copy of the array, so the caller's book stays as it
  // was, and the lots it does not reach are shared rather than copied (lots are never changed in place).
  const book = lots.slice();

  // Absolute values and minimums pick one of the operands instead of allocating a copy (Decimals are immutable).
  const tradeUnits = magnitude(delta);
  const bookUnits = magnitude(bookQuantity);
  const closeUnits = bookUnits.lessThan(tradeUnits) ? bookUnits : tradeUnits;
  const reopens = tradeUnits.greaterThan(closeUnits);
  let unitsLeft = closeUnits;
  let amountAllocated = ZERO;
  for (const index of closingOrder(book, method)) {
    if (unitsLeft.isZero()) break;
    const lot = book[index];
    const lotUnits = magnitude(lot.quantity);
    const units = unitsLeft.lessThan(lotUnits) ? unitsLeft : lotUnits;
    unitsLeft = unitsLeft.minus(units);
    const lastShare = unitsLeft.isZero();

    const amountShare =
      lastShare && !reopens ? amount.minus(amountAllocated) : roundToStoredScale(amount.times(units).div(tradeUnits));
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
    book[index] = { ...lot, quantity: lot.quantity.minus(closedQuantity), cost: lot.cost.minus(costShare) };
  }

  let remaining = book.filter((lot) => !lot.quantity.isZero());
  if (reopens) {
    const rest = delta.isNegative() ? delta.plus(closeUnits) : delta.minus(closeUnits);
    remaining = [openLot(trade, rest, amount.minus(amountAllocated))];
    if (method === "AVERAGE") remaining = poolLots(remaining);
  }
  return { lots: remaining, closures };
}

/** bookSign × delta × price + fee: what moving the book by delta costs (for a short book, minus the proceeds). */
function tradeAmount(trade: LotTrade, delta: Decimal): Decimal {
  const signedNotional = trade.side === "LONG" ? delta.times(trade.price) : delta.times(trade.price).negated();
  return trade.fee.isZero() ? signedNotional : signedNotional.plus(trade.fee);
}

/** |value|, the value itself when it is not negative. */
function magnitude(value: Decimal): Decimal {
  return value.isNegative() ? value.negated() : value;
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

/** Positions in the book in the order a disposal consumes its lots; ties keep opening order (sort is stable). */
function closingOrder(book: readonly TaxLot[], method: CostBasisMethod): number[] {
  const order = new Array<number>(book.length);
  for (let i = 0; i < book.length; i++) order[i] = i;
  switch (method) {
    case "FIFO":
    case "AVERAGE":
      return order;
    case "LIFO":
      return order.reverse();
    case "HIFO":
      return order.sort((a, b) => unitCost(book[b]).comparedTo(unitCost(book[a])));
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
  if (lots.length === 0) return ZERO;
  // Seeded with the first lot rather than a fresh zero: the same sum, one Decimal fewer.
  let sum = accountingDecimal(lots[0].quantity);
  for (let i = 1; i < lots.length; i++) sum = sum.plus(lots[i].quantity);
  return sum;
}

/** Total open cost of a book. */
export function sumCost(lots: readonly TaxLot[]): Decimal {
  return lots.reduce((sum, lot) => sum.plus(lot.cost), dec(0));
}

import Decimal from "decimal.js";
import type { OrderSide } from "./order";

/** Instrument facts the orders domain needs, as market data reports them. */
export interface InstrumentInfo {
  symbol: string;
  /** e.g. "EQUITY", "ETF", "CRYPTO", "BOND"; only CRYPTO changes a rule (it trades around the clock). */
  assetClass: string;
  tradable: boolean;
  /** Quantities must be whole multiples of it (1 for most stocks, 0.00000001 for crypto). */
  lotSize: Decimal;
  /** Smallest accepted order quantity. */
  minQuantity: Decimal;
  /** Whether notional (cash-sized) market buys are accepted. */
  fractionable: boolean;
  currency: string;
}

/** Top of book for one symbol. Sizes are null when the feed does not report depth (then treated as unlimited). */
export interface QuoteInfo {
  bid: Decimal;
  ask: Decimal;
  last: Decimal | null;
  bidSize: Decimal | null;
  askSize: Decimal | null;
  at: Date;
}

/** Whether the instrument's session is open now and when it closes (the expiry of DAY orders). */
export interface SessionInfo {
  open: boolean;
  closesAt: Date | null;
}

/** Everything one market data lookup returns for a symbol. */
export interface MarketSnapshot {
  instrument: InstrumentInfo;
  quote: QuoteInfo;
  session: SessionInfo;
}

/** The price the ±band is measured against: the last trade, else the mid of bid and ask. */
export function referencePrice(quote: QuoteInfo): Decimal {
  if (quote.last !== null && quote.last.gt(0)) return quote.last;
  if (quote.bid.gt(0) && quote.ask.gt(0)) return quote.bid.plus(quote.ask).div(2);
  return quote.bid.gt(0) ? quote.bid : quote.ask;
}

/** The price an order of this side trades at now: the ask for buys, the bid for sells (last as a fallback). */
export function sidePrice(quote: QuoteInfo, side: OrderSide): Decimal {
  const price = side === "BUY" ? quote.ask : quote.bid;
  return price.gt(0) ? price : referencePrice(quote);
}

/** Quantity available at the touch for this side, or null when the feed gives no size. */
export function sideSize(quote: QuoteInfo, side: OrderSide): Decimal | null {
  const size = side === "BUY" ? quote.askSize : quote.bidSize;
  return size === null || size.lte(0) ? null : size;
}

/** Crypto trades around the clock, whatever the session calendar says. */
export function isSessionOpen(instrument: InstrumentInfo, session: SessionInfo): boolean {
  return instrument.assetClass.toUpperCase() === "CRYPTO" || session.open;
}

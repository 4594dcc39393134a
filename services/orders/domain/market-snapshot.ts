import Decimal from "decimal.js";
import type { OrderSide } from "./order";
import { sessionState, type SessionState, type TradingCalendar } from "./trading-session";

/** Instrument facts the orders domain needs, as market data reports them. */
export interface InstrumentInfo {
  securityId: string;
  symbol: string;
  /** "EQUITY", "ETF", "CRYPTO", "BOND", "FUND". */
  assetClass: string;
  /** False for halted or delisted instruments. */
  tradable: boolean;
  /** Quantities must be whole multiples of it (1 for most stocks, 0.00000001 for crypto). */
  lotSize: Decimal;
  /** Smallest accepted order quantity. */
  minQuantity: Decimal;
  /** Limit and stop prices must be multiples of it. */
  tickSize: Decimal;
  /** Whether notional (cash-sized) market buys are accepted. */
  fractionable: boolean;
  currency: string;
  session: TradingCalendar;
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

/** Everything one market data lookup returns for a symbol. */
export interface MarketSnapshot {
  instrument: InstrumentInfo;
  quote: QuoteInfo;
}

/** The market price: the last trade, else the mid of bid and ask. The ±band and the price-moved check use it. */
export function referencePrice(quote: QuoteInfo): Decimal {
  if (quote.last !== null && quote.last.gt(0)) return quote.last;
  if (quote.bid.gt(0) && quote.ask.gt(0)) return quote.bid.plus(quote.ask).div(2);
  return quote.bid.gt(0) ? quote.bid : quote.ask;
}

/** The price an order of this side trades at now: the ask for buys, the bid for sells (market price as fallback). */
export function sidePrice(quote: QuoteInfo, side: OrderSide): Decimal {
  const price = side === "BUY" ? quote.ask : quote.bid;
  return price.gt(0) ? price : referencePrice(quote);
}

/** Quantity available at the touch for this side, or null when the feed gives no size. */
export function sideSize(quote: QuoteInfo, side: OrderSide): Decimal | null {
  const size = side === "BUY" ? quote.askSize : quote.bidSize;
  return size === null || size.lte(0) ? null : size;
}

/** Session state of the instrument; crypto trades around the clock whatever its calendar says. */
export function instrumentSession(instrument: InstrumentInfo, now: Date): SessionState {
  if (instrument.assetClass.toUpperCase() === "CRYPTO") return { open: true, closesAt: null };
  return sessionState(instrument.session, now);
}

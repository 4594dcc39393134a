import Decimal from "decimal.js";
import { MarketDataError } from "./errors";

/** Broad kind of security; decides default session, price grid and lot rules. */
export type AssetClass = "EQUITY" | "ETF" | "CRYPTO";

/** Lifecycle of an instrument: only ACTIVE instruments are tradable and accept quotes. */
export type InstrumentStatus = "ACTIVE" | "HALTED" | "DELISTED";

/**
 * When an instrument trades. Exchange hours are wall-clock times in the exchange's IANA time zone,
 * so daylight saving is handled by the zone, not by the caller.
 */
export type TradingSession =
  | { readonly kind: "ALWAYS_OPEN" }
  | {
      readonly kind: "EXCHANGE_HOURS";
      /** IANA zone of the exchange, e.g. "America/New_York". */
      readonly timeZone: string;
      /** Local opening time "HH:MM" (inclusive). */
      readonly openLocal: string;
      /** Local closing time "HH:MM" (exclusive). */
      readonly closeLocal: string;
      /** ISO weekdays the exchange trades on, 1 = Monday … 7 = Sunday. */
      readonly tradingDays: readonly number[];
    };

/** A security that can be quoted and traded. Prices and quantities are Decimal, never number. */
export interface Instrument {
  /** 24 alphanumeric characters; the id accounting and optimization store. */
  readonly securityId: string;
  /** Upper-case ticker, unique. */
  readonly symbol: string;
  readonly name: string;
  readonly assetClass: AssetClass;
  /** ISO 4217 code of the quote currency. */
  readonly currency: string;
  /** Exchange MIC (XNAS, XNYS, ARCX) or venue label (CRYPTO); informational. */
  readonly exchange: string;
  /** Quantities must be a whole multiple of the lot size. */
  readonly lotSize: Decimal;
  /** Smallest quantity an order may have. */
  readonly minQuantity: Decimal;
  /** Prices must be a whole multiple of the tick size. */
  readonly tickSize: Decimal;
  readonly isTradable: boolean;
  readonly status: InstrumentStatus;
  readonly session: TradingSession;
  /** Price the simulator starts from and the registry was seeded with. */
  readonly referencePrice: Decimal;
}

/** Symbols are 1–12 characters of A–Z, 0–9, '.', '-' after trimming and upper-casing. */
const SYMBOL_PATTERN = /^[A-Z0-9][A-Z0-9.\-]{0,11}$/;

/** Trim and upper-case a symbol from a request; throws INVALID_SYMBOL when it cannot be a ticker. */
export function normalizeSymbol(raw: string): string {
  const symbol = raw.trim().toUpperCase();
  if (!SYMBOL_PATTERN.test(symbol)) {
    throw new MarketDataError("INVALID_SYMBOL", `symbol "${raw}" is not a valid ticker`, {
      field: "symbol",
      symbols: [raw],
    });
  }
  return symbol;
}

/** A security id is exactly 24 ASCII letters or digits (the GlobeCo width). */
export function isSecurityId(value: string): boolean {
  return /^[A-Za-z0-9]{24}$/.test(value);
}

/** Whether a price lies on the instrument's tick grid. */
export function isOnTickGrid(price: Decimal, tickSize: Decimal): boolean {
  return price.mod(tickSize).isZero();
}

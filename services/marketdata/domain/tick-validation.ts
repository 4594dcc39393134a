import Decimal from "decimal.js";
import type { Instrument } from "./instrument";
import { isOnTickGrid } from "./instrument";
import type { Quote } from "./quote";
import { isSameUtcDay } from "./quote";

/** A tick as a feed sends it: decimal strings ("" = absent) and an epoch-ms timestamp. */
export interface RawTick {
  readonly symbol: string;
  readonly bid: string;
  readonly ask: string;
  readonly last?: string;
  readonly bidSize?: string;
  readonly askSize?: string;
  readonly lastSize?: string;
  /** Epoch ms; undefined when the feed sent none. */
  readonly exchangeTimeMs?: number;
}

/** Why a tick was refused. Stable strings: feeds match on them. */
export type TickRejectionCode =
  | "UNKNOWN_SYMBOL"
  | "INSTRUMENT_NOT_ACTIVE"
  | "MISSING_PRICE"
  | "INVALID_DECIMAL"
  | "NON_POSITIVE_PRICE"
  | "OFF_TICK_GRID"
  | "NEGATIVE_SIZE"
  | "CROSSED_QUOTE"
  | "MISSING_TIMESTAMP"
  | "STALE_TIMESTAMP"
  | "FUTURE_TIMESTAMP";

/** One refused tick: a stable code, the wire field at fault and a sentence for humans. */
export interface TickRejection {
  readonly code: TickRejectionCode;
  readonly field: string;
  readonly message: string;
}

/** What validation needs to know besides the tick itself. */
export interface TickValidationContext {
  instrumentFor(symbol: string): Instrument | undefined;
  /** The newest accepted quote of the symbol, if any: timestamps must pass it, `last` carries over. */
  latestQuote(symbol: string): Quote | undefined;
  readonly nowMs: number;
  /** A tick older than now minus this is stale even when it is the newest seen. */
  readonly maxTickAgeMs: number;
  /** How far ahead of our clock a feed's clock may run. */
  readonly maxClockSkewMs: number;
}

export type TickValidation = { readonly ok: true; readonly quote: Quote } | ({ readonly ok: false } & TickRejection);

class Rejected extends Error {
  constructor(readonly rejection: TickRejection) {
    super(rejection.message);
  }
}

function reject(code: TickRejectionCode, field: string, message: string): never {
  throw new Rejected({ code, field, message });
}

/** A wire decimal as common.proto defines it: optional sign, digits, optional fraction; no exponent, no hex. */
const PLAIN_DECIMAL = /^[+-]?\d+(\.\d+)?$/;

function parseDecimal(field: string, raw: string): Decimal {
  // decimal.js alone would also take "1e2", "0x10" and "Infinity".
  if (!PLAIN_DECIMAL.test(raw)) reject("INVALID_DECIMAL", field, `${field} "${raw}" is not a decimal number`);
  return new Decimal(raw);
}

function parsePrice(field: string, raw: string | undefined, instrument: Instrument, isRequired: boolean): Decimal | undefined {
  if (raw === undefined || raw.trim() === "") {
    return isRequired ? reject("MISSING_PRICE", field, `${field} is required`) : undefined;
  }
  const price = parseDecimal(field, raw.trim());
  if (price.lessThanOrEqualTo(0)) reject("NON_POSITIVE_PRICE", field, `${field} must be greater than 0, got ${price.toFixed()}`);
  if (!isOnTickGrid(price, instrument.tickSize)) {
    reject("OFF_TICK_GRID", field, `${field} ${price.toFixed()} is not a multiple of the tick size ${instrument.tickSize.toFixed()}`);
  }
  return price;
}

function parseSize(field: string, raw: string | undefined): Decimal {
  if (raw === undefined || raw.trim() === "") return new Decimal(0);
  const size = parseDecimal(field, raw.trim());
  if (size.isNegative()) reject("NEGATIVE_SIZE", field, `${field} must not be negative, got ${size.toFixed()}`);
  return size;
}

function checkTimestamp(symbol: string, exchangeTimeMs: number | undefined, latest: Quote | undefined, context: TickValidationContext): number {
  if (exchangeTimeMs === undefined || !Number.isFinite(exchangeTimeMs)) {
    return reject("MISSING_TIMESTAMP", "timestamp", "timestamp is required");
  }
  const stamp = new Date(exchangeTimeMs).toISOString();
  if (exchangeTimeMs > context.nowMs + context.maxClockSkewMs) {
    reject("FUTURE_TIMESTAMP", "timestamp", `timestamp ${stamp} is more than ${context.maxClockSkewMs} ms ahead of the server clock`);
  }
  if (exchangeTimeMs < context.nowMs - context.maxTickAgeMs) {
    reject("STALE_TIMESTAMP", "timestamp", `timestamp ${stamp} is more than ${context.maxTickAgeMs} ms old`);
  }
  // Timestamps strictly increase per symbol, which makes (symbol, timestamp) a tick's natural key:
  // a feed re-sending ticks after a broken call cannot double-count them.
  if (latest !== undefined && exchangeTimeMs <= latest.exchangeTimeMs) {
    reject(
      "STALE_TIMESTAMP",
      "timestamp",
      `timestamp ${stamp} is not newer than the latest accepted tick for ${symbol} (${new Date(latest.exchangeTimeMs).toISOString()})`,
    );
  }
  return exchangeTimeMs;
}

/**
 * Check one tick from a feed and turn it into a Quote. A bad tick is refused with a reason instead of
 * throwing, so one bad tick never aborts a feed's stream. Checks run in a fixed order (symbol,
 * prices, sizes, crossing, time) and the first failure is reported. A tick without `last` keeps the
 * symbol's previous last price; the day's volume accumulates `last_size` per UTC day.
 */
export function validateTick(raw: RawTick, context: TickValidationContext): TickValidation {
  try {
    const symbol = raw.symbol.trim().toUpperCase();
    const instrument = context.instrumentFor(symbol);
    if (!instrument) reject("UNKNOWN_SYMBOL", "symbol", `unknown symbol "${raw.symbol}"`);
    if (instrument.status !== "ACTIVE") {
      reject("INSTRUMENT_NOT_ACTIVE", "symbol", `${symbol} is ${instrument.status} and takes no quotes`);
    }
    const bid = parsePrice("bid", raw.bid, instrument, true)!;
    const ask = parsePrice("ask", raw.ask, instrument, true)!;
    const latest = context.latestQuote(symbol);
    const last = parsePrice("last", raw.last, instrument, latest === undefined) ?? latest!.last;
    const bidSize = parseSize("bid_size", raw.bidSize);
    const askSize = parseSize("ask_size", raw.askSize);
    const lastSize = parseSize("last_size", raw.lastSize);
    if (bid.greaterThan(ask)) reject("CROSSED_QUOTE", "bid", `bid ${bid.toFixed()} is above ask ${ask.toFixed()}`);
    const exchangeTimeMs = checkTimestamp(symbol, raw.exchangeTimeMs, latest, context);
    const volume = latest && isSameUtcDay(latest.exchangeTimeMs, exchangeTimeMs) ? latest.volume.plus(lastSize) : lastSize;
    return { ok: true, quote: { symbol, bid, ask, last, bidSize, askSize, lastSize, volume, exchangeTimeMs } };
  } catch (error) {
    if (error instanceof Rejected) return { ok: false, ...error.rejection };
    throw error;
  }
}

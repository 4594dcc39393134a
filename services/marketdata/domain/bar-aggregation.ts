import type Decimal from "decimal.js";
import { BAR_INTERVAL_MS, type BarInterval } from "./bar-interval";
import type { Quote } from "./quote";


/** Open/high/low/close/volume over one interval, from the ticks' last-trade prices. */
export interface Bar {
  readonly symbol: string;
  readonly interval: BarInterval;
  /** Inclusive start, epoch ms, aligned to the interval in UTC. */
  readonly startMs: number;
  readonly open: Decimal;
  readonly high: Decimal;
  readonly low: Decimal;
  readonly close: Decimal;
  /** Sum of last-trade sizes. */
  readonly volume: Decimal;
  readonly tickCount: number;
  /** Exchange times of the first and last tick in the bar, epoch ms. */
  readonly firstTickMs: number;
  readonly lastTickMs: number;
}

/**
 * Start of the interval containing an instant. Days are UTC days: a US regular session
 * (13:30–21:00 UTC at the latest) always falls inside one of them.
 */
export function barStartMs(timeMs: number, interval: BarInterval): number {
  const width = BAR_INTERVAL_MS[interval];
  return Math.floor(timeMs / width) * width;
}

/**
 * Fold ticks (one symbol, in time order) into bars of one interval. Intervals without ticks produce
 * no bar rather than a flat one, so a halted or quiet market is visible as missing bars.
 */
export function aggregateBars(symbol: string, interval: BarInterval, quotes: Iterable<Pick<Quote, "last" | "lastSize" | "exchangeTimeMs">>): Bar[] {
  const bars: Bar[] = [];
  let current: { -readonly [K in keyof Bar]: Bar[K] } | undefined;
  for (const quote of quotes) {
    const price = quote.last;
    const startMs = barStartMs(quote.exchangeTimeMs, interval);
    if (!current || current.startMs !== startMs) {
      current = {
        symbol,
        interval,
        startMs,
        open: price,
        high: price,
        low: price,
        close: price,
        volume: quote.lastSize,
        tickCount: 1,
        firstTickMs: quote.exchangeTimeMs,
        lastTickMs: quote.exchangeTimeMs,
      };
      bars.push(current);
      continue;
    }
    if (price.greaterThan(current.high)) current.high = price;
    if (price.lessThan(current.low)) current.low = price;
    current.close = price;
    current.volume = current.volume.plus(quote.lastSize);
    current.tickCount += 1;
    current.lastTickMs = quote.exchangeTimeMs;
  }
  return bars;
}

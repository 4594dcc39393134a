import type { Bar } from "./bar-aggregation";
import { barStartMs } from "./bar-aggregation";
import { BAR_INTERVAL_MS, type BarInterval } from "./bar-interval";
import { MarketDataError } from "./errors";
import { normalizeSymbol } from "./instrument";
import type { InstrumentRegistry } from "./instrument-registry";
import { effectivePageSize } from "./instrument-registry";

/** Stored bars of one symbol and interval, oldest first. */
export interface BarStore {
  bars(symbol: string, interval: BarInterval, fromMs: number, toMs: number, limit: number): Promise<Bar[]>;
}

export interface GetBarsDeps {
  readonly registry: InstrumentRegistry;
  readonly store: BarStore;
  readonly nowMs: () => number;
}

export interface GetBarsRequest {
  readonly symbol: string;
  /** Undefined when the request did not say (rejected). */
  readonly interval: BarInterval | undefined;
  readonly startMs?: number;
  readonly endMs?: number;
  readonly pageSize: number;
  readonly pageToken: string;
}

export interface BarPage {
  readonly bars: readonly Bar[];
  readonly nextPageToken: string;
}

/** Intervals GetBars returns when no start is given. */
const DEFAULT_BAR_COUNT = 100;

function pageStartOf(pageToken: string): number | undefined {
  if (pageToken === "") return undefined;
  const match = /^b1:(\d+)$/.exec(Buffer.from(pageToken, "base64url").toString("utf8"));
  if (!match) throw new MarketDataError("INVALID_ARGUMENT", "page_token is not valid", { field: "page_token" });
  return Number(match[1]);
}

/**
 * OHLCV bars of a symbol over [start, end), oldest first and paged. The start is rounded down to the
 * interval; without it the window is the 100 intervals before the end, and without an end it runs to
 * now, so the still-open bar is included.
 */
export async function getBars(deps: GetBarsDeps, request: GetBarsRequest): Promise<BarPage> {
  const symbol = normalizeSymbol(request.symbol);
  if (!deps.registry.isKnownSymbol(symbol)) throw new MarketDataError("UNKNOWN_SYMBOL", `unknown symbol "${symbol}"`, { symbols: [symbol] });
  const interval = request.interval;
  if (interval === undefined) throw new MarketDataError("INVALID_ARGUMENT", "interval is required", { field: "interval" });
  const pageSize = effectivePageSize(request.pageSize);
  const widthMs = BAR_INTERVAL_MS[interval];
  const endMs = request.endMs ?? deps.nowMs() + 1;
  const startMs = barStartMs(request.startMs ?? endMs - DEFAULT_BAR_COUNT * widthMs, interval);
  if (!(startMs < endMs)) throw new MarketDataError("INVALID_ARGUMENT", "start_time must be before end_time", { field: "start_time" });

  const fromMs = Math.max(startMs, pageStartOf(request.pageToken) ?? startMs);
  const bars = await deps.store.bars(symbol, interval, fromMs, endMs, pageSize + 1);
  const page = bars.slice(0, pageSize);
  const nextPageToken = bars.length > pageSize ? Buffer.from(`b1:${bars[pageSize]!.startMs}`, "utf8").toString("base64url") : "";
  return { bars: page, nextPageToken };
}

import { MarketDataError } from "./errors";
import type { AssetClass, Instrument, InstrumentStatus } from "./instrument";
import { normalizeSymbol } from "./instrument";

/**
 * The instrument registry in memory. The set is small (tens to a few thousand) and changes only by
 * migration, so it is loaded from Postgres at start and every lookup on the hot paths (ticks, streams,
 * quotes) is a map read.
 */
export class InstrumentRegistry {
  private readonly bySymbolMap = new Map<string, Instrument>();
  private readonly bySecurityIdMap = new Map<string, Instrument>();
  private readonly sorted: readonly Instrument[];

  constructor(instruments: readonly Instrument[]) {
    this.sorted = [...instruments].sort((a, b) => (a.symbol < b.symbol ? -1 : a.symbol > b.symbol ? 1 : 0));
    for (const instrument of this.sorted) {
      this.bySymbolMap.set(instrument.symbol, instrument);
      this.bySecurityIdMap.set(instrument.securityId, instrument);
    }
  }

  bySymbol(symbol: string): Instrument | undefined {
    return this.bySymbolMap.get(symbol);
  }

  bySecurityId(securityId: string): Instrument | undefined {
    return this.bySecurityIdMap.get(securityId);
  }

  isKnownSymbol(symbol: string): boolean {
    return this.bySymbolMap.has(symbol);
  }

  /** Every instrument, ordered by symbol. */
  all(): readonly Instrument[] {
    return this.sorted;
  }
}

/** Exactly one key of GetInstrument. */
export interface InstrumentKey {
  readonly symbol: string;
  readonly securityId: string;
}

/** Find one instrument by symbol or security id; delisted instruments are found too. */
export function findInstrument(registry: InstrumentRegistry, key: InstrumentKey): Instrument {
  const hasSymbol = key.symbol.trim() !== "";
  const hasSecurityId = key.securityId.trim() !== "";
  if (hasSymbol === hasSecurityId) {
    throw new MarketDataError("INVALID_ARGUMENT", "exactly one of symbol and security_id must be set", { field: hasSymbol ? "security_id" : "symbol" });
  }
  if (hasSymbol) {
    const symbol = normalizeSymbol(key.symbol);
    const instrument = registry.bySymbol(symbol);
    if (!instrument) throw new MarketDataError("UNKNOWN_SYMBOL", `unknown symbol "${symbol}"`, { symbols: [symbol] });
    return instrument;
  }
  const securityId = key.securityId.trim();
  const instrument = registry.bySecurityId(securityId);
  if (!instrument) {
    throw new MarketDataError("UNKNOWN_INSTRUMENT", `unknown security_id "${securityId}"`, { field: "security_id" });
  }
  return instrument;
}

/** ListInstruments filters; unset ones match everything. */
export interface InstrumentFilter {
  readonly assetClass?: AssetClass;
  /** Undefined lists ACTIVE and HALTED: delisted instruments only when asked for. */
  readonly status?: InstrumentStatus;
  readonly isTradableOnly: boolean;
  /** Case-insensitive substring of symbol or name. */
  readonly query: string;
  readonly securityIds: readonly string[];
}

export interface PageRequest {
  /** 0 means the default; larger than the maximum is clamped. */
  readonly pageSize: number;
  readonly pageToken: string;
}

export interface InstrumentPage {
  readonly instruments: readonly Instrument[];
  /** Empty on the last page. */
  readonly nextPageToken: string;
}

export const DEFAULT_PAGE_SIZE = 50;
export const MAX_PAGE_SIZE = 1000;
const MAX_QUERY_LENGTH = 64;
const MAX_SECURITY_IDS = 1000;

/** Page size after defaulting and clamping; a negative size is invalid. */
export function effectivePageSize(pageSize: number): number {
  if (!Number.isInteger(pageSize) || pageSize < 0) {
    throw new MarketDataError("INVALID_ARGUMENT", "page_size must not be negative", { field: "page_size" });
  }
  return pageSize === 0 ? DEFAULT_PAGE_SIZE : Math.min(pageSize, MAX_PAGE_SIZE);
}

/** The symbol a page token continues after (keyset paging: stable when instruments are added). */
function symbolAfter(pageToken: string): string | undefined {
  if (pageToken === "") return undefined;
  const decoded = Buffer.from(pageToken, "base64url").toString("utf8");
  if (!decoded.startsWith("i1:")) throw new MarketDataError("INVALID_ARGUMENT", "page_token is not valid", { field: "page_token" });
  return decoded.slice(3);
}

/** One page of instruments ordered by symbol. */
export function listInstruments(registry: InstrumentRegistry, filter: InstrumentFilter, page: PageRequest): InstrumentPage {
  const pageSize = effectivePageSize(page.pageSize);
  if (filter.query.length > MAX_QUERY_LENGTH) {
    throw new MarketDataError("INVALID_ARGUMENT", `query must be at most ${MAX_QUERY_LENGTH} characters`, { field: "query" });
  }
  if (filter.securityIds.length > MAX_SECURITY_IDS) {
    throw new MarketDataError("INVALID_ARGUMENT", `at most ${MAX_SECURITY_IDS} security_ids may be given`, { field: "security_ids" });
  }
  const after = symbolAfter(page.pageToken);
  const query = filter.query.trim().toUpperCase();
  const securityIds = filter.securityIds.length > 0 ? new Set(filter.securityIds) : undefined;
  const matches = (instrument: Instrument): boolean =>
    (after === undefined || instrument.symbol > after) &&
    (filter.assetClass === undefined || instrument.assetClass === filter.assetClass) &&
    (filter.status === undefined ? instrument.status !== "DELISTED" : instrument.status === filter.status) &&
    (!filter.isTradableOnly || instrument.isTradable) &&
    (query === "" || instrument.symbol.includes(query) || instrument.name.toUpperCase().includes(query)) &&
    (securityIds === undefined || securityIds.has(instrument.securityId));

  const selected: Instrument[] = [];
  let hasMore = false;
  for (const instrument of registry.all()) {
    if (!matches(instrument)) continue;
    if (selected.length === pageSize) {
      hasMore = true;
      break;
    }
    selected.push(instrument);
  }
  const nextPageToken = hasMore ? Buffer.from(`i1:${selected[selected.length - 1]!.symbol}`, "utf8").toString("base64url") : "";
  return { instruments: selected, nextPageToken };
}

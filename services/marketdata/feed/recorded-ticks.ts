import type { RawTick } from "../domain/tick-validation";

/** A tick read from a recorded file, with the time it was recorded at (epoch ms). */
export type RecordedTick = RawTick & { readonly exchangeTimeMs: number };

const FIELDS = ["symbol", "bid", "ask", "last", "bid_size", "ask_size", "last_size", "timestamp"] as const;
type Field = (typeof FIELDS)[number];

function timeOf(raw: string, where: string): number {
  const trimmed = raw.trim();
  const ms = /^\d+$/.test(trimmed) ? Number(trimmed) : Date.parse(trimmed);
  if (!Number.isFinite(ms)) throw new Error(`${where}: timestamp "${raw}" is neither epoch ms nor an ISO date`);
  return ms;
}

function tickOf(values: Partial<Record<Field, string>>, where: string): RecordedTick {
  if (!values.symbol) throw new Error(`${where}: symbol is missing`);
  if (values.timestamp === undefined) throw new Error(`${where}: timestamp is missing`);
  return {
    symbol: values.symbol,
    bid: values.bid ?? "",
    ask: values.ask ?? "",
    last: values.last ?? "",
    bidSize: values.bid_size ?? "",
    askSize: values.ask_size ?? "",
    lastSize: values.last_size ?? "",
    exchangeTimeMs: timeOf(values.timestamp, where),
  };
}

/**
 * Parse a recorded tick file. CSV has a header row naming the columns (symbol, bid, ask, last,
 * bid_size, ask_size, last_size, timestamp; any order, unknown columns ignored); NDJSON has one JSON
 * object per line with the same keys (camelCase accepted). Timestamps are epoch ms or ISO 8601.
 * Values are kept as text: the service validates them like any feed's.
 */
export function parseRecordedTicks(text: string, format: "csv" | "ndjson"): RecordedTick[] {
  const lines = text.split(/\r?\n/).filter((line) => line.trim() !== "" && !line.startsWith("#"));
  if (format === "ndjson") {
    return lines.map((line, index) => {
      const json = JSON.parse(line) as Record<string, unknown>;
      const pick = (snake: string, camel: string) => {
        const value = json[snake] ?? json[camel];
        return value === undefined || value === null ? undefined : String(value);
      };
      return tickOf(
        {
          symbol: pick("symbol", "symbol"),
          bid: pick("bid", "bid"),
          ask: pick("ask", "ask"),
          last: pick("last", "last"),
          bid_size: pick("bid_size", "bidSize"),
          ask_size: pick("ask_size", "askSize"),
          last_size: pick("last_size", "lastSize"),
          timestamp: pick("timestamp", "timestamp"),
        },
        `line ${index + 1}`,
      );
    });
  }
  const [header, ...rows] = lines;
  if (header === undefined) return [];
  const columns = header.split(",").map((name) => name.trim().toLowerCase());
  return rows.map((row, index) => {
    const cells = row.split(",");
    const values: Partial<Record<Field, string>> = {};
    columns.forEach((column, position) => {
      if ((FIELDS as readonly string[]).includes(column)) values[column as Field] = cells[position]?.trim();
    });
    return tickOf(values, `row ${index + 2}`);
  });
}

/**
 * Move recorded ticks to the present: the first tick lands at `startMs` and the spacing between ticks
 * is kept (divided by `speed`). Recorded times are old, and the service rejects ticks older than its
 * maximum age, so a replay is always re-stamped.
 */
export function restampTicks(ticks: readonly RecordedTick[], startMs: number, speed: number): RecordedTick[] {
  if (ticks.length === 0) return [];
  const firstMs = Math.min(...ticks.map((tick) => tick.exchangeTimeMs));
  const lastBySymbol = new Map<string, number>();
  return ticks.map((tick) => {
    // Ticks of one symbol must have strictly increasing times, even when the recording repeats a ms.
    const shifted = startMs + Math.floor((tick.exchangeTimeMs - firstMs) / speed);
    const at = Math.max(shifted, (lastBySymbol.get(tick.symbol) ?? -Infinity) + 1);
    lastBySymbol.set(tick.symbol, at);
    return { ...tick, exchangeTimeMs: at };
  });
}

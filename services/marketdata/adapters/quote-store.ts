import Decimal from "decimal.js";
import type { Knex } from "knex";
import type { Bar } from "../domain/bar-aggregation";
import type { BarInterval } from "../domain/bar-interval";
import { aggregateBars } from "../domain/bar-aggregation";
import type { SequencedQuote } from "../domain/quote";

const BAR_INTERVALS: readonly BarInterval[] = ["1m", "1h", "1d"];

interface LatestQuoteRow {
  symbol: string;
  epoch: string;
  seq: string;
  bid: string;
  ask: string;
  last: string;
  bid_size: string;
  ask_size: string;
  last_size: string;
  volume: string;
  exchange_time: Date;
  published_at: Date;
}

interface InsertedTickRow {
  symbol: string;
  exchange_time: Date;
  last: string;
  last_size: string;
}

interface BarRow {
  symbol: string;
  bar_interval: BarInterval;
  start_time: Date;
  open: string;
  high: string;
  low: string;
  close: string;
  volume: string;
  tick_count: number;
  first_exchange_time: Date;
  last_exchange_time: Date;
}

function quoteOf(row: LatestQuoteRow): SequencedQuote {
  return {
    symbol: row.symbol,
    epoch: Number(row.epoch),
    seq: Number(row.seq),
    bid: new Decimal(row.bid),
    ask: new Decimal(row.ask),
    last: new Decimal(row.last),
    bidSize: new Decimal(row.bid_size),
    askSize: new Decimal(row.ask_size),
    lastSize: new Decimal(row.last_size),
    volume: new Decimal(row.volume),
    exchangeTimeMs: row.exchange_time.getTime(),
    publishedAtMs: row.published_at.getTime(),
  };
}

function barOf(row: BarRow): Bar {
  return {
    symbol: row.symbol,
    interval: row.bar_interval,
    startMs: row.start_time.getTime(),
    open: new Decimal(row.open),
    high: new Decimal(row.high),
    low: new Decimal(row.low),
    close: new Decimal(row.close),
    volume: new Decimal(row.volume),
    tickCount: Number(row.tick_count),
    firstTickMs: row.first_exchange_time.getTime(),
    lastTickMs: row.last_exchange_time.getTime(),
  };
}

const iso = (ms: number): string => new Date(ms).toISOString();

/** Newest quote per symbol in a batch (by exchange time, which strictly increases per symbol). */
function newestPerSymbol(batch: readonly SequencedQuote[]): SequencedQuote[] {
  const newest = new Map<string, SequencedQuote>();
  for (const quote of batch) {
    const current = newest.get(quote.symbol);
    if (!current || quote.exchangeTimeMs > current.exchangeTimeMs) newest.set(quote.symbol, quote);
  }
  return [...newest.values()];
}

/** Bars of the ticks a batch really inserted, for every interval, sorted so aggregation sees time order. */
function barsOf(inserted: readonly InsertedTickRow[]): Bar[] {
  const bySymbol = new Map<string, { last: Decimal; lastSize: Decimal; exchangeTimeMs: number }[]>();
  for (const row of inserted) {
    let ticks = bySymbol.get(row.symbol);
    if (!ticks) bySymbol.set(row.symbol, (ticks = []));
    ticks.push({ last: new Decimal(row.last), lastSize: new Decimal(row.last_size), exchangeTimeMs: row.exchange_time.getTime() });
  }
  const bars: Bar[] = [];
  for (const [symbol, ticks] of bySymbol) {
    ticks.sort((a, b) => a.exchangeTimeMs - b.exchangeTimeMs);
    for (const interval of BAR_INTERVALS) bars.push(...aggregateBars(symbol, interval, ticks));
  }
  return bars;
}

/** Postgres side of quotes: the latest quote per symbol, tick history and the bars built from it. */
export function createQuoteStore(knex: Knex, schema: string) {
  return {
    async latestQuotes(symbols: readonly string[]): Promise<SequencedQuote[]> {
      if (symbols.length === 0) return [];
      const result = await knex.raw(`select * from ??.latest_quotes where symbol = any(?::text[])`, [schema, [...symbols]]);
      return (result.rows as LatestQuoteRow[]).map(quoteOf);
    },

    async allLatestQuotes(): Promise<SequencedQuote[]> {
      const result = await knex.raw(`select * from ??.latest_quotes`, [schema]);
      return (result.rows as LatestQuoteRow[]).map(quoteOf);
    },

    /**
     * Store one batch of accepted ticks in one transaction and three set-based statements: append the
     * ticks (a tick already stored, by its natural key, is skipped), move each symbol's latest quote
     * forward, and fold the ticks actually inserted into their 1m/1h/1d bars. A retried batch
     * therefore never counts a tick twice in a bar.
     */
    async appendTicks(batch: readonly SequencedQuote[]): Promise<void> {
      if (batch.length === 0) return;
      await knex.transaction(async (trx) => {
        const inserted = await trx.raw(
          `insert into ??.ticks (symbol, exchange_time, epoch, seq, bid, ask, last, bid_size, ask_size, last_size, published_at)
           select * from unnest(?::text[], ?::timestamptz[], ?::bigint[], ?::bigint[], ?::numeric[], ?::numeric[],
                                ?::numeric[], ?::numeric[], ?::numeric[], ?::numeric[], ?::timestamptz[])
           on conflict (symbol, exchange_time) do nothing
           returning symbol, exchange_time, last, last_size`,
          [
            schema,
            batch.map((q) => q.symbol),
            batch.map((q) => iso(q.exchangeTimeMs)),
            batch.map((q) => q.epoch),
            batch.map((q) => q.seq),
            batch.map((q) => q.bid.toString()),
            batch.map((q) => q.ask.toString()),
            batch.map((q) => q.last.toString()),
            batch.map((q) => q.bidSize.toString()),
            batch.map((q) => q.askSize.toString()),
            batch.map((q) => q.lastSize.toString()),
            batch.map((q) => iso(q.publishedAtMs)),
          ],
        );

        const newest = newestPerSymbol(batch);
        await trx.raw(
          `insert into ??.latest_quotes as q
             (symbol, epoch, seq, bid, ask, last, bid_size, ask_size, last_size, volume, exchange_time, published_at)
           select * from unnest(?::text[], ?::bigint[], ?::bigint[], ?::numeric[], ?::numeric[], ?::numeric[],
                                ?::numeric[], ?::numeric[], ?::numeric[], ?::numeric[], ?::timestamptz[], ?::timestamptz[])
           on conflict (symbol) do update set
             epoch = excluded.epoch, seq = excluded.seq, bid = excluded.bid, ask = excluded.ask, last = excluded.last,
             bid_size = excluded.bid_size, ask_size = excluded.ask_size, last_size = excluded.last_size,
             volume = excluded.volume, exchange_time = excluded.exchange_time, published_at = excluded.published_at
           where excluded.exchange_time > q.exchange_time`,
          [
            schema,
            newest.map((q) => q.symbol),
            newest.map((q) => q.epoch),
            newest.map((q) => q.seq),
            newest.map((q) => q.bid.toString()),
            newest.map((q) => q.ask.toString()),
            newest.map((q) => q.last.toString()),
            newest.map((q) => q.bidSize.toString()),
            newest.map((q) => q.askSize.toString()),
            newest.map((q) => q.lastSize.toString()),
            newest.map((q) => q.volume.toString()),
            newest.map((q) => iso(q.exchangeTimeMs)),
            newest.map((q) => iso(q.publishedAtMs)),
          ],
        );

        const bars = barsOf(inserted.rows as InsertedTickRow[]);
        if (bars.length === 0) return;
        await trx.raw(
          `insert into ??.bars as b
             (symbol, bar_interval, start_time, open, high, low, close, volume, tick_count, first_exchange_time, last_exchange_time)
           select * from unnest(?::text[], ?::text[], ?::timestamptz[], ?::numeric[], ?::numeric[], ?::numeric[],
                                ?::numeric[], ?::numeric[], ?::integer[], ?::timestamptz[], ?::timestamptz[])
           on conflict (symbol, bar_interval, start_time) do update set
             open = case when excluded.first_exchange_time < b.first_exchange_time then excluded.open else b.open end,
             close = case when excluded.last_exchange_time > b.last_exchange_time then excluded.close else b.close end,
             high = greatest(b.high, excluded.high),
             low = least(b.low, excluded.low),
             volume = b.volume + excluded.volume,
             tick_count = b.tick_count + excluded.tick_count,
             first_exchange_time = least(b.first_exchange_time, excluded.first_exchange_time),
             last_exchange_time = greatest(b.last_exchange_time, excluded.last_exchange_time)`,
          [
            schema,
            bars.map((bar) => bar.symbol),
            bars.map((bar) => bar.interval),
            bars.map((bar) => iso(bar.startMs)),
            bars.map((bar) => bar.open.toString()),
            bars.map((bar) => bar.high.toString()),
            bars.map((bar) => bar.low.toString()),
            bars.map((bar) => bar.close.toString()),
            bars.map((bar) => bar.volume.toString()),
            bars.map((bar) => bar.tickCount),
            bars.map((bar) => iso(bar.firstTickMs)),
            bars.map((bar) => iso(bar.lastTickMs)),
          ],
        );
      });
    },

    /** Bars of one symbol and interval with fromMs ≤ start < toMs, oldest first, at most `limit`. */
    async bars(symbol: string, interval: BarInterval, fromMs: number, toMs: number, limit: number): Promise<Bar[]> {
      const result = await knex.raw(
        `select * from ??.bars
          where symbol = ? and bar_interval = ? and start_time >= ? and start_time < ?
          order by start_time
          limit ?`,
        [schema, symbol, interval, iso(fromMs), iso(toMs), limit],
      );
      return (result.rows as BarRow[]).map(barOf);
    },
  };
}

export type QuoteStore = ReturnType<typeof createQuoteStore>;

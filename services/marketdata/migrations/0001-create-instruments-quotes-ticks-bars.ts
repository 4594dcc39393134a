import type { Knex } from "knex";
import type { MigrationContext } from "../../platform/database";
import { seedInstruments } from "../domain/instrument-seed";

/**
 * The market data schema: the instrument registry (seeded), the latest quote per symbol, the tick
 * history and OHLCV bars maintained from it. Prices, sizes and volumes are NUMERIC, never float.
 */
export async function up(knex: Knex, { schema }: MigrationContext): Promise<void> {
  await knex.raw(
    `create table ??.instruments (
       security_id char(24) primary key check (security_id ~ '^[A-Za-z0-9]{24}$'),
       symbol text not null unique check (symbol ~ '^[A-Z0-9][A-Z0-9.\\-]{0,11}$'),
       name text not null,
       asset_class text not null check (asset_class in ('EQUITY', 'ETF', 'CRYPTO')),
       currency char(3) not null,
       exchange text not null,
       lot_size numeric not null check (lot_size > 0),
       min_quantity numeric not null check (min_quantity > 0),
       tick_size numeric not null check (tick_size > 0),
       is_tradable boolean not null,
       status text not null check (status in ('ACTIVE', 'HALTED', 'DELISTED')),
       session_time_zone text,
       session_open_local text,
       session_close_local text,
       session_trading_days smallint[],
       reference_price numeric not null check (reference_price > 0),
       check (is_tradable = false or status = 'ACTIVE'),
       check ((session_time_zone is null) = (session_open_local is null))
     )`,
    [schema],
  );

  // The latest accepted quote of each symbol, the row GetQuote falls back to when the cache misses.
  await knex.raw(
    `create table ??.latest_quotes (
       symbol text primary key references ??.instruments (symbol),
       epoch bigint not null,
       seq bigint not null check (seq >= 1),
       bid numeric not null check (bid > 0),
       ask numeric not null check (ask >= bid),
       last numeric not null check (last > 0),
       bid_size numeric not null check (bid_size >= 0),
       ask_size numeric not null check (ask_size >= 0),
       last_size numeric not null check (last_size >= 0),
       volume numeric not null check (volume >= 0),
       exchange_time timestamptz not null,
       published_at timestamptz not null
     )`,
    [schema, schema],
  );

  // (symbol, exchange_time) is a tick's natural key: timestamps strictly increase per symbol.
  await knex.raw(
    `create table ??.ticks (
       symbol text not null,
       exchange_time timestamptz not null,
       epoch bigint not null,
       seq bigint not null,
       bid numeric not null,
       ask numeric not null,
       last numeric not null,
       bid_size numeric not null,
       ask_size numeric not null,
       last_size numeric not null,
       published_at timestamptz not null,
       primary key (symbol, exchange_time)
     )`,
    [schema],
  );

  await knex.raw(
    `create table ??.bars (
       symbol text not null,
       bar_interval text not null check (bar_interval in ('1m', '1h', '1d')),
       start_time timestamptz not null,
       open numeric not null,
       high numeric not null,
       low numeric not null,
       close numeric not null,
       volume numeric not null check (volume >= 0),
       tick_count integer not null check (tick_count >= 1),
       -- Times of the first and last tick folded in, so batches merge in any order (open and close
       -- come from the earliest and latest tick, whichever batch carried it).
       first_exchange_time timestamptz not null,
       last_exchange_time timestamptz not null,
       primary key (symbol, bar_interval, start_time)
     )`,
    [schema],
  );

  const rows = seedInstruments().map((instrument) => ({
    security_id: instrument.securityId,
    symbol: instrument.symbol,
    name: instrument.name,
    asset_class: instrument.assetClass,
    currency: instrument.currency,
    exchange: instrument.exchange,
    lot_size: instrument.lotSize.toString(),
    min_quantity: instrument.minQuantity.toString(),
    tick_size: instrument.tickSize.toString(),
    is_tradable: instrument.isTradable,
    status: instrument.status,
    session_time_zone: instrument.session.kind === "EXCHANGE_HOURS" ? instrument.session.timeZone : null,
    session_open_local: instrument.session.kind === "EXCHANGE_HOURS" ? instrument.session.openLocal : null,
    session_close_local: instrument.session.kind === "EXCHANGE_HOURS" ? instrument.session.closeLocal : null,
    session_trading_days: instrument.session.kind === "EXCHANGE_HOURS" ? [...instrument.session.tradingDays] : null,
    reference_price: instrument.referencePrice.toString(),
  }));
  await knex.withSchema(schema).table("instruments").insert(rows);
}

export async function down(knex: Knex, { schema }: MigrationContext): Promise<void> {
  await knex.raw("drop table if exists ??.bars, ??.ticks, ??.latest_quotes, ??.instruments", [schema, schema, schema, schema]);
}

import Decimal from "decimal.js";
import type { Knex } from "knex";
import type { AssetClass, Instrument, InstrumentStatus, TradingSession } from "../domain/instrument";

interface InstrumentRow {
  security_id: string;
  symbol: string;
  name: string;
  asset_class: AssetClass;
  currency: string;
  exchange: string;
  lot_size: string;
  min_quantity: string;
  tick_size: string;
  is_tradable: boolean;
  status: InstrumentStatus;
  session_time_zone: string | null;
  session_open_local: string | null;
  session_close_local: string | null;
  session_trading_days: number[] | null;
  reference_price: string;
}

function sessionOf(row: InstrumentRow): TradingSession {
  if (row.session_time_zone === null) return { kind: "ALWAYS_OPEN" };
  return {
    kind: "EXCHANGE_HOURS",
    timeZone: row.session_time_zone,
    openLocal: row.session_open_local!,
    closeLocal: row.session_close_local!,
    tradingDays: (row.session_trading_days ?? []).map(Number),
  };
}

/** Read the whole instrument registry (it is small and changes only by migration). */
export async function loadInstruments(knex: Knex, schema: string): Promise<Instrument[]> {
  const rows = (await knex.raw(`select * from ??.instruments order by symbol`, [schema])).rows as InstrumentRow[];
  return rows.map((row) => ({
    securityId: row.security_id.trim(),
    symbol: row.symbol,
    name: row.name,
    assetClass: row.asset_class,
    currency: row.currency.trim(),
    exchange: row.exchange,
    lotSize: new Decimal(row.lot_size),
    minQuantity: new Decimal(row.min_quantity),
    tickSize: new Decimal(row.tick_size),
    isTradable: row.is_tradable,
    status: row.status,
    session: sessionOf(row),
    referencePrice: new Decimal(row.reference_price),
  }));
}

// The orders schema: orders, their per-portfolio event log and its sequence counter, SubmitOrder idempotency keys,
// and the transactional outbox. Amounts are NUMERIC (exact), enums are text with CHECKs listing the published values.
import type { Knex } from "knex";
import { createOutboxTable } from "../../platform/outbox";
import type { MigrationContext } from "../../platform/database";

export async function up(knex: Knex, { schema }: MigrationContext): Promise<void> {
  const t = (name: string) => `${schema}.${name}`;
  await knex.raw(
    `create table ?? (
      id uuid primary key,
      portfolio_id text not null,
      symbol text not null,
      security_id text not null,
      side text not null check (side in ('BUY', 'SELL')),
      type text not null check (type in ('MARKET', 'LIMIT', 'STOP', 'STOP_LIMIT')),
      time_in_force text not null check (time_in_force in ('DAY', 'GTC', 'IOC', 'FOK')),
      quantity numeric check (quantity > 0),
      notional numeric check (notional > 0),
      limit_price numeric check (limit_price > 0),
      stop_price numeric check (stop_price > 0),
      status text not null check (status in
        ('PENDING_NEW', 'NEW', 'PARTIALLY_FILLED', 'FILLED', 'CANCELED', 'REJECTED', 'EXPIRED')),
      version integer not null check (version >= 1),
      filled_quantity numeric not null default 0 check (filled_quantity >= 0),
      filled_amount numeric not null default 0 check (filled_amount >= 0),
      stop_triggered boolean not null default false,
      market_price_at_submission numeric not null,
      lot_size numeric not null,
      currency text not null,
      reservation_id text not null,
      reservation_asset text not null check (reservation_asset in ('CASH', 'SECURITY')),
      reserved_amount numeric not null check (reserved_amount > 0),
      expires_at timestamptz,
      idempotency_key text not null,
      last_reason text not null,
      created_at timestamptz not null,
      updated_at timestamptz not null,
      done_at timestamptz,
      check ((quantity is null) <> (notional is null)),
      check (quantity is null or filled_quantity <= quantity),
      unique (portfolio_id, idempotency_key)
    )`,
    [t("orders")],
  );
  // ListOrders: newest first per portfolio, keyset-paged on (created_at, id).
  await knex.raw("create index orders_portfolio_created on ?? (portfolio_id, created_at desc, id desc)", [t("orders")]);
  // The quote watcher re-evaluates working orders by symbol; the expiry sweep looks for DAY orders due.
  await knex.raw(
    "create index orders_working_symbol on ?? (symbol) where status in ('NEW', 'PARTIALLY_FILLED')",
    [t("orders")],
  );
  await knex.raw(
    "create index orders_working_expiry on ?? (expires_at) where status in ('PENDING_NEW', 'NEW', 'PARTIALLY_FILLED') and expires_at is not null",
    [t("orders")],
  );

  // The event log: seq is contiguous per portfolio (taken from portfolio_seqs under its row lock, so seq order is
  // commit order and WatchOrderEvents can stream it gap-free).
  await knex.raw(
    `create table ?? (
      portfolio_id text not null,
      seq bigint not null,
      order_id uuid not null references ?? (id),
      order_version integer not null,
      from_status text,
      to_status text not null,
      reason text not null,
      fill_id uuid unique,
      fill_quantity numeric check (fill_quantity > 0),
      fill_price numeric check (fill_price > 0),
      filled_quantity_after numeric not null,
      filled_amount_after numeric not null,
      occurred_at timestamptz not null,
      primary key (portfolio_id, seq),
      unique (order_id, order_version)
    )`,
    [t("order_events"), t("orders")],
  );
  await knex.raw(
    `create table ?? (
      portfolio_id text primary key,
      last_seq bigint not null
    )`,
    [t("portfolio_seqs")],
  );

  // SubmitOrder keys: claimed with a lease before anything else happens, completed in the order's transaction, and
  // kept as long as the order (a key is never reused for another order).
  await knex.raw(
    `create table ?? (
      portfolio_id text not null,
      idempotency_key text not null,
      fingerprint text not null,
      order_id uuid not null,
      held_amount numeric,
      lease_until timestamptz not null,
      completed_at timestamptz,
      primary key (portfolio_id, idempotency_key)
    )`,
    [t("idempotency_keys")],
  );

  await createOutboxTable(knex, schema);
}

// The accounting schema: GlobeCo's transactions and balances (same columns, checks and indexes, NUMERIC(18,8)
// as in the reference), plus what tradeplane adds: tax lots and their realizations, per-portfolio cost-basis
// method, order reservations, idempotent cash movements, and the allocation service's executions and batch
// history. Text columns replace CHAR(n) so values are never blank-padded (the reference trimmed "PROC ").
import type { Knex } from "knex";
import type { MigrationContext } from "../../platform/database";

export async function up(knex: Knex, { schema }: MigrationContext): Promise<void> {
  const t = (name: string) => `${schema}.${name}`;
  // Ids are taken with nextval before the insert (so lots can name their opening transaction in the same
  // statement batch), hence an explicit sequence rather than SERIAL's hidden one.
  await knex.raw("create sequence ?? as bigint", [t("transactions_id_seq")]);
  await knex.raw(
    `create table ?? (
      id bigint primary key,
      portfolio_id text not null check (char_length(portfolio_id) = 24),
      security_id text check (security_id is null or char_length(security_id) = 24),
      source_id varchar(50) not null check (char_length(trim(source_id)) > 0),
      status text not null default 'NEW' check (status in ('NEW', 'PROC', 'ERROR', 'FATAL')),
      transaction_type text not null check (transaction_type in ('BUY', 'SELL', 'SHORT', 'COVER', 'DEP', 'WD', 'IN', 'OUT')),
      quantity numeric(18, 8) not null,
      price numeric(18, 8) not null,
      fee numeric(18, 8) not null default 0 check (fee >= 0),
      transaction_date date not null default current_date,
      reprocessing_attempts integer not null default 0 check (reprocessing_attempts >= 0),
      error_message varchar(255),
      version integer not null default 1 check (version > 0),
      created_at timestamptz not null default current_timestamp,
      updated_at timestamptz not null default current_timestamp,
      constraint chk_cash_transactions check ((transaction_type in ('DEP', 'WD')) = (security_id is null))
    )`,
    [t("transactions")],
  );
  await knex.raw("create unique index transaction_source_ndx on ?? (source_id)", [t("transactions")]);
  await knex.raw("create index idx_transactions_portfolio_security_date on ?? (portfolio_id, security_id, transaction_date)", [t("transactions")]);
  await knex.raw("create index idx_transactions_security_id on ?? (security_id) where security_id is not null", [t("transactions")]);
  await knex.raw("create index idx_transactions_date on ?? (transaction_date, id)", [t("transactions")]);
  await knex.raw("create index idx_transactions_status_unprocessed on ?? (status) where status in ('NEW', 'ERROR')", [t("transactions")]);

  await knex.raw(
    `create table ?? (
      id bigserial primary key,
      portfolio_id text not null check (char_length(portfolio_id) = 24),
      security_id text check (security_id is null or char_length(security_id) = 24),
      quantity_long numeric(18, 8) not null default 0,
      quantity_short numeric(18, 8) not null default 0,
      last_updated timestamptz not null default current_timestamp,
      version integer not null default 1 check (version > 0),
      created_at timestamptz not null default current_timestamp,
      constraint chk_cash_is_long_only check (security_id is not null or quantity_short = 0)
    )`,
    [t("balances")],
  );
  // The reference's two partial unique indexes: one row per (portfolio, security), one cash row per portfolio.
  await knex.raw("create unique index balances_portfolio_security_ndx on ?? (portfolio_id, security_id) where security_id is not null", [t("balances")]);
  await knex.raw("create unique index balances_portfolio_cash_ndx on ?? (portfolio_id) where security_id is null", [t("balances")]);
  await knex.raw("create index idx_balances_security_id on ?? (security_id)", [t("balances")]);
  await knex.raw("create index idx_balances_last_updated on ?? (last_updated)", [t("balances")]);

  await knex.raw(
    `create table ?? (
      portfolio_id text primary key,
      cost_basis_method text not null check (cost_basis_method in ('FIFO', 'LIFO', 'HIFO', 'AVERAGE')),
      updated_at timestamptz not null default current_timestamp
    )`,
    [t("portfolio_settings")],
  );

  // Open lots only; `seq` keeps a book's opening order. Cost can exceed a balance's range (it includes fees and
  // can be large for big positions), so it is wider.
  await knex.raw(
    `create table ?? (
      portfolio_id text not null,
      security_id text not null,
      side text not null check (side in ('LONG', 'SHORT')),
      lot_id text not null,
      seq integer not null,
      opened_on date not null,
      quantity numeric(18, 8) not null check (quantity <> 0),
      cost numeric(38, 8) not null,
      open_quantity numeric(18, 8) not null,
      open_price numeric(38, 8) not null,
      primary key (portfolio_id, security_id, side, lot_id)
    )`,
    [t("tax_lots")],
  );
  await knex.raw(
    `create table ?? (
      id bigserial primary key,
      transaction_id bigint not null references ?? (id),
      portfolio_id text not null,
      security_id text not null,
      side text not null check (side in ('LONG', 'SHORT')),
      lot_id text not null,
      sale_date date not null,
      quantity numeric(18, 8) not null,
      cost numeric(38, 8) not null,
      proceeds numeric(38, 8) not null,
      realized_pnl numeric(38, 8) not null
    )`,
    [t("lot_closures"), t("transactions")],
  );
  await knex.raw("create index lot_closures_position on ?? (portfolio_id, security_id, transaction_id)", [t("lot_closures")]);

  await knex.raw(
    `create table ?? (
      reservation_id text primary key,
      order_id text not null unique,
      portfolio_id text not null check (char_length(portfolio_id) = 24),
      security_id text check (security_id is null or char_length(security_id) = 24),
      amount numeric(18, 8) not null check (amount > 0),
      consumed numeric(18, 8) not null default 0 check (consumed >= 0),
      released numeric(18, 8) not null default 0 check (released >= 0),
      status text not null check (status in ('OPEN', 'CONSUMED', 'RELEASED')),
      created_at timestamptz not null,
      updated_at timestamptz not null,
      check (consumed + released <= amount),
      check ((status = 'OPEN') = (consumed + released < amount))
    )`,
    [t("reservations")],
  );
  await knex.raw("create index reservations_open on ?? (portfolio_id, security_id) where status = 'OPEN'", [t("reservations")]);

  await knex.raw(
    `create table ?? (
      idempotency_key text primary key,
      portfolio_id text not null,
      kind text not null check (kind in ('DEPOSIT', 'WITHDRAWAL')),
      amount numeric(18, 2) not null check (amount > 0),
      transaction_id bigint not null references ?? (id),
      balance_after numeric(18, 8) not null,
      created_at timestamptz not null
    )`,
    [t("cash_movements"), t("transactions")],
  );
  await knex.raw("create index cash_movements_daily on ?? (portfolio_id, kind, created_at)", [t("cash_movements")]);

  // security_id → ticker, learned from fills and market data, so summaries can ask for quotes by symbol.
  await knex.raw("create table ?? (security_id text primary key, symbol text not null)", [t("security_symbols")]);

  await knex.raw(
    `create table ?? (
      id bigserial primary key,
      execution_service_id bigint not null,
      is_open boolean not null default false,
      execution_status varchar(20) not null,
      trade_type varchar(10) not null check (trade_type in ('BUY', 'SELL')),
      destination varchar(20) not null,
      trade_date date not null,
      security_id text not null check (char_length(security_id) = 24),
      ticker varchar(20) not null,
      portfolio_id text not null check (char_length(portfolio_id) = 24),
      quantity numeric(18, 8) not null,
      limit_price numeric(18, 8),
      received_timestamp timestamptz not null,
      sent_timestamp timestamptz not null,
      last_fill_timestamp timestamptz,
      quantity_filled numeric(18, 8) not null default 0,
      total_amount numeric(18, 8) not null default 0,
      average_price numeric(18, 8) not null,
      ready_to_send_timestamp timestamptz not null default current_timestamp,
      version integer not null default 1
    )`,
    [t("executions")],
  );
  await knex.raw("create unique index execution_execution_service_id_ndx on ?? (execution_service_id)", [t("executions")]);
  await knex.raw("create index execution_ready_to_send_timestamp_ndx on ?? (ready_to_send_timestamp)", [t("executions")]);

  // A send claims its window by inserting (now, previous start): a concurrent send computes the same previous
  // start and hits the unique index, which is the reference's duplicate-send guard.
  await knex.raw(
    `create table ?? (
      id bigserial primary key,
      start_time timestamptz not null default current_timestamp,
      previous_start_time timestamptz not null,
      version integer not null default 1
    )`,
    [t("batch_history")],
  );
  await knex.raw("create unique index batch_history_start_time_ndx on ?? (start_time)", [t("batch_history")]);
  await knex.raw("create unique index batch_history_previous_start_time_ndx on ?? (previous_start_time)", [t("batch_history")]);
  await knex.raw("insert into ?? (start_time, previous_start_time) values ('1900-01-02 00:00:00+00', '1900-01-01 00:00:00+00')", [t("batch_history")]);
}

// The optimization schema: investment models (positions and portfolios as child rows), immutable proposals with
// their trades and per-security drifts, and the per-leg record of ExecuteProposal. Weights and money are NUMERIC.
import type { Knex } from "knex";
import type { MigrationContext } from "../../platform/database";

export async function up(knex: Knex, { schema }: MigrationContext): Promise<void> {
  const t = (name: string) => `${schema}.${name}`;
  await knex.raw(
    `create table ?? (
      model_id text primary key,
      name text not null unique,
      version integer not null check (version >= 1),
      last_rebalance_date timestamptz,
      create_time timestamptz not null,
      update_time timestamptz not null
    )`,
    [t("models")],
  );
  await knex.raw("create index models_created on ?? (create_time desc, model_id desc)", [t("models")]);
  await knex.raw(
    `create table ?? (
      model_id text not null references ?? (model_id) on delete cascade,
      security_id text not null,
      target numeric not null check (target > 0 and target <= 0.95),
      low_drift numeric not null check (low_drift >= 0 and low_drift <= 1),
      high_drift numeric not null check (high_drift >= 0 and high_drift <= 1),
      primary key (model_id, security_id)
    )`,
    [t("model_positions"), t("models")],
  );
  await knex.raw(
    `create table ?? (
      model_id text not null references ?? (model_id) on delete cascade,
      portfolio_id text not null,
      ordinal integer not null,
      primary key (model_id, portfolio_id)
    )`,
    [t("model_portfolios"), t("models")],
  );
  // RebalancePortfolio finds the model of a portfolio; ListModels filters by portfolio.
  await knex.raw("create index model_portfolios_portfolio on ?? (portfolio_id)", [t("model_portfolios")]);

  await knex.raw(
    `create table ?? (
      proposal_id text primary key,
      portfolio_id text not null,
      model_id text not null,
      model_version integer not null,
      model_name text not null,
      rebalance_id text not null default '',
      options jsonb not null,
      market_value numeric not null,
      cash_before numeric not null,
      cash_after numeric not null,
      objective numeric not null,
      solver text not null check (solver in ('SEPARABLE', 'BRANCH_AND_BOUND')),
      solver_time_ms double precision not null,
      optimality_proven boolean not null,
      objective_lower_bound numeric not null,
      create_time timestamptz not null,
      idempotency_key text,
      request_fingerprint text,
      unique (portfolio_id, idempotency_key)
    )`,
    [t("proposals")],
  );
  await knex.raw("create index proposals_created on ?? (create_time desc, proposal_id desc)", [t("proposals")]);
  await knex.raw("create index proposals_portfolio on ?? (portfolio_id, create_time desc)", [t("proposals")]);
  await knex.raw("create index proposals_model on ?? (model_id, create_time desc)", [t("proposals")]);
  await knex.raw("create index proposals_run on ?? (rebalance_id) where rebalance_id <> ''", [t("proposals")]);
  await knex.raw(
    `create table ?? (
      proposal_id text not null references ?? (proposal_id) on delete cascade,
      leg integer not null check (leg >= 1),
      side text not null check (side in ('BUY', 'SELL')),
      security_id text not null,
      symbol text not null,
      quantity numeric not null check (quantity > 0),
      price numeric not null check (price > 0),
      estimated_notional numeric not null,
      primary key (proposal_id, leg)
    )`,
    [t("proposal_trades"), t("proposals")],
  );
  await knex.raw(
    `create table ?? (
      proposal_id text not null references ?? (proposal_id) on delete cascade,
      security_id text not null,
      target numeric not null,
      low_drift numeric not null,
      high_drift numeric not null,
      quantity_before numeric not null,
      quantity_after numeric not null,
      price numeric not null,
      weight_before numeric not null,
      weight_after numeric not null,
      in_band_before boolean not null,
      in_band_after boolean not null,
      primary key (proposal_id, security_id)
    )`,
    [t("proposal_drifts"), t("proposals")],
  );
  await knex.raw(
    `create table ?? (
      proposal_id text not null references ?? (proposal_id) on delete cascade,
      leg integer not null,
      order_id text not null default '',
      error_code text not null default '',
      error_message text not null default '',
      execute_time timestamptz not null,
      primary key (proposal_id, leg)
    )`,
    [t("proposal_legs"), t("proposals")],
  );
}

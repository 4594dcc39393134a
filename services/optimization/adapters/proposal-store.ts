// Proposals in Postgres: the proposal row, its trades and drifts (multi-row inserts in one transaction), and the
// per-leg record of its execution. Reads fetch a page of proposals and then their children with `= any(ids)`.
import Decimal from "decimal.js";
import type { Knex } from "knex";
import type { LegExecution, Proposal, ProposalOptions } from "../domain/proposal";
import { retrySessionRace } from "./retry-session-race";

/** Filters of ListProposals (empty strings and nulls match everything). */
export interface ProposalFilter {
  portfolioId: string;
  /** When set, only these portfolios (the caller's); null = any. */
  portfolioIn: string[] | null;
  modelId: string;
  rebalanceId: string;
  fromTime: Date | null;
  toTime: Date | null;
}

export interface ProposalPage {
  proposals: Proposal[];
  next: { createTime: Date; proposalId: string } | null;
}

const UNIQUE_VIOLATION = "23505";

/** The proposal repository over knex. */
export function createProposalStore(knex: Knex, schema: string) {
  const t = (name: string) => `${schema}.${name}`;

  async function hydrate(rows: Record<string, any>[]): Promise<Proposal[]> {
    if (rows.length === 0) return [];
    const ids = rows.map((r) => r.proposal_id);
    // Sequential on purpose: the embedded database runs one statement at a time anyway, and concurrent
    // statements on one pool only add interleaving on its shared session.
    const trades = await knex(t("proposal_trades")).whereIn("proposal_id", ids).orderBy(["proposal_id", "leg"]);
    const drifts = await knex(t("proposal_drifts")).whereIn("proposal_id", ids).orderBy(["proposal_id", "security_id"]);
    const legs = await knex(t("proposal_legs")).whereIn("proposal_id", ids).orderBy(["proposal_id", "leg"]);
    const d = (v: string) => new Decimal(v);
    return rows.map((row): Proposal => {
      const own = <T extends { proposal_id: string }>(list: T[]) => list.filter((x) => x.proposal_id === row.proposal_id);
      const executed = own(legs);
      return {
        proposalId: row.proposal_id,
        portfolioId: row.portfolio_id,
        modelId: row.model_id,
        modelVersion: row.model_version,
        modelName: row.model_name,
        rebalanceId: row.rebalance_id,
        options: row.options as ProposalOptions,
        marketValue: d(row.market_value),
        cashBefore: d(row.cash_before),
        cashAfter: d(row.cash_after),
        objective: d(row.objective),
        solver: row.solver,
        solverTimeMs: Number(row.solver_time_ms),
        optimalityProven: row.optimality_proven,
        objectiveLowerBound: d(row.objective_lower_bound),
        createTime: row.create_time,
        trades: own(trades).map((x) => ({ leg: x.leg, side: x.side, securityId: x.security_id, symbol: x.symbol, quantity: d(x.quantity), price: d(x.price), estimatedNotional: d(x.estimated_notional) })),
        drifts: own(drifts).map((x) => ({
          securityId: x.security_id,
          target: d(x.target),
          lowDrift: d(x.low_drift),
          highDrift: d(x.high_drift),
          quantityBefore: d(x.quantity_before),
          quantityAfter: d(x.quantity_after),
          price: d(x.price),
          weightBefore: d(x.weight_before),
          weightAfter: d(x.weight_after),
          inBandBefore: x.in_band_before,
          inBandAfter: x.in_band_after,
        })),
        execution:
          executed.length === 0
            ? null
            : {
                executeTime: executed.reduce((min, x) => (x.execute_time < min ? x.execute_time : min), executed[0].execute_time),
                legs: executed.map((x) => ({ leg: x.leg, orderId: x.order_id, errorCode: x.error_code, errorMessage: x.error_message })),
              },
      };
    });
  }

  async function listPage(filter: ProposalFilter, limit: number, after: { createTime: Date; proposalId: string } | null): Promise<ProposalPage> {
    const query = knex(t("proposals")).orderBy([{ column: "create_time", order: "desc" }, { column: "proposal_id", order: "desc" }]).limit(limit + 1);
    if (filter.portfolioId !== "") query.where({ portfolio_id: filter.portfolioId });
    if (filter.portfolioIn !== null) query.whereIn("portfolio_id", filter.portfolioIn);
    if (filter.modelId !== "") query.where({ model_id: filter.modelId });
    if (filter.rebalanceId !== "") query.where({ rebalance_id: filter.rebalanceId });
    if (filter.fromTime !== null) query.where("create_time", ">=", filter.fromTime);
    if (filter.toTime !== null) query.where("create_time", "<", filter.toTime);
    if (after !== null) query.whereRaw("(create_time, proposal_id) < (?, ?)", [after.createTime, after.proposalId]);
    const rows = await query;
    const proposals = await hydrate(rows.slice(0, limit));
    const last = rows.length > limit ? proposals[proposals.length - 1] : undefined;
    return { proposals, next: last ? { createTime: last.createTime, proposalId: last.proposalId } : null };
  }

  const byId = (proposalId: string) => retrySessionRace(async () => (await hydrate(await knex(t("proposals")).where({ proposal_id: proposalId })))[0] ?? null);

  return {
    get: byId,

    findByKey(portfolioId: string, idempotencyKey: string): Promise<{ proposal: Proposal; fingerprint: string } | null> {
      return retrySessionRace(async () => {
        const row = await knex(t("proposals")).where({ portfolio_id: portfolioId, idempotency_key: idempotencyKey }).first();
        if (row === undefined) return null;
        return { proposal: (await hydrate([row]))[0], fingerprint: row.request_fingerprint };
      });
    },

    /** Inserts the proposal and its children; a lost race on the idempotency key returns the winner. */
    async insert(p: Proposal, idempotencyKey: string, fingerprint: string): Promise<Proposal> {
      try {
        await knex.transaction(async (trx) => {
          await trx(t("proposals")).insert({
            proposal_id: p.proposalId,
            portfolio_id: p.portfolioId,
            model_id: p.modelId,
            model_version: p.modelVersion,
            model_name: p.modelName,
            rebalance_id: p.rebalanceId,
            options: JSON.stringify(p.options),
            market_value: p.marketValue.toFixed(),
            cash_before: p.cashBefore.toFixed(),
            cash_after: p.cashAfter.toFixed(),
            objective: p.objective.toFixed(),
            solver: p.solver,
            solver_time_ms: p.solverTimeMs,
            optimality_proven: p.optimalityProven,
            objective_lower_bound: p.objectiveLowerBound.toFixed(),
            create_time: p.createTime,
            idempotency_key: idempotencyKey === "" ? null : idempotencyKey,
            request_fingerprint: idempotencyKey === "" ? null : fingerprint,
          });
          if (p.trades.length > 0) {
            await trx(t("proposal_trades")).insert(
              p.trades.map((x) => ({ proposal_id: p.proposalId, leg: x.leg, side: x.side, security_id: x.securityId, symbol: x.symbol, quantity: x.quantity.toFixed(), price: x.price.toFixed(), estimated_notional: x.estimatedNotional.toFixed() })),
            );
          }
          if (p.drifts.length > 0) {
            await trx(t("proposal_drifts")).insert(
              p.drifts.map((x) => ({
                proposal_id: p.proposalId,
                security_id: x.securityId,
                target: x.target.toFixed(),
                low_drift: x.lowDrift.toFixed(),
                high_drift: x.highDrift.toFixed(),
                quantity_before: x.quantityBefore.toFixed(),
                quantity_after: x.quantityAfter.toFixed(),
                price: x.price.toFixed(),
                weight_before: x.weightBefore.toFixed(),
                weight_after: x.weightAfter.toFixed(),
                in_band_before: x.inBandBefore,
                in_band_after: x.inBandAfter,
              })),
            );
          }
        });
        return p;
      } catch (error) {
        if ((error as { code?: string }).code === UNIQUE_VIOLATION && idempotencyKey !== "") {
          const winner = await knex(t("proposals")).where({ portfolio_id: p.portfolioId, idempotency_key: idempotencyKey }).first();
          if (winner !== undefined) return (await hydrate([winner]))[0];
        }
        throw error;
      }
    },

    list(filter: ProposalFilter, limit: number, after: { createTime: Date; proposalId: string } | null): Promise<ProposalPage> {
      return retrySessionRace(() => listPage(filter, limit, after));
    },

    /** Records leg outcomes; a leg that once got an order keeps it, a failed leg is overwritten by a retry. */
    async recordLegs(proposalId: string, legs: LegExecution[], at: Date): Promise<void> {
      await knex.raw(
        `insert into ?? as pl (proposal_id, leg, order_id, error_code, error_message, execute_time)
         select ?, leg, order_id, error_code, error_message, ?
         from unnest(?::int[], ?::text[], ?::text[], ?::text[]) as l(leg, order_id, error_code, error_message)
         on conflict (proposal_id, leg) do update
           set order_id = excluded.order_id, error_code = excluded.error_code, error_message = excluded.error_message
           where pl.order_id = ''`,
        [t("proposal_legs"), proposalId, at, legs.map((l) => l.leg), legs.map((l) => l.orderId), legs.map((l) => l.errorCode), legs.map((l) => l.errorMessage)],
      );
    },
  };
}

export type ProposalStore = ReturnType<typeof createProposalStore>;

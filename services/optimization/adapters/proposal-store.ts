// Proposals in Postgres: the proposal row, its trades and drifts (multi-row inserts in one transaction), and the
// per-leg record of its execution. Reads fetch a page of proposals and then their children with `= any(ids)`.
import Decimal from "decimal.js";
import type { Knex } from "knex";
import type { LegExecution, Proposal, ProposalOptions } from "../domain/proposal";

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
// Proposals written by one grouped transaction at most (≈ 100 drift rows each): more would hold the event loop for tens of milliseconds while the statement is built.
const GROUP_MAX = 16;

/** The proposal repository over knex. */
export function createProposalStore(knex: Knex, schema: string) {
  const t = (name: string) => `${schema}.${name}`;

  async function hydrate(rows: Record<string, any>[]): Promise<Proposal[]> {
    if (rows.length === 0) return [];
    const ids = rows.map((r) => r.proposal_id);
    // Sequential on purpose: the embedded database runs one statement at a time anyway.
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

  // One statement per table for any number of proposals: columns travel as arrays and `unnest` turns them back
  // into rows, so the statement's size does not grow with the row count (a multi-row VALUES would need a
  // parameter per cell). Decimals go as their exact strings and are cast to NUMERIC by Postgres.
  async function writeProposals(trx: Knex.Transaction, list: Proposal[], idempotencyKey: string, fingerprint: string): Promise<void> {
    const keyed = idempotencyKey !== "";
    await trx.raw(
      `insert into ?? (proposal_id, portfolio_id, model_id, model_version, model_name, rebalance_id, options, market_value,
         cash_before, cash_after, objective, solver, solver_time_ms, optimality_proven, objective_lower_bound, create_time,
         idempotency_key, request_fingerprint)
       select *, ?::text, ?::text from unnest(?::text[], ?::text[], ?::text[], ?::int[], ?::text[], ?::text[], ?::jsonb[],
         ?::numeric[], ?::numeric[], ?::numeric[], ?::numeric[], ?::text[], ?::float8[], ?::bool[], ?::numeric[], ?::timestamptz[])`,
      [
        t("proposals"),
        keyed ? idempotencyKey : null,
        keyed ? fingerprint : null,
        list.map((p) => p.proposalId),
        list.map((p) => p.portfolioId),
        list.map((p) => p.modelId),
        list.map((p) => p.modelVersion),
        list.map((p) => p.modelName),
        list.map((p) => p.rebalanceId),
        list.map((p) => JSON.stringify(p.options)),
        list.map((p) => p.marketValue.toFixed()),
        list.map((p) => p.cashBefore.toFixed()),
        list.map((p) => p.cashAfter.toFixed()),
        list.map((p) => p.objective.toFixed()),
        list.map((p) => p.solver),
        list.map((p) => p.solverTimeMs),
        list.map((p) => p.optimalityProven),
        list.map((p) => p.objectiveLowerBound.toFixed()),
        list.map((p) => p.createTime),
      ],
    );
    const trades = list.flatMap((p) => p.trades.map((x) => ({ id: p.proposalId, x })));
    if (trades.length > 0) {
      await trx.raw(
        `insert into ?? (proposal_id, leg, side, security_id, symbol, quantity, price, estimated_notional)
         select * from unnest(?::text[], ?::int[], ?::text[], ?::text[], ?::text[], ?::numeric[], ?::numeric[], ?::numeric[])`,
        [
          t("proposal_trades"),
          trades.map((r) => r.id),
          trades.map((r) => r.x.leg),
          trades.map((r) => r.x.side),
          trades.map((r) => r.x.securityId),
          trades.map((r) => r.x.symbol),
          trades.map((r) => r.x.quantity.toFixed()),
          trades.map((r) => r.x.price.toFixed()),
          trades.map((r) => r.x.estimatedNotional.toFixed()),
        ],
      );
    }
    const drifts = list.flatMap((p) => p.drifts.map((x) => ({ id: p.proposalId, x })));
    if (drifts.length > 0) {
      await trx.raw(
        `insert into ?? (proposal_id, security_id, target, low_drift, high_drift, quantity_before, quantity_after, price,
           weight_before, weight_after, in_band_before, in_band_after)
         select * from unnest(?::text[], ?::text[], ?::numeric[], ?::numeric[], ?::numeric[], ?::numeric[], ?::numeric[],
           ?::numeric[], ?::numeric[], ?::numeric[], ?::bool[], ?::bool[])`,
        [
          t("proposal_drifts"),
          drifts.map((r) => r.id),
          drifts.map((r) => r.x.securityId),
          drifts.map((r) => r.x.target.toFixed()),
          drifts.map((r) => r.x.lowDrift.toFixed()),
          drifts.map((r) => r.x.highDrift.toFixed()),
          drifts.map((r) => r.x.quantityBefore.toFixed()),
          drifts.map((r) => r.x.quantityAfter.toFixed()),
          drifts.map((r) => r.x.price.toFixed()),
          drifts.map((r) => r.x.weightBefore.toFixed()),
          drifts.map((r) => r.x.weightAfter.toFixed()),
          drifts.map((r) => r.x.inBandBefore),
          drifts.map((r) => r.x.inBandAfter),
        ],
      );
    }
  }

  const group = groupWriter<Proposal>((list) => knex.transaction((trx) => writeProposals(trx, list, "", "")));

  const byId = async (proposalId: string) => (await hydrate(await knex(t("proposals")).where({ proposal_id: proposalId })))[0] ?? null;

  return {
    get: byId,

    async findByKey(portfolioId: string, idempotencyKey: string): Promise<{ proposal: Proposal; fingerprint: string } | null> {
      const row = await knex(t("proposals")).where({ portfolio_id: portfolioId, idempotency_key: idempotencyKey }).first();
      if (row === undefined) return null;
      return { proposal: (await hydrate([row]))[0], fingerprint: row.request_fingerprint };
    },

    /**
     * Inserts the proposal and its children; a lost race on the idempotency key returns the winner. Proposals
     * without a key (every one of a RebalanceModel run) are written in groups: while one group's transaction is
     * in flight the next ones queue, and the next transaction writes all of them (up to GROUP_MAX) with one
     * statement per table, so a model-wide run costs a few dozen transactions rather than one per portfolio.
     */
    async insert(p: Proposal, idempotencyKey: string, fingerprint: string): Promise<Proposal> {
      if (idempotencyKey === "") {
        await group.add(p);
        return p;
      }
      try {
        await knex.transaction((trx) => writeProposals(trx, [p], idempotencyKey, fingerprint));
        return p;
      } catch (error) {
        if ((error as { code?: string }).code === UNIQUE_VIOLATION) {
          const winner = await knex(t("proposals")).where({ portfolio_id: p.portfolioId, idempotency_key: idempotencyKey }).first();
          if (winner !== undefined) return (await hydrate([winner]))[0];
        }
        throw error;
      }
    },

    list(filter: ProposalFilter, limit: number, after: { createTime: Date; proposalId: string } | null): Promise<ProposalPage> {
      return listPage(filter, limit, after);
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

/**
 * Group commit: `add` resolves once its item is written. Items arriving while a write is in flight wait for it
 * and then go together in the next write (at most GROUP_MAX per write). A failed write fails every item in it.
 */
function groupWriter<T>(write: (items: T[]) => Promise<void>) {
  let waiting: Array<{ item: T; resolve: () => void; reject: (error: unknown) => void }> = [];
  let writing = false;
  const next = async (): Promise<void> => {
    writing = true;
    while (waiting.length > 0) {
      const batch = waiting.slice(0, GROUP_MAX);
      waiting = waiting.slice(GROUP_MAX);
      try {
        await write(batch.map((w) => w.item));
        for (const w of batch) w.resolve();
      } catch (error) {
        for (const w of batch) w.reject(error);
      }
    }
    writing = false;
  };
  return {
    add(item: T): Promise<void> {
      return new Promise<void>((resolve, reject) => {
        waiting.push({ item, resolve, reject });
        if (!writing) void next();
      });
    },
  };
}

// Investment models in Postgres: one row per model plus position and portfolio rows. Writes replace the child rows
// inside one transaction guarded by `where version = expected`, so a concurrent update loses cleanly (ABORTED).
import Decimal from "decimal.js";
import type { Knex } from "knex";
import { aborted, alreadyExists, notFound } from "../../platform/errors";
import type { InvestmentModel } from "../domain/investment-model";

interface ModelRow {
  model_id: string;
  name: string;
  version: number;
  last_rebalance_date: Date | null;
  create_time: Date;
  update_time: Date;
}

/** A page of models, newest first, and the key of the next page. */
export interface ModelPage {
  models: InvestmentModel[];
  next: { createTime: Date; modelId: string } | null;
}

const UNIQUE_VIOLATION = "23505";

/** The model repository over knex (`schema` holds the optimization tables). */
export function createModelStore(knex: Knex, schema: string) {
  const t = (name: string) => `${schema}.${name}`;

  async function hydrate(rows: ModelRow[], db: Knex | Knex.Transaction = knex): Promise<InvestmentModel[]> {
    if (rows.length === 0) return [];
    const ids = rows.map((r) => r.model_id);
    const positions = await db(t("model_positions")).whereIn("model_id", ids).orderBy(["model_id", "security_id"]);
    const portfolios = await db(t("model_portfolios")).whereIn("model_id", ids).orderBy(["model_id", "ordinal"]);
    return rows.map((row) => ({
      modelId: row.model_id,
      name: row.name,
      version: row.version,
      lastRebalanceDate: row.last_rebalance_date,
      createTime: row.create_time,
      updateTime: row.update_time,
      positions: positions
        .filter((p) => p.model_id === row.model_id)
        .map((p) => ({ securityId: p.security_id, target: new Decimal(p.target), lowDrift: new Decimal(p.low_drift), highDrift: new Decimal(p.high_drift) })),
      portfolios: portfolios.filter((p) => p.model_id === row.model_id).map((p) => p.portfolio_id),
    }));
  }

  async function writeChildren(trx: Knex.Transaction, model: InvestmentModel): Promise<void> {
    await trx(t("model_positions")).where({ model_id: model.modelId }).delete();
    await trx(t("model_portfolios")).where({ model_id: model.modelId }).delete();
    if (model.positions.length > 0) {
      await trx(t("model_positions")).insert(
        model.positions.map((p) => ({ model_id: model.modelId, security_id: p.securityId, target: p.target.toFixed(), low_drift: p.lowDrift.toFixed(), high_drift: p.highDrift.toFixed() })),
      );
    }
    if (model.portfolios.length > 0) {
      await trx(t("model_portfolios")).insert(model.portfolios.map((portfolioId, ordinal) => ({ model_id: model.modelId, portfolio_id: portfolioId, ordinal })));
    }
  }

  async function listPage(filter: { portfolioId: string; nameContains: string }, limit: number, after: { createTime: Date; modelId: string } | null): Promise<ModelPage> {
    const query = knex(t("models")).orderBy([{ column: "create_time", order: "desc" }, { column: "model_id", order: "desc" }]).limit(limit + 1);
    if (filter.portfolioId !== "") query.whereIn("model_id", knex(t("model_portfolios")).select("model_id").where({ portfolio_id: filter.portfolioId }));
    if (filter.nameContains !== "") query.whereRaw("position(lower(?) in lower(name)) > 0", [filter.nameContains]);
    if (after !== null) query.whereRaw("(create_time, model_id) < (?, ?)", [after.createTime, after.modelId]);
    const rows: ModelRow[] = await query;
    const models = await hydrate(rows.slice(0, limit));
    const last = rows.length > limit ? models[models.length - 1] : undefined;
    return { models, next: last ? { createTime: last.createTime, modelId: last.modelId } : null };
  }

  const one = async (query: Knex.QueryBuilder): Promise<InvestmentModel | null> => (await hydrate(await query))[0] ?? null;

  return {
    get: (modelId: string) => one(knex(t("models")).where({ model_id: modelId })),
    findByName: (name: string) => one(knex(t("models")).where({ name })),

    async findByPortfolio(portfolioId: string): Promise<InvestmentModel[]> {
      return hydrate(await knex(t("models")).whereIn("model_id", knex(t("model_portfolios")).select("model_id").where({ portfolio_id: portfolioId })).orderBy("create_time", "desc"));
    },

    list: (filter: { portfolioId: string; nameContains: string }, limit: number, after: { createTime: Date; modelId: string } | null) =>
      listPage(filter, limit, after),

    async create(model: InvestmentModel): Promise<InvestmentModel> {
      try {
        await knex.transaction(async (trx) => {
          await trx(t("models")).insert({ model_id: model.modelId, name: model.name, version: model.version, last_rebalance_date: model.lastRebalanceDate, create_time: model.createTime, update_time: model.updateTime });
          await writeChildren(trx, model);
        });
      } catch (error) {
        if ((error as { code?: string }).code === UNIQUE_VIOLATION) {
          throw alreadyExists("MODEL_NAME_TAKEN", `A model named "${model.name}" already exists`, { cause: error });
        }
        throw error;
      }
      return model;
    },

    async replace(next: InvestmentModel): Promise<InvestmentModel> {
      try {
        await knex.transaction(async (trx) => {
          const updated = await trx(t("models"))
            .where({ model_id: next.modelId, version: next.version - 1 })
            .update({ name: next.name, version: next.version, update_time: next.updateTime });
          if (updated === 0) throw aborted("VERSION_MISMATCH", "Model has been modified by another process", { metadata: { model_id: next.modelId } });
          await writeChildren(trx, next);
        });
      } catch (error) {
        if ((error as { code?: string }).code === UNIQUE_VIOLATION) {
          throw alreadyExists("MODEL_NAME_TAKEN", `A model named "${next.name}" already exists`, { cause: error });
        }
        throw error;
      }
      return next;
    },

    async delete(modelId: string, version: number): Promise<void> {
      const deleted = await knex(t("models")).where({ model_id: modelId, version }).delete();
      if (deleted === 0) {
        const exists = await knex(t("models")).where({ model_id: modelId }).first();
        if (exists === undefined) throw notFound("MODEL_NOT_FOUND", `Model ${modelId} not found`);
        throw aborted("VERSION_MISMATCH", "Model has been modified by another process", { metadata: { model_id: modelId } });
      }
    },

    // Not a content change: the version stays, so a rebalance never makes an editor's next update fail.
    async markRebalanced(modelId: string, at: Date): Promise<void> {
      await knex(t("models")).where({ model_id: modelId }).update({ last_rebalance_date: at });
    },
  };
}

export type ModelStore = ReturnType<typeof createModelStore>;

// The allocation service's tables: executions (natural key execution_service_id) and the batch history whose
// unique indexes make a concurrent send fail instead of sending the same window twice.
import type { Knex } from "knex";
import { AccountingError } from "../domain/accounting-error";
import type { NewExecution, StoredExecution } from "../domain/allocation";
import { dec } from "../domain/money";
import type { ExecutionStorePort } from "../domain/record-executions";
import { fromSqlDate } from "./ledger-rows";
import { raw } from "./ledger-sql";

const UNIQUE_VIOLATION = "23505";

export interface ExecutionFilter {
  portfolioIds: string[] | null;
  portfolioId: string | null;
  securityId: string | null;
  /** YYYY-MM-DD. */
  tradeDate: string | null;
  offset: number;
  limit: number;
}

export function createExecutionStore(knex: Knex, schema: string) {
  const t = (name: string) => `${schema}.${name}`;
  const port: ExecutionStorePort = {
    async findByServiceIds(serviceIds) {
      if (serviceIds.length === 0) return new Map();
      const { rows } = await raw(knex, `select execution_service_id, id from ?? where execution_service_id = any(?::bigint[])`, [t("executions"), serviceIds]);
      return new Map((rows as { execution_service_id: string; id: string }[]).map((r) => [r.execution_service_id, r.id]));
    },
    async insert(executions, readyToSend) {
      const col = <K extends keyof NewExecution>(k: K) => executions.map((e) => e[k]);
      const decimal = (k: "quantity" | "quantityFilled" | "totalAmount" | "averagePrice") => executions.map((e) => e[k].toFixed());
      const { rows } = await raw(
        knex,
        `insert into ?? (execution_service_id, is_open, execution_status, trade_type, destination, trade_date, security_id, ticker,
                         portfolio_id, quantity, limit_price, received_timestamp, sent_timestamp, last_fill_timestamp,
                         quantity_filled, total_amount, average_price, ready_to_send_timestamp)
         select s, false, st, tt, d, td, sec, tk, p, q, lp, rt, snt, lft, qf, ta, ap, ?::timestamptz
           from unnest(?::bigint[], ?::text[], ?::text[], ?::text[], ?::date[], ?::text[], ?::text[], ?::text[], ?::numeric[], ?::numeric[],
                       ?::timestamptz[], ?::timestamptz[], ?::timestamptz[], ?::numeric[], ?::numeric[], ?::numeric[])
             as v(s, st, tt, d, td, sec, tk, p, q, lp, rt, snt, lft, qf, ta, ap)
         on conflict (execution_service_id) do nothing
         returning execution_service_id, id`,
        [
          t("executions"),
          readyToSend.toISOString(),
          col("executionServiceId"),
          col("executionStatus"),
          col("tradeType"),
          col("destination"),
          col("tradeDate"),
          col("securityId"),
          col("ticker"),
          col("portfolioId"),
          decimal("quantity"),
          executions.map((e) => e.limitPrice?.toFixed() ?? null),
          executions.map((e) => e.receivedTimestamp.toISOString()),
          executions.map((e) => e.sentTimestamp.toISOString()),
          executions.map((e) => e.lastFillTimestamp?.toISOString() ?? null),
          decimal("quantityFilled"),
          decimal("totalAmount"),
          decimal("averagePrice"),
        ],
      );
      return new Map((rows as { execution_service_id: string; id: string }[]).map((r) => [r.execution_service_id, r.id]));
    },
  };

  return {
    ...port,

    async get(id: string): Promise<StoredExecution | null> {
      const { rows } = await raw(knex, `select * from ?? where id = ?`, [t("executions"), id]);
      return rows.length > 0 ? toExecution(rows[0]) : null;
    },

    async list(f: ExecutionFilter): Promise<{ items: StoredExecution[]; total: number }> {
      const q = knex(t("executions"));
      if (f.portfolioIds) q.whereIn("portfolio_id", f.portfolioIds);
      if (f.portfolioId) q.where("portfolio_id", f.portfolioId);
      if (f.securityId) q.where("security_id", f.securityId);
      if (f.tradeDate) q.where("trade_date", f.tradeDate);
      const [{ count }] = (await q.clone().count({ count: "*" })) as { count: string }[];
      const rows = await q.orderBy("id", "desc").offset(f.offset).limit(f.limit);
      return { items: rows.map(toExecution), total: Number(count) };
    },

    async claimWindow(now: Date, staleBefore: Date): Promise<{ batchId: string; windowStart: Date }> {
      try {
        // No row when a send that started after staleBefore has not completed; two claims racing past that
        // check compute the same previous start and one hits the unique index (the reference's guard).
        const { rows } = await raw(
          knex,
          `insert into ?? (start_time, previous_start_time)
           select ?::timestamptz, max(start_time) from ??
           having not exists (select 1 from ?? where completed_at is null and start_time > ?::timestamptz)
           returning id, previous_start_time`,
          [t("batch_history"), now.toISOString(), t("batch_history"), t("batch_history"), staleBefore.toISOString()],
        );
        if (rows.length === 0) throw new AccountingError("BATCH_IN_PROGRESS", "batch process already in progress");
        return { batchId: rows[0].id, windowStart: rows[0].previous_start_time };
      } catch (error) {
        if ((error as { code?: string }).code === UNIQUE_VIOLATION) {
          throw new AccountingError("BATCH_IN_PROGRESS", "batch process already in progress", [], {}, { cause: error });
        }
        throw error;
      }
    },

    async completeWindow(batchId: string): Promise<void> {
      await raw(knex, `update ?? set completed_at = now() where id = ?`, [t("batch_history"), batchId]);
    },

    async executionsInWindow(start: Date, end: Date): Promise<StoredExecution[]> {
      const { rows } = await raw(
        knex,
        `select * from ?? where ready_to_send_timestamp >= ? and ready_to_send_timestamp < ? order by ready_to_send_timestamp, id`,
        [t("executions"), start.toISOString(), end.toISOString()],
      );
      return rows.map(toExecution);
    },
  };
}

export type ExecutionStore = ReturnType<typeof createExecutionStore>;

function toExecution(r: Record<string, any>): StoredExecution {
  return {
    id: r.id,
    executionServiceId: r.execution_service_id,
    executionStatus: r.execution_status,
    tradeType: r.trade_type,
    destination: r.destination,
    securityId: r.security_id,
    ticker: r.ticker,
    portfolioId: r.portfolio_id,
    quantity: dec(r.quantity),
    limitPrice: r.limit_price === null ? null : dec(r.limit_price),
    receivedTimestamp: r.received_timestamp,
    sentTimestamp: r.sent_timestamp,
    lastFillTimestamp: r.last_fill_timestamp,
    quantityFilled: dec(r.quantity_filled),
    totalAmount: dec(r.total_amount),
    averagePrice: dec(r.average_price),
    tradeDate: fromSqlDate(r.trade_date),
    readyToSendTimestamp: r.ready_to_send_timestamp,
    version: r.version,
  };
}

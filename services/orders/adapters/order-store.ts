// Orders, the per-portfolio event log and the outbox in Postgres (knex + pg; the same code runs on the embedded
// server). Writes that arrive while one is running are gathered and go as one statement (order-writes.ts); reads by
// id are gathered the same way. SQL is written out so the reader sees what runs.
import type { Knex } from "knex";
import type { Database } from "../../platform/database";
import type { OutboxRelay } from "../../platform/outbox";
import { createBatcher, writeEachKeyOnce, type Settled } from "../../platform/batcher";
import { type OrderEvent } from "../domain/order";
import { invalidField } from "../domain/order-error";
import type { OrderStore } from "../domain/ports";
import { createOrderWrites, type NewOrder, type TransitionRequest } from "./order-writes";
import { eventWithOrderFromRow, orderFromRow, type EventRow, type OrderRow } from "./order-rows";

/** Options of the Postgres order store. */
export interface PgOrderStoreOptions {
  knex: Knex;
  schema: string;
  /**
   * The outbox relay: a statement's outbox rows are inserted leased to this store and their messages handed to it
   * right after the commit. Without one the rows are due at once and wait for a relay's polling.
   */
  relay?: Pick<OutboxRelay, "handOff" | "handOffLeaseMs">;
  /** Called after a statement that wrote orders or events committed (wakes the event-log watchers). */
  onCommitted?: () => void;
  /** Prepared-statement options for the hot statements (`Database.prepared`); none when omitted. */
  prepared?: Database["prepared"];
}

/** Creates the Postgres-backed OrderStore. */
export function createPgOrderStore(options: PgOrderStoreOptions): OrderStore {
  const { knex, schema } = options;
  const t = (name: string) => `${schema}.${name}`;
  const onCommitted = () => options.onCommitted?.();
  const prepared = options.prepared ?? (() => ({}));

  const { writeOrders, writeTransitions } = createOrderWrites({ knex, schema, prepared, relay: options.relay, onCommitted });

  // New orders go in batches like transitions: the submits that arrive while one batch commits are written by the
  // next, each order with its first event, its key's completion and its execute message, in one statement. An order
  // id that is already stored (an earlier attempt committed) writes nothing and is answered from the store.
  const creations = createBatcher<NewOrder, Settled<boolean>>({
    maxBatch: 200,
    maxInFlight: 1,
    run: (batch) => writeEachKeyOnce(batch, (item) => item.order.id, writeOrders),
  });

  // Transitions go in batches too: the execution worker, the quote watcher, the sweeper and cancels all write through
  // here, and the transitions that arrive while one batch commits are written by the next, in one statement. Each
  // order still moves only from the version its plan was made from; seqs stay contiguous per portfolio and in commit
  // order (the portfolios' counter rows are taken in portfolio order, so two batches cannot deadlock on them). An
  // order appears at most once per statement: a second transition of it waits for the next statement and, like any
  // transition that lost a race, finds the version moved and returns null.
  const transitions = createBatcher<TransitionRequest, Settled<OrderEvent[] | null>>({
    maxBatch: 200,
    maxInFlight: 1,
    run: (batch) => writeEachKeyOnce(batch, (request) => request.next.id, writeTransitions),
  });

  // Reads by id go in batches: the execution worker reads every order it is handed, and under load the reads that
  // arrive while one is running share the next statement (`id = any(...)`) instead of a round trip each. A read
  // always starts after it was asked for, so it sees every write committed before.
  const readOrders = createBatcher<string, OrderRow | null>({
    maxBatch: 500,
    maxInFlight: 4,
    async run(ids) {
      const result = await raw<{ rows: OrderRow[] }>(knex, "select * from ?? where id = any(?::uuid[])", [t("orders"), ids], prepared("read_orders"));
      const byId = new Map(result.rows.map((row) => [row.id, row]));
      return ids.map((id) => byId.get(id.toLowerCase()) ?? null);
    },
  });

  return {
    async create(order, event) {
      const settled = await creations({ order, event });
      if (!settled.ok) throw settled.error;
      if (settled.value) return order;
      // An earlier attempt with this order id committed (its answer was lost): that order is the answer.
      const existing = await this.find(order.id);
      if (existing === null) throw new Error(`order ${order.id} vanished after a conflicting insert`);
      return existing;
    },

    async find(orderId) {
      if (!UUID.test(orderId)) return null;
      const row = await readOrders(orderId);
      return row === null ? null : orderFromRow(row);
    },

    async transition(expectedVersion, next, events) {
      const settled = await transitions({ expectedVersion, next, events });
      if (!settled.ok) throw settled.error;
      return settled.value;
    },

    async markStopTriggered(orderId, expectedVersion) {
      await raw(knex, "update ?? set stop_triggered = true where id = ? and version = ?", [
        t("orders"),
        orderId,
        expectedVersion,
      ]);
    },

    async list(query) {
      const cursor = query.pageToken === null ? null : decodeCursor(query.pageToken);
      if (query.pageToken !== null && cursor === null) throw invalidField("page_token", "page_token is not valid");
      const result = await raw<{ rows: OrderRow[] }>(
        knex,
        `select * from ??
         where (?::text[] is null or portfolio_id = any(?::text[]))
           and (cardinality(?::text[]) = 0 or status = any(?::text[]))
           and (?::text is null or symbol = ?)
           and (?::text is null or side = ?)
           and (?::timestamptz is null or created_at >= ?)
           and (?::timestamptz is null or created_at < ?)
           and (?::timestamptz is null or (created_at, id) < (?::timestamptz, ?::uuid))
         order by created_at desc, id desc
         limit ?`,
        [
          t("orders"),
          query.portfolioIds,
          query.portfolioIds,
          query.statuses,
          query.statuses,
          query.symbol,
          query.symbol,
          query.side,
          query.side,
          query.createdFrom,
          query.createdFrom,
          query.createdTo,
          query.createdTo,
          cursor?.createdAt ?? null,
          cursor?.createdAt ?? null,
          cursor?.id ?? null,
          query.pageSize + 1,
        ],
      );
      const rows = result.rows.slice(0, query.pageSize);
      const orders = rows.map(orderFromRow);
      const last = orders[orders.length - 1];
      const more = result.rows.length > query.pageSize && last !== undefined;
      return { orders, nextPageToken: more ? encodeCursor(last.createdAt, last.id) : null };
    },

    async eventsSince(portfolioId, sinceSeq, limit) {
      const result = await raw<{ rows: (OrderRow & EventRow)[] }>(
        knex,
        `select o.*, e.seq, e.order_version, e.from_status, e.to_status, e.reason, e.fill_id, e.fill_quantity,
           e.fill_price, e.filled_quantity_after, e.filled_amount_after, e.occurred_at
         from ?? e join ?? o on o.id = e.order_id
         where e.portfolio_id = ? and e.seq > ?
         order by e.seq
         limit ?`,
        [t("order_events"), t("orders"), portfolioId, sinceSeq, limit],
      );
      return result.rows.map(eventWithOrderFromRow);
    },

    async latestSeq(portfolioId) {
      const result = await raw<{ rows: { last_seq: string }[] }>(
        knex,
        "select last_seq from ?? where portfolio_id = ?",
        [t("portfolio_seqs"), portfolioId],
      );
      return result.rows.length === 0 ? 0 : Number(result.rows[0].last_seq);
    },
  };
}

/** Ids of working orders on a symbol (NEW or PARTIALLY_FILLED), for the quote watcher. */
export async function workingOrderIds(knex: Knex, schema: string, symbols: readonly string[], limit: number): Promise<string[]> {
  const result = await raw<{ rows: { id: string }[] }>(
    knex,
    `select id from ?? where status in ('NEW', 'PARTIALLY_FILLED') and symbol = any(?::text[])
     order by created_at limit ?`,
    [`${schema}.orders`, symbols, limit],
  );
  return result.rows.map((row) => row.id);
}

/** Ids of orders whose DAY expiry has passed while they still work, for the expiry sweep. */
export async function expiredOrderIds(knex: Knex, schema: string, now: Date, limit: number): Promise<string[]> {
  const result = await raw<{ rows: { id: string }[] }>(
    knex,
    `select id from ?? where status in ('PENDING_NEW', 'NEW', 'PARTIALLY_FILLED') and expires_at <= ?
     order by expires_at limit ?`,
    [`${schema}.orders`, now, limit],
  );
  return result.rows.map((row) => row.id);
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function encodeCursor(createdAt: Date, id: string): string {
  return Buffer.from(JSON.stringify([createdAt.toISOString(), id])).toString("base64url");
}

function decodeCursor(token: string): { createdAt: string; id: string } | null {
  try {
    const [createdAt, id] = JSON.parse(Buffer.from(token, "base64url").toString("utf8")) as [string, string];
    if (typeof createdAt !== "string" || typeof id !== "string" || !UUID.test(id)) return null;
    if (Number.isNaN(Date.parse(createdAt))) return null;
    return { createdAt, id };
  } catch {
    return null;
  }
}


/** knex.raw with loosely typed bindings: arrays of nullable values for unnest() are fine for pg but not for knex's
 * binding type. */
function raw<T = unknown>(
  db: Knex | Knex.Transaction,
  sql: string,
  bindings: readonly unknown[],
  options: { name?: string } = {},
): Promise<T> {
  return db.raw(sql, bindings as Knex.RawBinding[]).options(options) as unknown as Promise<T>;
}

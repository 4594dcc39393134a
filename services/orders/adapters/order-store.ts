// Orders, the per-portfolio event log and the outbox in Postgres (knex + pg; the same code runs on the embedded
// server). Every write is one short transaction; SQL is written out so the reader sees what runs.
import Decimal from "decimal.js";
import type { Knex } from "knex";
import type { Database } from "../../platform/database";
import { createBatcher, writeEachKeyOnce, type Settled } from "../../platform/batcher";
import type { OutgoingMessage } from "../../platform/messaging";
import { OUTBOX_TABLE } from "../../platform/outbox";
import { injectTraceContext } from "../../platform/telemetry";
import { type Order, type OrderEvent, type OrderReason, type OrderStatus } from "../domain/order";
import { fillIdOf, isTerminal } from "../domain/order-state-machine";
import { invalidField } from "../domain/order-error";
import type { EventWithOrder, OrderStore } from "../domain/ports";
import { executeMessage, transitionMessages } from "./order-messages";

/** One order's move from `expectedVersion` to `next`, with the events that describe it. */
interface TransitionRequest {
  expectedVersion: number;
  next: Order;
  events: readonly OrderEvent[];
}

/** Options of the Postgres order store. */
export interface PgOrderStoreOptions {
  knex: Knex;
  schema: string;
  /** Called after a transaction that wrote outbox rows committed (kicks the relay). */
  onOutboxCommitted?: () => void;
  /** Prepared-statement options for the hot statements (`Database.prepared`); none when omitted. */
  prepared?: Database["prepared"];
}

/** Creates the Postgres-backed OrderStore. */
export function createPgOrderStore(options: PgOrderStoreOptions): OrderStore {
  const { knex, schema } = options;
  const t = (name: string) => `${schema}.${name}`;
  const kick = () => options.onOutboxCommitted?.();
  const prepared = options.prepared ?? (() => ({}));

  // Every write is ONE statement (data-modifying CTEs), sent outside any explicit transaction: a statement is atomic
  // on its own, so the order rows, their events, the key completions and the outbox rows commit together, in one
  // round trip. That matters twice: each round trip costs a scheduling slice of this busy process, and a portfolio's
  // seq counter row, whose lock serialises every writer of that portfolio, is held only for the statement and its
  // commit. Writes that arrive while one is running share the next statement (platform/batcher.ts).
  //
  // The later CTEs read the first one's RETURNING, so they write nothing for an order whose insert (or version check)
  // did not apply. The counter upserts lock the portfolios' rows until commit, in portfolio order: seqs are
  // contiguous and in commit order. The outbox insert is the platform's `enqueue` statement (same columns, ids in
  // message order) inlined here, because a second statement would need a transaction around both; each message
  // carries the trace context of the request (or of the consumed message) to its consumer.
  const eventColumns = `portfolio_id, seq, order_id, order_version, from_status, to_status, reason, fill_id,
    fill_quantity, fill_price, filled_quantity_after, filled_amount_after, occurred_at`;

  function eventBindings(events: readonly OrderEvent[]): unknown[] {
    return [
      events.map((e) => e.portfolioId),
      events.map((e) => e.orderId),
      events.map((e) => e.orderVersion),
      events.map((e) => e.fromStatus),
      events.map((e) => e.toStatus),
      events.map((e) => e.reason),
      events.map((e) => e.fill?.fillId ?? null),
      events.map((e) => e.fill?.quantity.toFixed() ?? null),
      events.map((e) => e.fill?.price.toFixed() ?? null),
      events.map((e) => e.filledQuantityAfter.toFixed()),
      events.map((e) => e.filledAmountAfter.toFixed()),
      events.map((e) => e.occurredAt.toISOString()),
    ];
  }

  /**
   * The CTEs both writes end with: the events of the orders in `applied` (a CTE of the ids that were written) get
   * the next seqs of their portfolios, contiguous and in input order (counter rows taken in portfolio order), and
   * their outbox rows are inserted in message order. Bindings: `logAndOutboxBindings`.
   */
  const eventLogAndOutbox = (applied: string) => `ev as (
         select u.* from unnest(?::text[], ?::uuid[], ?::int[], ?::text[], ?::text[], ?::text[], ?::uuid[], ?::numeric[],
           ?::numeric[], ?::numeric[], ?::numeric[], ?::timestamptz[])
           with ordinality as u(portfolio_id, order_id, order_version, from_status, to_status, reason, fill_id,
             fill_quantity, fill_price, filled_quantity_after, filled_amount_after, occurred_at, n)
         where u.order_id in (select id from ${applied})
       ), seq as (
         insert into ?? as s (portfolio_id, last_seq)
         select portfolio_id, count(*) from ev group by portfolio_id order by portfolio_id
         on conflict (portfolio_id) do update set last_seq = s.last_seq + excluded.last_seq
         returning portfolio_id, last_seq
       ), numbered as (
         select ev.*, s.last_seq - count(*) over (partition by ev.portfolio_id)
           + row_number() over (partition by ev.portfolio_id order by ev.n) as seq
         from ev join seq s on s.portfolio_id = ev.portfolio_id
       ), events as (
         insert into ?? (${eventColumns})
         select portfolio_id, seq, order_id, order_version, from_status, to_status, reason, fill_id, fill_quantity,
           fill_price, filled_quantity_after, filled_amount_after, occurred_at
         from numbered
       ), outbox as (
         insert into ?? (message_id, routing_key, body, headers, schema_version)
         select m.message_id, m.routing_key, m.body, m.headers::jsonb, m.schema_version
         from unnest(?::uuid[], ?::text[], ?::text[], ?::text[], ?::text[], ?::int[])
           with ordinality as m(order_id, message_id, routing_key, body, headers, schema_version, n)
         where m.order_id in (select id from ${applied})
         order by m.n
       )`;

  function logAndOutboxBindings(events: readonly OrderEvent[], messages: readonly { orderId: string; message: OutgoingMessage }[]): unknown[] {
    const trace = injectTraceContext();
    return [
      ...eventBindings(events),
      t("portfolio_seqs"),
      t("order_events"),
      t(OUTBOX_TABLE),
      messages.map((m) => m.orderId),
      messages.map((m) => m.message.messageId),
      messages.map((m) => m.message.routingKey),
      messages.map((m) => m.message.body),
      messages.map((m) => JSON.stringify({ ...trace, ...m.message.headers })),
      messages.map((m) => m.message.schemaVersion),
    ];
  }

  // New orders go in batches like transitions: the submits that arrive while one batch commits are written by the
  // next, each order with its first event, its key's completion and its execute message, in one statement. An order
  // id that is already stored (an earlier attempt committed) writes nothing and is answered from the store.
  const creations = createBatcher<{ order: Order; event: OrderEvent }, Settled<boolean>>({
    maxBatch: 200,
    maxInFlight: 1,
    run: (batch) => writeEachKeyOnce(batch, (item) => item.order.id, writeOrders),
  });

  /** Writes new orders; true for each order this statement stored, false for one whose id was already stored. */
  async function writeOrders(items: readonly { order: Order; event: OrderEvent }[]): Promise<boolean[]> {
    const orders = items.map((item) => item.order);
    const column = <T>(value: (order: Order) => T) => orders.map(value);
    const result = await raw<{ rows: { id: string }[] }>(
      knex,
      `with input as (
         select * from unnest(?::uuid[], ?::text[], ?::text[], ?::text[], ?::text[], ?::text[], ?::text[], ?::numeric[],
           ?::numeric[], ?::numeric[], ?::numeric[], ?::text[], ?::int[], ?::numeric[], ?::numeric[], ?::bool[],
           ?::numeric[], ?::numeric[], ?::text[], ?::text[], ?::text[], ?::numeric[], ?::timestamptz[], ?::text[],
           ?::text[], ?::timestamptz[], ?::timestamptz[], ?::timestamptz[])
           with ordinality as i(id, portfolio_id, symbol, security_id, side, type, time_in_force, quantity, notional,
             limit_price, stop_price, status, version, filled_quantity, filled_amount, stop_triggered,
             market_price_at_submission, lot_size, currency, reservation_id, reservation_asset, reserved_amount,
             expires_at, idempotency_key, last_reason, created_at, updated_at, done_at, n)
       ), created as (
         insert into ?? (id, portfolio_id, symbol, security_id, side, type, time_in_force, quantity, notional,
           limit_price, stop_price, status, version, filled_quantity, filled_amount, stop_triggered,
           market_price_at_submission, lot_size, currency, reservation_id, reservation_asset, reserved_amount,
           expires_at, idempotency_key, last_reason, created_at, updated_at, done_at)
         select id, portfolio_id, symbol, security_id, side, type, time_in_force, quantity, notional,
           limit_price, stop_price, status, version, filled_quantity, filled_amount, stop_triggered,
           market_price_at_submission, lot_size, currency, reservation_id, reservation_asset, reserved_amount,
           expires_at, idempotency_key, last_reason, created_at, updated_at, done_at
         from input order by n
         on conflict (id) do nothing
         returning id, portfolio_id, idempotency_key
       ), completed as (
         update ?? k set completed_at = now() from created c
         where k.portfolio_id = c.portfolio_id and k.idempotency_key = c.idempotency_key and k.order_id = c.id
       ), ${eventLogAndOutbox("created")}
       select id::text from created`,
      [
        column((o) => o.id),
        column((o) => o.portfolioId),
        column((o) => o.symbol),
        column((o) => o.securityId),
        column((o) => o.side),
        column((o) => o.type),
        column((o) => o.timeInForce),
        column((o) => o.quantity?.toFixed() ?? null),
        column((o) => o.notional?.toFixed() ?? null),
        column((o) => o.limitPrice?.toFixed() ?? null),
        column((o) => o.stopPrice?.toFixed() ?? null),
        column((o) => o.status),
        column((o) => o.version),
        column((o) => o.filledQuantity.toFixed()),
        column((o) => o.filledAmount.toFixed()),
        column((o) => o.stopTriggered),
        column((o) => o.marketPriceAtSubmission.toFixed()),
        column((o) => o.lotSize.toFixed()),
        column((o) => o.currency),
        column((o) => o.reservation.id),
        column((o) => o.reservation.asset),
        column((o) => o.reservation.amount.toFixed()),
        column((o) => o.expiresAt?.toISOString() ?? null),
        column((o) => o.idempotencyKey),
        column((o) => o.lastReason),
        column((o) => o.createdAt.toISOString()),
        column((o) => o.updatedAt.toISOString()),
        column((o) => o.doneAt?.toISOString() ?? null),
        t("orders"),
        t("idempotency_keys"),
        ...logAndOutboxBindings(
          items.map((item) => item.event),
          orders.map((order) => ({ orderId: order.id, message: executeMessage(order) })),
        ),
      ],
      prepared("create_orders"),
    );
    const stored = new Set(result.rows.map((row) => row.id));
    if (stored.size > 0) kick();
    return orders.map((order) => stored.has(order.id.toLowerCase()));
  }

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

  async function writeTransitions(requests: readonly TransitionRequest[]): Promise<(OrderEvent[] | null)[]> {
    const events = requests.flatMap((r) => r.events);
    const messages = requests.flatMap((r) => transitionMessages(r.next, r.events).map((message) => ({ orderId: r.next.id, message })));
    const result = await raw<{ rows: { order_id: string; seq: string }[] }>(
      knex,
      `with input as (
         select * from unnest(?::uuid[], ?::int[], ?::text[], ?::int[], ?::numeric[], ?::numeric[], ?::bool[], ?::text[],
           ?::timestamptz[], ?::timestamptz[])
           as i(id, expected_version, status, version, filled_quantity, filled_amount, stop_triggered, last_reason,
             updated_at, done_at)
       ), moved as (
         update ?? o set status = i.status, version = i.version, filled_quantity = i.filled_quantity,
           filled_amount = i.filled_amount, stop_triggered = i.stop_triggered, last_reason = i.last_reason,
           updated_at = i.updated_at, done_at = i.done_at
         from input i where o.id = i.id and o.version = i.expected_version
         returning o.id
       ), ${eventLogAndOutbox("moved")}
       select order_id::text, seq::text from numbered order by n`,
      [
        requests.map((r) => r.next.id),
        requests.map((r) => r.expectedVersion),
        requests.map((r) => r.next.status),
        requests.map((r) => r.next.version),
        requests.map((r) => r.next.filledQuantity.toFixed()),
        requests.map((r) => r.next.filledAmount.toFixed()),
        requests.map((r) => r.next.stopTriggered),
        requests.map((r) => r.next.lastReason),
        requests.map((r) => r.next.updatedAt.toISOString()),
        requests.map((r) => r.next.doneAt?.toISOString() ?? null),
        t("orders"),
        ...logAndOutboxBindings(events, messages),
      ],
      prepared("transition_orders"),
    );
    const seqs = new Map<string, number[]>();
    for (const row of result.rows) {
      const list = seqs.get(row.order_id) ?? [];
      list.push(Number(row.seq));
      seqs.set(row.order_id, list);
    }
    if (seqs.size > 0) kick();
    return requests.map((r) => {
      const written = seqs.get(r.next.id);
      return written === undefined ? null : r.events.map((event, i) => ({ ...event, seq: written[i] }));
    });
  }

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

interface OrderRow {
  id: string;
  portfolio_id: string;
  symbol: string;
  security_id: string;
  side: Order["side"];
  type: Order["type"];
  time_in_force: Order["timeInForce"];
  quantity: string | null;
  notional: string | null;
  limit_price: string | null;
  stop_price: string | null;
  status: OrderStatus;
  version: number;
  filled_quantity: string;
  filled_amount: string;
  stop_triggered: boolean;
  market_price_at_submission: string;
  lot_size: string;
  currency: string;
  reservation_id: string;
  reservation_asset: "CASH" | "SECURITY";
  reserved_amount: string;
  expires_at: Date | null;
  idempotency_key: string;
  last_reason: OrderReason;
  created_at: Date;
  updated_at: Date;
  done_at: Date | null;
}

interface EventRow {
  seq: string;
  order_version: number;
  from_status: OrderStatus | null;
  to_status: OrderStatus;
  reason: OrderReason;
  fill_id: string | null;
  fill_quantity: string | null;
  fill_price: string | null;
  filled_quantity_after: string;
  filled_amount_after: string;
  occurred_at: Date;
}

const dec = (value: string | null): Decimal | null => (value === null ? null : new Decimal(value));

function orderFromRow(row: OrderRow): Order {
  return {
    id: row.id,
    portfolioId: row.portfolio_id,
    symbol: row.symbol,
    securityId: row.security_id,
    side: row.side,
    type: row.type,
    timeInForce: row.time_in_force,
    quantity: dec(row.quantity),
    notional: dec(row.notional),
    limitPrice: dec(row.limit_price),
    stopPrice: dec(row.stop_price),
    status: row.status,
    version: row.version,
    filledQuantity: new Decimal(row.filled_quantity),
    filledAmount: new Decimal(row.filled_amount),
    stopTriggered: row.stop_triggered,
    marketPriceAtSubmission: new Decimal(row.market_price_at_submission),
    lotSize: new Decimal(row.lot_size),
    currency: row.currency,
    reservation: { id: row.reservation_id, asset: row.reservation_asset, amount: new Decimal(row.reserved_amount) },
    expiresAt: row.expires_at,
    idempotencyKey: row.idempotency_key,
    lastReason: row.last_reason,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    doneAt: row.done_at,
  };
}

function eventWithOrderFromRow(row: OrderRow & EventRow): EventWithOrder {
  const current = orderFromRow(row);
  const filledQuantity = new Decimal(row.filled_quantity_after);
  const filledAmount = new Decimal(row.filled_amount_after);
  // The order as it stood right after this event: static fields from the row, progress from the event.
  const order: Order = {
    ...current,
    status: row.to_status,
    version: row.order_version,
    filledQuantity,
    filledAmount,
    lastReason: row.reason,
    updatedAt: row.occurred_at,
    doneAt: isTerminal(row.to_status) ? row.occurred_at : null,
  };
  const fillQuantity = dec(row.fill_quantity);
  const fillPrice = dec(row.fill_price);
  const event: OrderEvent = {
    seq: Number(row.seq),
    orderId: row.id,
    portfolioId: row.portfolio_id,
    orderVersion: row.order_version,
    fromStatus: row.from_status,
    toStatus: row.to_status,
    reason: row.reason,
    fill:
      fillQuantity !== null && fillPrice !== null
        ? {
            fillId: row.fill_id ?? fillIdOf(row.id, row.order_version),
            orderId: row.id,
            portfolioId: row.portfolio_id,
            symbol: row.symbol,
            securityId: row.security_id,
            side: row.side,
            quantity: fillQuantity,
            price: fillPrice,
            amount: fillQuantity.times(fillPrice),
            currency: row.currency,
            reservationId: row.id,
            executedAt: row.occurred_at,
          }
        : null,
    filledQuantityAfter: filledQuantity,
    filledAmountAfter: filledAmount,
    occurredAt: row.occurred_at,
  };
  return { event, order };
}

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

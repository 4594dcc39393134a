// The order path's writes in Postgres: new orders and transitions, each as ONE statement for many orders at once
// (the order store gathers the calls that arrive while one statement runs, see order-store.ts).
//
// A statement is atomic on its own, so it is sent outside any explicit transaction: the order rows, their events, the
// key completions and the outbox rows commit together, in one round trip. That matters twice: each round trip costs
// a scheduling slice of the busy node process and a commit in Postgres, and a portfolio's seq counter row, whose lock
// serialises every writer of that portfolio, is held only for the statement and its commit.
//
// The later CTEs read the first one's RETURNING, so they write nothing for an order whose insert (or version check)
// did not apply. The counter upserts lock the portfolios' rows until commit, in portfolio order: seqs are contiguous
// and in commit order, and two statements cannot deadlock on them. The outbox insert is the platform's `enqueue`
// statement (same columns, ids in message order) inlined here, because a second statement would need a transaction
// around both; each message carries the trace context of the request (or of the consumed message) to its consumer.
// With a relay to hand them to, the rows are inserted leased to this writer, and their messages are handed to the
// relay right after the commit (platform/outbox.ts, "Hand-off"): no claim statement, no relay round trip.
// An order may appear only once per statement (the callers make sure of it: platform/batcher.ts, writeEachKeyOnce).
import type { Knex } from "knex";
import type { Database } from "../../platform/database";
import type { OutgoingMessage } from "../../platform/messaging";
import { LEASED_UNTIL_SQL, OUTBOX_TABLE, type OutboxRelay } from "../../platform/outbox";
import { injectTraceContext } from "../../platform/telemetry";
import type { Order, OrderEvent } from "../domain/order";
import { executeMessage, transitionMessages } from "./order-messages";

/** An outbox message and the order whose write it belongs to. */
interface OrderMessage {
  orderId: string;
  message: OutgoingMessage;
}

/** One order's move from `expectedVersion` to `next`, with the events that describe it. */
export interface TransitionRequest {
  expectedVersion: number;
  next: Order;
  events: readonly OrderEvent[];
}

/** A new order with its first event. */
export interface NewOrder {
  order: Order;
  event: OrderEvent;
}

export interface OrderWrites {
  /** Writes new orders; true for each order this statement stored, false for one whose id was already stored. */
  writeOrders(items: readonly NewOrder[]): Promise<boolean[]>;
  /** Moves orders from their expected versions; per request the stored events with their seqs, or null if it lost. */
  writeTransitions(requests: readonly TransitionRequest[]): Promise<(OrderEvent[] | null)[]>;
}

export function createOrderWrites(options: {
  knex: Knex;
  schema: string;
  prepared: Database["prepared"];
  /** Handed the messages of a statement's outbox rows right after it committed; without it they wait for polling. */
  relay?: Pick<OutboxRelay, "handOff" | "handOffLeaseMs">;
  /** Called after a statement that wrote orders or events committed (wakes the event-log watchers). */
  onCommitted: () => void;
}): OrderWrites {
  const { knex, prepared, relay, onCommitted } = options;
  const leaseMs = relay?.handOffLeaseMs ?? 0;
  const t = (name: string) => `${options.schema}.${name}`;
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
         insert into ?? (message_id, routing_key, body, headers, schema_version, next_attempt_at)
         select m.message_id, m.routing_key, m.body, m.headers::jsonb, m.schema_version, ${LEASED_UNTIL_SQL}
         from unnest(?::uuid[], ?::text[], ?::text[], ?::text[], ?::text[], ?::int[])
           with ordinality as m(order_id, message_id, routing_key, body, headers, schema_version, n)
         where m.order_id in (select id from ${applied})
         order by m.n
       )`;

  /** The messages as they are stored and published: each with the trace context of the request that wrote it. */
  function traced(messages: readonly { orderId: string; message: OutgoingMessage }[]): OrderMessage[] {
    const trace = injectTraceContext();
    return messages.map(({ orderId, message }) => ({ orderId, message: { ...message, headers: { ...trace, ...message.headers } } }));
  }

  function logAndOutboxBindings(events: readonly OrderEvent[], messages: readonly OrderMessage[]): unknown[] {
    return [
      ...eventBindings(events),
      t("portfolio_seqs"),
      t("order_events"),
      t(OUTBOX_TABLE),
      leaseMs,
      messages.map((m) => m.orderId),
      messages.map((m) => m.message.messageId),
      messages.map((m) => m.message.routingKey),
      messages.map((m) => m.message.body),
      messages.map((m) => JSON.stringify(m.message.headers)),
      messages.map((m) => m.message.schemaVersion),
    ];
  }

  /**
   * After a statement committed: hands the messages of the orders it wrote to the relay, in their statement order,
   * and tells the watchers when it wrote anything (a transition without messages, e.g. to NEW, still adds an event).
   */
  function committed(written: ReadonlySet<string>, messages: readonly OrderMessage[]): void {
    if (written.size === 0) return;
    const handed = messages.filter((m) => written.has(m.orderId.toLowerCase())).map((m) => m.message);
    if (handed.length > 0) relay?.handOff(handed);
    onCommitted();
  }

  async function writeOrders(items: readonly { order: Order; event: OrderEvent }[]): Promise<boolean[]> {
    const orders = items.map((item) => item.order);
    const messages = traced(orders.map((order) => ({ orderId: order.id, message: executeMessage(order) })));
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
          messages,
        ),
      ],
      prepared("create_orders"),
    );
    const stored = new Set(result.rows.map((row) => row.id));
    committed(stored, messages);
    return orders.map((order) => stored.has(order.id.toLowerCase()));
  }

  async function writeTransitions(requests: readonly TransitionRequest[]): Promise<(OrderEvent[] | null)[]> {
    const events = requests.flatMap((r) => r.events);
    const messages = traced(requests.flatMap((r) => transitionMessages(r.next, r.events).map((message) => ({ orderId: r.next.id, message }))));
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
    committed(new Set(seqs.keys()), messages);
    return requests.map((r) => {
      const written = seqs.get(r.next.id);
      return written === undefined ? null : r.events.map((event, i) => ({ ...event, seq: written[i] }));
    });
  }

  return { writeOrders, writeTransitions };
}

/** knex.raw with loosely typed bindings: arrays of nullable values for unnest() are fine for pg but not for knex's
 * binding type. */
function raw<T = unknown>(db: Knex, sql: string, bindings: readonly unknown[], options: { name?: string } = {}): Promise<T> {
  return db.raw(sql, bindings as Knex.RawBinding[]).options(options) as unknown as Promise<T>;
}

import Decimal from "decimal.js";
import { OrderError } from "../../../services/orders/domain/order-error";
import type { Order, OrderEvent } from "../../../services/orders/domain/order";
import type { MarketSnapshot } from "../../../services/orders/domain/market-snapshot";
import type {
  AccountingPort,
  EventWithOrder,
  IdempotencyKeys,
  KeyClaim,
  MarketDataPort,
  OrderQuery,
  OrderStore,
  ReserveRequest,
} from "../../../services/orders/domain/ports";

/** Test doubles of the domain ports: plain maps with the same atomicity the Postgres adapters give. */
export class InMemoryOrders implements OrderStore, IdempotencyKeys {
  readonly orders = new Map<string, Order>();
  readonly events: OrderEvent[] = [];
  readonly keys = new Map<
    string,
    { fingerprint: string; orderId: string; completed: boolean; leaseExpired?: boolean; heldAmount?: Decimal }
  >();
  private readonly seqs = new Map<string, number>();

  async claim(portfolioId: string, key: string, fingerprint: string, proposedOrderId: string, holdIfNew: Decimal | null): Promise<KeyClaim> {
    await Promise.resolve();
    const id = `${portfolioId}/${key}`;
    const row = this.keys.get(id);
    if (!row) {
      this.keys.set(id, { fingerprint, orderId: proposedOrderId, completed: false, heldAmount: holdIfNew ?? undefined });
      return { kind: "claimed", orderId: proposedOrderId, heldAmount: holdIfNew, fresh: true };
    }
    if (row.completed) return { kind: "completed", fingerprint: row.fingerprint, orderId: row.orderId };
    if (row.leaseExpired && row.fingerprint === fingerprint) {
      row.leaseExpired = false;
      return { kind: "claimed", orderId: row.orderId, heldAmount: row.heldAmount ?? null, fresh: false };
    }
    return { kind: "in_flight", fingerprint: row.fingerprint };
  }

  /** Lets every unfinished claim be taken over, as after its lease ran out. */
  expireLeases(): void {
    for (const row of this.keys.values()) if (!row.completed) row.leaseExpired = true;
  }

  async recordHold(portfolioId: string, key: string, orderId: string, amount: Decimal): Promise<void> {
    const row = this.keys.get(`${portfolioId}/${key}`);
    if (row && row.orderId === orderId) row.heldAmount = amount;
  }

  async forget(portfolioId: string, key: string, orderId: string): Promise<void> {
    const id = `${portfolioId}/${key}`;
    if (this.keys.get(id)?.orderId === orderId && !this.keys.get(id)?.completed) this.keys.delete(id);
  }

  async create(order: Order, event: OrderEvent): Promise<Order> {
    await Promise.resolve();
    const existing = this.orders.get(order.id);
    if (existing) return existing;
    this.orders.set(order.id, order);
    this.append([event]);
    const key = this.keys.get(`${order.portfolioId}/${order.idempotencyKey}`);
    if (key) key.completed = true;
    return order;
  }

  async find(orderId: string): Promise<Order | null> {
    await Promise.resolve();
    return this.orders.get(orderId) ?? null;
  }

  async transition(expectedVersion: number, next: Order, events: readonly OrderEvent[]): Promise<OrderEvent[] | null> {
    await Promise.resolve();
    if (this.orders.get(next.id)?.version !== expectedVersion) return null;
    this.orders.set(next.id, next);
    return this.append(events);
  }

  async markStopTriggered(orderId: string, expectedVersion: number): Promise<void> {
    const order = this.orders.get(orderId);
    if (order && order.version === expectedVersion) this.orders.set(orderId, { ...order, stopTriggered: true });
  }

  async list(query: OrderQuery): Promise<{ orders: Order[]; nextPageToken: string | null }> {
    const orders = [...this.orders.values()].filter((o) => query.portfolioIds?.includes(o.portfolioId) ?? true);
    return { orders: orders.slice(0, query.pageSize), nextPageToken: null };
  }

  async eventsSince(portfolioId: string, sinceSeq: number, limit: number): Promise<EventWithOrder[]> {
    return this.events
      .filter((e) => e.portfolioId === portfolioId && e.seq > sinceSeq)
      .slice(0, limit)
      .map((event) => ({ event, order: this.orders.get(event.orderId) as Order }));
  }

  async latestSeq(portfolioId: string): Promise<number> {
    return this.seqs.get(portfolioId) ?? 0;
  }

  private append(events: readonly OrderEvent[]): OrderEvent[] {
    return events.map((event) => {
      const seq = (this.seqs.get(event.portfolioId) ?? 0) + 1;
      this.seqs.set(event.portfolioId, seq);
      const stored = { ...event, seq };
      this.events.push(stored);
      return stored;
    });
  }
}

/** Accounting holds: free cash per portfolio and free quantity per (portfolio, symbol). */
export class InMemoryAccounting implements AccountingPort {
  readonly holds = new Map<string, ReserveRequest>();
  readonly released: string[] = [];
  reserveCalls = 0;
  /** When set, the next reserve places the hold but answers as if accounting timed out. */
  loseNextAnswer = false;

  constructor(
    private readonly cash: Map<string, Decimal>,
    private readonly positions: Map<string, Decimal> = new Map(),
  ) {}

  async reserve(request: ReserveRequest): Promise<{ reservationId: string }> {
    this.reserveCalls++;
    await Promise.resolve();
    const reservationId = `res-${request.orderId}`;
    const existing = this.holds.get(request.orderId);
    if (existing !== undefined) {
      if (!existing.amount.eq(request.amount)) throw new OrderError("DEPENDENCY_UNAVAILABLE", "RESERVATION_EXISTS");
      return { reservationId };
    }
    if (request.asset === "CASH") {
      const free = this.cash.get(request.portfolioId) ?? new Decimal(0);
      if (free.lt(request.amount)) throw new OrderError("INSUFFICIENT_FUNDS", "not enough cash");
      this.cash.set(request.portfolioId, free.minus(request.amount));
    } else {
      const id = `${request.portfolioId}/${request.symbol}`;
      const free = this.positions.get(id) ?? new Decimal(0);
      if (free.lt(request.amount)) throw new OrderError("INSUFFICIENT_POSITION", "not enough quantity");
      this.positions.set(id, free.minus(request.amount));
    }
    this.holds.set(request.orderId, request);
    if (this.loseNextAnswer) {
      this.loseNextAnswer = false;
      throw new OrderError("DEPENDENCY_UNAVAILABLE", "accounting is not available right now");
    }
    return { reservationId };
  }

  async release(reservationId: string): Promise<void> {
    this.released.push(reservationId);
  }
}

/** Market data that answers with whatever snapshot the test set last. */
export class FixedMarketData implements MarketDataPort {
  constructor(public current: MarketSnapshot | null) {}

  async snapshot(): Promise<MarketSnapshot | null> {
    await Promise.resolve();
    return this.current;
  }
}

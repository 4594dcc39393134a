import type Decimal from "decimal.js";
import type { Order, OrderEvent, OrderStatus } from "./order";
import type { MarketSnapshot } from "./market-snapshot";

/** Who is calling, from the verified token. */
export interface Caller {
  subject: string;
  roles: readonly string[];
  /** Portfolio ids the caller may act on. */
  portfolios: readonly string[];
  /** True for admins, services and `portfolios: ["*"]` tokens. */
  allPortfolios: boolean;
}

/** Instrument, quote and session lookups (market data service). */
export interface MarketDataPort {
  /** Instrument and latest quote, by ticker or security id; null when market data does not know the instrument.
   * Throws OrderError DEPENDENCY_UNAVAILABLE when market data cannot be reached. */
  snapshot(instrument: { symbol: string } | { securityId: string }): Promise<MarketSnapshot | null>;
}

/** What to hold: cash in `currency`, or `amount` units of the security. Keyed by the order id. */
export interface ReserveRequest {
  orderId: string;
  portfolioId: string;
  asset: "CASH" | "SECURITY";
  symbol: string;
  securityId: string;
  currency: string;
  amount: Decimal;
}

/** Holds in accounting. Both calls are idempotent (reserve on the order id, release on the reservation id). */
export interface AccountingPort {
  /** Places the hold and returns accounting's id for it; throws OrderError INSUFFICIENT_FUNDS /
   * INSUFFICIENT_POSITION when it does not fit. */
  reserve(request: ReserveRequest): Promise<{ reservationId: string }>;
  /** Releases whatever is left of the hold (no-op when already released or fully used). */
  release(reservationId: string, portfolioId: string): Promise<void>;
}

/** Outcome of claiming an idempotency key. */
export type KeyClaim =
  /**
   * `fresh`: the key was new (its row holds `holdIfNew`); otherwise an expired claim was taken over. `heldAmount`:
   * the hold recorded under this claim (a takeover: what the earlier attempt asked accounting for, null if it never
   * got that far).
   */
  | { kind: "claimed"; orderId: string; heldAmount: Decimal | null; fresh: boolean }
  | { kind: "completed"; fingerprint: string; orderId: string }
  | { kind: "in_flight"; fingerprint: string };

/** Idempotency keys of SubmitOrder, scoped to (portfolio, key). */
export interface IdempotencyKeys {
  /**
   * Claims the key with a lease, atomically (INSERT … ON CONFLICT): the first caller gets "claimed" and the order id
   * to use (reused after an expired lease, so a retry re-reserves under the same id); later callers see the stored
   * fingerprint with the order id ("completed") or without ("in_flight"). A new claim records `holdIfNew` as its
   * hold in the same statement (what recordHold would record), saving a round trip on every submit.
   */
  claim(portfolioId: string, key: string, fingerprint: string, proposedOrderId: string, holdIfNew: Decimal | null): Promise<KeyClaim>;
  /**
   * Records the hold about to be requested, before the request: if its answer is lost, the retry that takes the
   * claim over asks for exactly the same hold (accounting refuses the same order id with another amount).
   */
  recordHold(portfolioId: string, key: string, orderId: string, amount: Decimal): Promise<void>;
  /** Forgets a claim whose submission failed before anything was reserved, so a corrected retry may use the key. */
  forget(portfolioId: string, key: string, orderId: string): Promise<void>;
}

/** Filter of ListOrders. */
export interface OrderQuery {
  /** null = every portfolio (callers allowed to see all). */
  portfolioIds: readonly string[] | null;
  statuses: readonly OrderStatus[];
  symbol: string | null;
  side: "BUY" | "SELL" | null;
  createdFrom: Date | null;
  createdTo: Date | null;
  /** Opaque cursor from the previous page, or null. */
  pageToken: string | null;
  pageSize: number;
}

/** Orders, their event log and the outbox. Each write is one Postgres transaction. */
export interface OrderStore {
  /** Writes the order, its first event, its outbox rows and completes the idempotency key; returns the stored order
   * (the existing one when this order id was already written by an earlier attempt). */
  create(order: Order, event: OrderEvent): Promise<Order>;
  find(orderId: string): Promise<Order | null>;
  /**
   * Writes the new state, the events (assigning per-portfolio seqs) and their outbox rows, but only if the stored
   * version is still `expectedVersion`; returns null when someone else moved the order first.
   */
  transition(expectedVersion: number, next: Order, events: readonly OrderEvent[]): Promise<OrderEvent[] | null>;
  /** Remembers that a STOP_LIMIT order's trigger was hit (no event: the status does not change). */
  markStopTriggered(orderId: string, expectedVersion: number): Promise<void>;
  list(query: OrderQuery): Promise<{ orders: Order[]; nextPageToken: string | null }>;
  /** Events of a portfolio with seq > sinceSeq, ascending, at most `limit`, each with the order as it was right
   * after the event. */
  eventsSince(portfolioId: string, sinceSeq: number, limit: number): Promise<EventWithOrder[]>;
  /** Latest seq of a portfolio (0 without events). */
  latestSeq(portfolioId: string): Promise<number>;
}

/** One entry of the event log with the order as it stood right after it. */
export interface EventWithOrder {
  event: OrderEvent;
  order: Order;
}

/** Time and ids, injected so tests are deterministic. */
export interface Clock {
  now(): Date;
}

// The three messaging ports of tradeplane. Each has two implementations that pass one shared contract test suite:
// the real one (Redis, RabbitMQ) used in production and CI, and an in-process one so `npm start` and `npm test`
// work on a bare machine. Everything crosses these ports as strings or Buffers; callers own the encoding.

/** A key-value cache with per-entry time to live (Redis or an in-process LRU). */
export interface Cache {
  get(key: string): Promise<string | undefined>;
  /** Reads many keys in one round trip; the result is aligned with `keys`. */
  getMany(keys: readonly string[]): Promise<(string | undefined)[]>;
  set(key: string, value: string, ttlMs: number): Promise<void>;
  /** Writes many entries in one round trip, each with the same time to live. */
  setMany(entries: readonly { key: string; value: string }[], ttlMs: number): Promise<void>;
  delete(keys: string | readonly string[]): Promise<void>;
  /** Resolves when the backend answers; rejects when it is unreachable (drives health). */
  probe(): Promise<void>;
  close(): Promise<void>;
}

/** One entry of an ordered stream: `id` is assigned by the bus and increases within a stream. */
export interface StreamEntry {
  id: string;
  payload: string;
}

/** Ordered, retained, fan-out streams (Redis Streams or in-process ring buffers). */
export interface StreamBus {
  /** Appends to `stream`, keeping at least the newest `retention` entries, and notifies live subscribers. */
  append(stream: string, payload: string): Promise<string>;
  /** Entries retained after `afterId` (exclusive; "0" for the oldest retained), oldest first, at most `limit`. */
  readAfter(stream: string, afterId: string, limit: number): Promise<StreamEntry[]>;
  /**
   * Delivers every entry appended to any of `streams` after the subscription became active, in append order per
   * stream, to `onEntry`. Resolves once the subscription is active. Entries from every process sharing the backend
   * are delivered.
   */
  subscribe(streams: readonly string[], onEntry: (stream: string, entry: StreamEntry) => void): Promise<Subscription>;
  probe(): Promise<void>;
  close(): Promise<void>;
}

export interface Subscription {
  /** Adds or removes streams of a running subscription without losing entries of the others. */
  update(add: readonly string[], remove: readonly string[]): Promise<void>;
  close(): Promise<void>;
}

/** A message to publish on the topic exchange `tradeplane.events`. */
export interface OutgoingMessage {
  /** Routing key, e.g. `orders.execute` or `fills.created`. */
  routingKey: string;
  /** Unique id of the message; consumers deduplicate on it. */
  messageId: string;
  /** Version of the body's schema, carried in the `schema-version` header. */
  schemaVersion: number;
  /** JSON body. */
  body: string;
  /** Extra headers, e.g. the W3C `traceparent` of the publishing span. */
  headers?: Record<string, string>;
}

/** A message handed to a consumer. */
export interface Delivery {
  messageId: string;
  routingKey: string;
  schemaVersion: number;
  body: string;
  headers: Record<string, string>;
  /** 1 on first delivery; counts redeliveries and delayed retries. */
  attempt: number;
}

/** How a consumer's queue is declared: a quorum queue bound to the topic exchange, with retries and a dead letter queue. */
export interface QueueSpec {
  /** Queue name, e.g. `orders.execute`; its dead letter queue is `<name>.dlq`. */
  name: string;
  /** Routing key patterns bound to the queue on `tradeplane.events`. */
  bindings: readonly string[];
  /** Unacknowledged deliveries a consumer may hold at once. */
  prefetch: number;
  /** Deliveries (first delivery, crash redeliveries and retries together) before a message is dead-lettered. */
  deliveryLimit: number;
  /** Wait before retry n (1-based) is `retryDelaysMs[min(n, len) - 1]`; the delays really wait. */
  retryDelaysMs: readonly number[];
}

/**
 * What a handler's outcome means: resolving acknowledges the message (after the handler's commit); throwing a
 * `PermanentMessageError` sends it straight to the dead letter queue; throwing anything else retries it after the
 * configured delay, and dead-letters it once `deliveryLimit` deliveries are used up.
 */
export type MessageHandler = (delivery: Delivery) => Promise<void>;

export class PermanentMessageError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "PermanentMessageError";
  }
}

export interface Consumer {
  /** Stops taking new deliveries and waits for the handlers in flight to finish. */
  close(): Promise<void>;
}

/** The message broker (RabbitMQ with publisher confirms, or an in-process broker with the same semantics). */
export interface Broker {
  /** Publishes and resolves only once the broker has confirmed the message; rejects after `timeoutMs`. */
  publish(message: OutgoingMessage, options?: { timeoutMs?: number }): Promise<void>;
  /** Declares the queue's topology (idempotently) and starts consuming it. */
  consume(queue: QueueSpec, handler: MessageHandler): Promise<Consumer>;
  probe(): Promise<void>;
  close(): Promise<void>;
}

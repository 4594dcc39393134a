// The embedded broker: RabbitMQ's semantics in one process, used when no AMQP_URL is configured. Queues bound to a
// topic "exchange", competing consumers with a prefetch, manual acks, redelivery of what a stopped consumer held,
// retries that really wait, and dead letter queues. It keeps nothing on disk: in the embedded deployment the outbox
// table is the durable queue, and anything in flight here is published again from it after a restart.
import {
  checkOutgoing,
  checkQueueSpec,
  deadLetterQueueName,
  deliveryLimitReason,
  failureOutcome,
  FAILURE_HEADERS,
  HEADER,
  isDeadLetterQueue,
  toDeadLetter,
  type AbortableConsumer,
  type DeadLetter,
  type DeadLetterAdmin,
} from "./broker-topology";
import type { Broker, Delivery, MessageHandler, OutgoingMessage, QueueSpec } from "./messaging";

/** The in-process broker: the Broker port plus topology declaration and dead letter administration. */
export interface MemoryBroker extends Broker, DeadLetterAdmin {
  consume(queue: QueueSpec, handler: MessageHandler): Promise<AbortableConsumer>;
  /** Declares a queue without consuming it, so messages published before its consumer starts are kept. */
  declare(queue: QueueSpec): Promise<void>;
}

interface StoredMessage {
  routingKey: string;
  messageId: string;
  schemaVersion: number;
  body: string;
  headers: Record<string, string>;
  /** Deliveries used by earlier copies of the message (a retry is a new copy). */
  previousAttempts: number;
  /** Times this copy came back to the queue unanswered, like RabbitMQ's x-delivery-count. */
  returns: number;
}

interface InFlight {
  message: StoredMessage;
  /** Set when the consumer was aborted: the message is back in the queue and the handler's answer is ignored. */
  abandoned: boolean;
  done: Promise<void>;
}

interface ConsumerState {
  spec: QueueSpec;
  handler: MessageHandler;
  inFlight: Set<InFlight>;
}

interface MemoryQueue {
  name: string;
  bindings: Set<string>;
  ready: StoredMessage[];
  consumers: ConsumerState[];
  /** Round-robin position among the consumers, so competing consumers share the work. */
  turn: number;
}

/** Creates the in-process broker. */
export function createMemoryBroker(): MemoryBroker {
  const queues = new Map<string, MemoryQueue>();
  const timers = new Set<NodeJS.Timeout>();
  const consumers = new Set<{ close(): Promise<void> }>();
  let closed = false;

  const ensureOpen = (): void => {
    if (closed) throw new Error("broker is closed");
  };

  const queueNamed = (name: string): MemoryQueue => {
    let queue = queues.get(name);
    if (queue === undefined) {
      queue = { name, bindings: new Set(), ready: [], consumers: [], turn: 0 };
      queues.set(name, queue);
    }
    return queue;
  };

  const later = (delayMs: number, run: () => void): void => {
    const timer = setTimeout(() => {
      timers.delete(timer);
      if (!closed) run();
    }, delayMs);
    timers.add(timer);
  };

  const schedulePump = (queue: MemoryQueue): void => {
    // Deliveries start on a later turn of the event loop, never inside the publisher's or handler's call.
    setImmediate(() => pump(queue));
  };

  const declare = (spec: QueueSpec): MemoryQueue => {
    checkQueueSpec(spec);
    const queue = queueNamed(spec.name);
    // Bindings accumulate like RabbitMQ's: declaring again with other patterns adds them.
    for (const pattern of spec.bindings) queue.bindings.add(pattern);
    if (!isDeadLetterQueue(spec.name)) queueNamed(deadLetterQueueName(spec.name));
    return queue;
  };

  const deadLetter = (
    queue: MemoryQueue,
    message: StoredMessage,
    failure: { kind: string; reason: string; attempts: number },
  ): void => {
    const dlq = queueNamed(deadLetterQueueName(queue.name));
    dlq.ready.push({
      ...message,
      headers: {
        ...message.headers,
        [HEADER.failureReason]: failure.reason,
        [HEADER.failureKind]: failure.kind,
        [HEADER.failedAttempts]: String(failure.attempts),
        [HEADER.deadLetteredAt]: new Date().toISOString(),
        [HEADER.sourceQueue]: queue.name,
      },
      previousAttempts: 0,
      returns: 0,
    });
    schedulePump(dlq);
  };

  const settleFailure = (queue: MemoryQueue, consumer: ConsumerState, message: StoredMessage, attempt: number, error: unknown): void => {
    if (isDeadLetterQueue(queue.name)) {
      // A dead letter is never dead-lettered again: it goes back to the head of its queue after the first delay.
      later(consumer.spec.retryDelaysMs[0], () => {
        queue.ready.unshift({ ...message, returns: message.returns + 1 });
        pump(queue);
      });
      return;
    }
    const outcome = failureOutcome(consumer.spec, attempt, error);
    if (outcome.action === "dead-letter") {
      deadLetter(queue, message, { kind: outcome.kind, reason: outcome.reason, attempts: attempt });
      return;
    }
    later(outcome.delayMs, () => {
      queue.ready.push({ ...message, previousAttempts: attempt, returns: 0 });
      pump(queue);
    });
  };

  const dispatch = (queue: MemoryQueue, consumer: ConsumerState, message: StoredMessage): void => {
    const attempt = message.previousAttempts + message.returns + 1;
    if (!isDeadLetterQueue(queue.name) && attempt > consumer.spec.deliveryLimit) {
      deadLetter(queue, message, { kind: "delivery-limit", reason: deliveryLimitReason(attempt - 1), attempts: attempt - 1 });
      return;
    }
    const delivery: Delivery = {
      messageId: message.messageId,
      routingKey: message.routingKey,
      schemaVersion: message.schemaVersion,
      body: message.body,
      headers: { ...message.headers },
      attempt,
    };
    const entry: InFlight = { message, abandoned: false, done: Promise.resolve() };
    consumer.inFlight.add(entry);
    entry.done = (async () => {
      let failure: { error: unknown } | undefined;
      try {
        await consumer.handler(delivery);
      } catch (error) {
        failure = { error };
      }
      if (entry.abandoned || closed) return;
      consumer.inFlight.delete(entry);
      if (failure !== undefined) settleFailure(queue, consumer, message, attempt, failure.error);
      pump(queue);
    })();
  };

  const pump = (queue: MemoryQueue): void => {
    while (queue.ready.length > 0 && !closed) {
      const consumer = nextWithCapacity(queue);
      if (consumer === undefined) return;
      dispatch(queue, consumer, queue.ready.shift() as StoredMessage);
    }
  };

  const detach = (queue: MemoryQueue, consumer: ConsumerState): boolean => {
    const index = queue.consumers.indexOf(consumer);
    if (index < 0) return false;
    queue.consumers.splice(index, 1);
    return true;
  };

  const broker: MemoryBroker = {
    async publish(message: OutgoingMessage) {
      ensureOpen();
      checkOutgoing(message);
      for (const queue of queues.values()) {
        if (![...queue.bindings].some((pattern) => topicMatches(pattern, message.routingKey))) continue;
        queue.ready.push({
          routingKey: message.routingKey,
          messageId: message.messageId,
          schemaVersion: message.schemaVersion,
          body: message.body,
          headers: { ...message.headers },
          previousAttempts: 0,
          returns: 0,
        });
        schedulePump(queue);
      }
      // Like RabbitMQ, a message no queue is bound for is dropped; declare queues before publishing to them.
    },

    async declare(spec) {
      ensureOpen();
      declare(spec);
    },

    async consume(spec, handler) {
      ensureOpen();
      const queue = declare(spec);
      const state: ConsumerState = { spec, handler, inFlight: new Set() };
      queue.consumers.push(state);
      schedulePump(queue);
      const consumer: AbortableConsumer = {
        async close() {
          detach(queue, state);
          consumers.delete(consumer);
          await Promise.all([...state.inFlight].map((entry) => entry.done));
        },
        async abort() {
          detach(queue, state);
          consumers.delete(consumer);
          // What the stopped consumer held goes back to the head of the queue, counted as a return.
          const held = [...state.inFlight];
          state.inFlight.clear();
          for (const entry of held.reverse()) {
            entry.abandoned = true;
            queue.ready.unshift({ ...entry.message, returns: entry.message.returns + 1 });
          }
          schedulePump(queue);
        },
      };
      consumers.add(consumer);
      return consumer;
    },

    async readDeadLetters(queueName, limit) {
      ensureOpen();
      const dlq = queues.get(deadLetterQueueName(queueName));
      const letters: DeadLetter[] = [];
      for (const message of (dlq?.ready ?? []).slice(0, Math.max(0, limit))) {
        letters.push(
          toDeadLetter(queueName, {
            messageId: message.messageId,
            routingKey: message.routingKey,
            body: message.body,
            headers: { ...message.headers, [HEADER.schemaVersion]: message.schemaVersion },
          }),
        );
      }
      return letters;
    },

    async republishDeadLetter(queueName, messageId) {
      ensureOpen();
      const dlq = queues.get(deadLetterQueueName(queueName));
      const queue = queues.get(queueName);
      const index = dlq?.ready.findIndex((message) => message.messageId === messageId) ?? -1;
      if (dlq === undefined || queue === undefined || index < 0) return false;
      const [message] = dlq.ready.splice(index, 1);
      const headers = { ...message.headers };
      for (const name of FAILURE_HEADERS) delete headers[name];
      queue.ready.push({ ...message, headers, previousAttempts: 0, returns: 0 });
      schedulePump(queue);
      return true;
    },

    async probe() {
      ensureOpen();
    },

    async close() {
      if (closed) return;
      // Consumers finish what they hold first; then pending retries are dropped (the outbox still has them).
      await Promise.all([...consumers].map((consumer) => consumer.close()));
      closed = true;
      for (const timer of timers) clearTimeout(timer);
      timers.clear();
      queues.clear();
    },
  };
  return broker;
}

function nextWithCapacity(queue: MemoryQueue): ConsumerState | undefined {
  for (let i = 0; i < queue.consumers.length; i++) {
    const consumer = queue.consumers[(queue.turn + i) % queue.consumers.length];
    if (consumer.inFlight.size < consumer.spec.prefetch) {
      queue.turn = (queue.turn + i + 1) % queue.consumers.length;
      return consumer;
    }
  }
  return undefined;
}

/** AMQP topic matching: words split by dots, `*` matches exactly one word, `#` matches zero or more. */
export function topicMatches(pattern: string, routingKey: string): boolean {
  const words = routingKey.split(".");
  const parts = pattern.split(".");
  const match = (p: number, w: number): boolean => {
    if (p === parts.length) return w === words.length;
    if (parts[p] === "#") {
      for (let skip = w; skip <= words.length; skip++) if (match(p + 1, skip)) return true;
      return false;
    }
    if (w === words.length) return false;
    return (parts[p] === "*" || parts[p] === words[w]) && match(p + 1, w + 1);
  };
  return match(0, 0);
}

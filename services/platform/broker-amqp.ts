// The production broker on RabbitMQ (amqplib 2.x). Publishing goes through a confirm channel and resolves only on
// the broker's ack, or rejects after a timeout (a lost confirm must never hang the outbox: amqplib #530). Each
// consumer has its own confirm channel with a bounded prefetch and acks after its handler resolved; a failed
// delivery is re-published to a TTL retry queue (or its dead letter queue) and acked only once that copy is
// confirmed. amqplib's recovery reconnects the connection; channels, topology and consumers are rebuilt on each
// reconnect, and RabbitMQ redelivers whatever was unacked when the old connection died.
import {
  connect,
  type Channel,
  type ChannelModel,
  type ConfirmChannel,
  type ConsumeMessage,
  type Message,
  type Options,
  type RecoveringChannelModel,
} from "amqplib";
import {
  checkOutgoing,
  checkQueueSpec,
  DEAD_LETTER_EXCHANGE,
  deadLetterQueueName,
  deliveryLimitReason,
  EVENTS_EXCHANGE,
  failureOutcome,
  FAILURE_HEADERS,
  HEADER,
  isDeadLetterQueue,
  publicHeaders,
  queueDeclarations,
  retryQueueName,
  toDeadLetter,
  type AbortableConsumer,
  type DeadLetter,
  type DeadLetterAdmin,
} from "./broker-topology";
import type { Logger } from "./logger";
import type { Broker, Delivery, MessageHandler, OutgoingMessage, QueueSpec } from "./messaging";

export interface AmqpBrokerOptions {
  /** e.g. `amqp://guest:guest@127.0.0.1:5672`; a `heartbeat` query parameter is added when missing. */
  url: string;
  logger?: Logger;
  /** Default for `publish`'s `timeoutMs`, and the bound on re-publishing retries and dead letters. */
  publishTimeoutMs: number;
  /** Shown by `rabbitmqctl list_connections client_properties` and the management UI, e.g. `orders-worker`. */
  connectionName?: string;
  /** Seconds between AMQP heartbeats, so a dead peer is noticed in ~2 intervals (default 10). */
  heartbeatSeconds?: number;
  /** Attempts to connect at startup before giving up (default 3); once connected it reconnects for ever. */
  startupRetries?: number;
}

/** The RabbitMQ broker: the Broker port plus topology declaration and dead letter administration. */
export interface AmqpBroker extends Broker, DeadLetterAdmin {
  consume(queue: QueueSpec, handler: MessageHandler): Promise<AbortableConsumer>;
  /** Declares a queue's topology without consuming, so messages published before its consumer starts are kept. */
  declare(queue: QueueSpec): Promise<void>;
}

/** Dead letters examined at most by one `readDeadLetters` or `republishDeadLetter` call, to bound its work. */
const MAX_DEAD_LETTER_SCAN = 10_000;
/** Wait before rebuilding a consumer whose channel closed while the connection stayed up. */
const REATTACH_DELAY_MS = 1_000;

interface ManagedConsumer {
  /** Starts consuming on `model`, the first time; throws if the topology cannot be declared. */
  attach(model: ChannelModel): Promise<void>;
  /** Starts consuming again after a reconnect, retrying on its own until it works or the consumer stops. */
  resume(model: ChannelModel): void;
  close(): Promise<void>;
}

/** Connects to RabbitMQ (retrying a few times) and returns the broker; rejects if it cannot connect at startup. */
export async function createAmqpBroker(options: AmqpBrokerOptions): Promise<AmqpBroker> {
  const log = options.logger;
  const socketOptions = {
    // amqplib leaves Nagle's algorithm on, and with it a frame written while an earlier one is unacknowledged waits
    // for the broker's delayed ACK (~40 ms on Linux): quorum queue confirms and deliveries took 24-38 ms here instead
    // of ~1.5 ms. Off, every frame would be a packet of its own; coalesceFrameWrites sends a turn's frames together.
    noDelay: true,
    clientProperties: { connection_name: options.connectionName ?? "tradeplane" },
    recovery: {
      waitForConnect: false,
      initialDelay: 100,
      maxDelay: 5_000,
      initialMaxRetries: options.startupRetries ?? 3,
      maxRetries: Infinity,
    },
  };
  const recovering: RecoveringChannelModel = await connect(withHeartbeat(options.url, options.heartbeatSeconds ?? 10), socketOptions);

  let model: ChannelModel | undefined;
  let closing = false;
  let modelWaiters: { resolve(model: ChannelModel): void; reject(error: Error): void }[] = [];
  let publishChannel: Promise<ConfirmChannel> | undefined;
  const consumers = new Set<ManagedConsumer>();

  recovering.on("connect", (connected: ChannelModel) => {
    coalesceFrameWrites(connected);
    model = connected;
    const waiters = modelWaiters;
    modelWaiters = [];
    for (const waiter of waiters) waiter.resolve(connected);
    for (const consumer of consumers) consumer.resume(connected);
  });
  recovering.on("disconnect", (error: Error) => {
    model = undefined;
    publishChannel = undefined;
    if (!closing) log?.warn("RabbitMQ connection lost; reconnecting", { error });
  });
  recovering.on("reconnect-failed", (error: Error) => log?.error("RabbitMQ reconnection gave up", { error }));
  recovering.on("error", (error: Error) => log?.warn("RabbitMQ connection error", { error }));

  try {
    await recovering.waitForConnect();
  } catch (error) {
    await recovering.close().catch(() => undefined);
    throw new Error(`cannot connect to RabbitMQ: ${(error as Error).message}`, { cause: error });
  }

  const currentModel = (): Promise<ChannelModel> => {
    if (closing) return Promise.reject(new Error("broker is closed"));
    if (model !== undefined) return Promise.resolve(model);
    return new Promise((resolve, reject) => modelWaiters.push({ resolve, reject }));
  };

  const getPublishChannel = (): Promise<ConfirmChannel> => {
    if (publishChannel !== undefined) return publishChannel;
    const opening = (async () => {
      const channel = await (await currentModel()).createConfirmChannel();
      channel.on("error", (error: Error) => log?.warn("publish channel error", { error }));
      channel.on("close", () => {
        if (publishChannel === opening) publishChannel = undefined;
      });
      await channel.assertExchange(EVENTS_EXCHANGE, "topic", { durable: true });
      return channel;
    })();
    opening.catch(() => {
      if (publishChannel === opening) publishChannel = undefined;
    });
    publishChannel = opening;
    return opening;
  };

  const withChannel = async <T>(confirm: boolean, use: (channel: ConfirmChannel) => Promise<T>): Promise<T> => {
    const current = await currentModel();
    const channel = confirm ? await current.createConfirmChannel() : ((await current.createChannel()) as ConfirmChannel);
    channel.on("error", () => undefined);
    try {
      return await use(channel);
    } finally {
      await channel.close().catch(() => undefined);
    }
  };

  const broker: AmqpBroker = {
    async publish(message: OutgoingMessage, publishOptions) {
      checkOutgoing(message);
      const timeoutMs = publishOptions?.timeoutMs ?? options.publishTimeoutMs;
      await withTimeout(timeoutMs, `publish of ${message.messageId} not confirmed within ${timeoutMs} ms`, async () => {
        const channel = await getPublishChannel();
        await confirmPublish(channel, EVENTS_EXCHANGE, message.routingKey, Buffer.from(message.body, "utf8"), {
          persistent: true,
          messageId: message.messageId,
          contentType: "application/json",
          timestamp: Math.floor(Date.now() / 1000),
          headers: { ...message.headers, [HEADER.schemaVersion]: message.schemaVersion },
        });
      });
    },

    async declare(spec) {
      checkQueueSpec(spec);
      await withChannel(false, (channel) => declareTopology(channel, spec));
    },

    async consume(spec, handler) {
      checkQueueSpec(spec);
      if (closing) throw new Error("broker is closed");
      const consumer = createConsumer(spec, handler, {
        log,
        publishTimeoutMs: options.publishTimeoutMs,
        currentModel: () => model,
        forget: () => consumers.delete(consumer),
      });
      // The first attach declares the topology: a bad spec or a conflicting queue fails consume() itself.
      await consumer.attach(await currentModel());
      consumers.add(consumer);
      return consumer;
    },

    async readDeadLetters(queue, limit) {
      const dlq = deadLetterQueueName(queue);
      return withChannel(false, async (channel) => {
        if (!(await queueExists(channel, dlq))) return [];
        const letters: DeadLetter[] = [];
        try {
          while (letters.length < Math.min(limit, MAX_DEAD_LETTER_SCAN)) {
            const message = await channel.get(dlq, { noAck: false });
            if (message === false) break;
            letters.push(toDeadLetter(queue, messageFields(message)));
          }
        } finally {
          // Reading is not consuming: everything goes back to the queue.
          channel.nackAll(true);
        }
        return letters;
      });
    },

    async republishDeadLetter(queue, messageId) {
      const dlq = deadLetterQueueName(queue);
      return withChannel(true, async (channel) => {
        if (!(await queueExists(channel, dlq))) return false;
        try {
          for (let scanned = 0; scanned < MAX_DEAD_LETTER_SCAN; scanned++) {
            const message = await channel.get(dlq, { noAck: false });
            if (message === false) return false;
            if (message.properties.messageId !== messageId) continue;
            const headers = copyHeaders(message);
            for (const name of [...FAILURE_HEADERS, HEADER.attempt]) delete headers[name];
            await withTimeout(options.publishTimeoutMs, `republish of ${messageId} not confirmed`, () =>
              confirmPublish(channel, "", queue, message.content, { ...copyProperties(message), headers }),
            );
            channel.ack(message);
            return true;
          }
          return false;
        } finally {
          channel.nackAll(true);
        }
      });
    },

    async probe() {
      if (model === undefined) throw new Error("not connected to RabbitMQ");
      await withTimeout(options.publishTimeoutMs, "RabbitMQ did not answer the probe", async () => {
        await (await getPublishChannel()).checkExchange(EVENTS_EXCHANGE);
      });
    },

    async close() {
      if (closing) return;
      await Promise.all([...consumers].map((consumer) => consumer.close()));
      closing = true;
      for (const waiter of modelWaiters) waiter.reject(new Error("broker is closed"));
      modelWaiters = [];
      const channel = publishChannel;
      publishChannel = undefined;
      await channel?.then((open) => open.close()).catch(() => undefined);
      await recovering.close();
    },
  };
  return broker;
}

interface ConsumerDeps {
  log: Logger | undefined;
  publishTimeoutMs: number;
  currentModel(): ChannelModel | undefined;
  forget(): void;
}

function createConsumer(spec: QueueSpec, handler: MessageHandler, deps: ConsumerDeps): ManagedConsumer & AbortableConsumer {
  const isDlq = isDeadLetterQueue(spec.name);
  let channel: ConfirmChannel | undefined;
  let consumerTag: string | undefined;
  let attaching: Promise<void> | undefined;
  let stopped = false;
  let reattachTimer: NodeJS.Timeout | undefined;
  const inFlight = new Set<Promise<void>>();
  /** Channels that closed: a delivery received on one of them must not be answered (RabbitMQ requeued it). */
  const dead = new WeakSet<Channel>();

  const scheduleReattach = (): void => {
    if (stopped || reattachTimer !== undefined) return;
    reattachTimer = setTimeout(() => {
      reattachTimer = undefined;
      const model = deps.currentModel();
      // Without a connection the next "connect" event resumes the consumer.
      if (model !== undefined) resume(model);
    }, REATTACH_DELAY_MS);
  };

  const resume = (model: ChannelModel): void => {
    attach(model).catch((error) => {
      deps.log?.warn("consumer could not resume; retrying", { queue: spec.name, error });
      scheduleReattach();
    });
  };

  const answer = (on: ConfirmChannel, act: () => void): void => {
    if (dead.has(on)) return;
    try {
      act();
    } catch (error) {
      deps.log?.warn("could not answer a delivery; RabbitMQ will redeliver it", { queue: spec.name, error });
    }
  };

  /** Publishes a copy of `message` straight to `queue`, then acks the original; on failure leaves it to RabbitMQ. */
  const moveTo = async (on: ConfirmChannel, message: ConsumeMessage, queue: string, headers: Record<string, unknown>): Promise<void> => {
    try {
      await withTimeout(deps.publishTimeoutMs, `copy to ${queue} not confirmed`, () =>
        confirmPublish(on, "", queue, message.content, { ...copyProperties(message), headers }),
      );
      answer(on, () => on.ack(message));
    } catch (error) {
      deps.log?.warn("could not move a delivery; returning it to the queue", { queue: spec.name, target: queue, error });
      answer(on, () => on.nack(message, false, true));
    }
  };

  const deadLetter = (
    on: ConfirmChannel,
    message: ConsumeMessage,
    failure: { kind: string; reason: string; attempts: number },
  ): Promise<void> => {
    const headers = copyHeaders(message);
    delete headers[HEADER.attempt];
    Object.assign(headers, {
      [HEADER.failureReason]: failure.reason,
      [HEADER.failureKind]: failure.kind,
      [HEADER.failedAttempts]: failure.attempts,
      [HEADER.deadLetteredAt]: new Date().toISOString(),
      [HEADER.sourceQueue]: spec.name,
    });
    if (failure.kind !== "permanent") {
      deps.log?.warn("message dead-lettered", { queue: spec.name, messageId: message.properties.messageId, ...failure });
    }
    return moveTo(on, message, deadLetterQueueName(spec.name), headers);
  };

  const handle = async (on: ConfirmChannel, message: ConsumeMessage): Promise<void> => {
    const raw = message.properties.headers ?? {};
    const attempt = toCount(raw[HEADER.attempt]) + toCount(raw["x-delivery-count"]) + 1;
    if (!isDlq && attempt > spec.deliveryLimit) {
      await deadLetter(on, message, { kind: "delivery-limit", reason: deliveryLimitReason(attempt - 1), attempts: attempt - 1 });
      return;
    }
    const fields = messageFields(message);
    const delivery: Delivery = {
      messageId: fields.messageId,
      routingKey: String(raw[HEADER.originalRoutingKey] ?? fields.routingKey),
      schemaVersion: Number(raw[HEADER.schemaVersion] ?? 0),
      body: fields.body,
      headers: publicHeaders(raw),
      attempt,
    };
    try {
      await handler(delivery);
    } catch (error) {
      if (dead.has(on)) return;
      if (isDlq) {
        // A dead letter is never dead-lettered again: it waits, then goes back to its queue.
        await sleep(spec.retryDelaysMs[0]);
        answer(on, () => on.nack(message, false, true));
        return;
      }
      const outcome = failureOutcome(spec, attempt, error);
      if (outcome.action === "dead-letter") {
        await deadLetter(on, message, { kind: outcome.kind, reason: outcome.reason, attempts: attempt });
        return;
      }
      const headers = copyHeaders(message);
      headers[HEADER.attempt] = attempt;
      await moveTo(on, message, retryQueueName(spec.name, outcome.delayMs), headers);
      return;
    }
    answer(on, () => on.ack(message));
  };

  const attach = (model: ChannelModel): Promise<void> => {
    if (stopped || channel !== undefined) return Promise.resolve();
    attaching ??= (async () => {
      const opened = await model.createConfirmChannel();
      opened.on("error", (error: Error) => deps.log?.warn("consumer channel error", { queue: spec.name, error }));
      opened.on("close", () => {
        dead.add(opened);
        if (channel !== opened) return;
        channel = undefined;
        consumerTag = undefined;
        scheduleReattach();
      });
      try {
        await declareTopology(opened, spec);
        await opened.prefetch(spec.prefetch);
        channel = opened;
        const reply = await opened.consume(
          spec.name,
          (message) => {
            if (message === null) {
              // RabbitMQ cancelled the consumer (the queue was deleted): start over, which declares it again.
              opened.close().catch(() => undefined);
              return;
            }
            const work = handle(opened, message).catch((error) =>
              deps.log?.error("delivery handling failed", { queue: spec.name, error }),
            );
            inFlight.add(work);
            void work.finally(() => inFlight.delete(work));
          },
          { noAck: false },
        );
        consumerTag = reply.consumerTag;
      } catch (error) {
        channel = undefined;
        await opened.close().catch(() => undefined);
        throw error;
      }
    })().finally(() => {
      attaching = undefined;
    });
    return attaching;
  };

  const stop = (): ConfirmChannel | undefined => {
    stopped = true;
    deps.forget();
    if (reattachTimer !== undefined) clearTimeout(reattachTimer);
    reattachTimer = undefined;
    const current = channel;
    channel = undefined;
    return current;
  };

  return {
    attach,
    resume,
    async close() {
      await attaching?.catch(() => undefined);
      const current = stop();
      if (current !== undefined && consumerTag !== undefined) await current.cancel(consumerTag).catch(() => undefined);
      await Promise.allSettled([...inFlight]);
      await current?.close().catch(() => undefined);
    },
    async abort() {
      await attaching?.catch(() => undefined);
      const current = stop();
      if (current !== undefined) dead.add(current);
      // Closing the channel without answering makes RabbitMQ requeue every unacked delivery it held.
      await current?.close().catch(() => undefined);
    },
  };
}

async function declareTopology(channel: Channel, spec: QueueSpec): Promise<void> {
  await channel.assertExchange(EVENTS_EXCHANGE, "topic", { durable: true });
  await channel.assertExchange(DEAD_LETTER_EXCHANGE, "direct", { durable: true });
  for (const declaration of queueDeclarations(spec)) {
    await channel.assertQueue(declaration.queue, { durable: true, arguments: declaration.arguments });
    for (const binding of declaration.bindings) {
      await channel.bindQueue(declaration.queue, binding.exchange, binding.pattern);
    }
  }
}

/** True when `queue` exists. A missing queue also closes `channel` (passive declare), so callers stop there. */
async function queueExists(channel: Channel, queue: string): Promise<boolean> {
  try {
    await channel.checkQueue(queue);
    return true;
  } catch {
    return false;
  }
}

function confirmPublish(
  channel: ConfirmChannel,
  exchange: string,
  routingKey: string,
  content: Buffer,
  properties: Options.Publish,
): Promise<void> {
  return new Promise((resolve, reject) => {
    try {
      channel.publish(exchange, routingKey, content, properties, (error: unknown) => {
        if (error) reject(error instanceof Error ? error : new Error(`publish nacked by RabbitMQ: ${String(error)}`));
        else resolve();
      });
    } catch (error) {
      reject(error);
    }
  });
}

function messageFields(message: Message) {
  return {
    messageId: String(message.properties.messageId ?? ""),
    routingKey: message.fields.routingKey,
    body: message.content.toString("utf8"),
    headers: (message.properties.headers ?? {}) as Record<string, unknown>,
  };
}

/** The message's headers without the ones RabbitMQ adds when it returns or dead-letters a message. */
function copyHeaders(message: Message): Record<string, unknown> {
  const headers: Record<string, unknown> = { ...(message.properties.headers ?? {}) };
  for (const name of Object.keys(headers)) {
    if (name === "x-delivery-count" || name === "x-death" || /^x-(first|last)-death-/.test(name)) delete headers[name];
  }
  headers[HEADER.originalRoutingKey] ??= message.fields.routingKey;
  return headers;
}

function copyProperties(message: Message): Options.Publish {
  const properties = message.properties;
  return {
    persistent: true,
    messageId: properties.messageId,
    contentType: properties.contentType,
    timestamp: properties.timestamp,
  };
}

function toCount(value: unknown): number {
  const n = Number(value ?? 0);
  return Number.isFinite(n) && n > 0 ? Math.floor(n) : 0;
}

function withHeartbeat(url: string, seconds: number): string {
  const parsed = new URL(url);
  if (!parsed.searchParams.has("heartbeat")) parsed.searchParams.set("heartbeat", String(seconds));
  return parsed.toString();
}

/** Runs `work`, rejecting with `message` if it has not settled after `timeoutMs`. */
async function withTimeout<T>(timeoutMs: number, message: string, work: () => Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const running = work();
  // The work may still settle after the timeout; its outcome is then nobody's concern.
  running.catch(() => undefined);
  try {
    return await Promise.race([
      running,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(message)), timeoutMs);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * amqplib's muxer writes the frames its channels queued (publishes, acks) one `write` at a time when it runs, once
 * per event loop turn. Corking the socket around that run hands them to the kernel as one write: one packet instead
 * of one per frame, which is most of what a frame costs on loopback, without Nagle's waiting. Relies on amqplib's
 * muxer (`connection.muxer._readIncoming`, `out`); if a later amqplib lacks them, frames are simply written one by one.
 */
function coalesceFrameWrites(model: ChannelModel): void {
  const muxer = (model as unknown as { connection?: { muxer?: MuxerInternals } }).connection?.muxer;
  if (muxer === undefined || typeof muxer._readIncoming !== "function" || typeof muxer.out?.cork !== "function") return;
  const readIncoming = muxer._readIncoming.bind(muxer);
  const out = muxer.out;
  muxer._readIncoming = () => {
    out.cork();
    try {
      readIncoming();
    } finally {
      out.uncork();
    }
  };
}

interface MuxerInternals {
  _readIncoming(): void;
  out?: { cork(): void; uncork(): void };
}

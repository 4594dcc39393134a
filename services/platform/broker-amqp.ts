// The production broker on RabbitMQ (amqplib 2.x). Publishing goes through a confirm channel and resolves only on
// the broker's ack, or rejects after a timeout (a lost confirm must never hang the outbox: amqplib #530). Each
// consumer has its own confirm channel with a bounded prefetch and acks after its handler resolved; a failed
// delivery is re-published to a TTL retry queue (or its dead letter queue) and acked only once that copy is
// confirmed. amqplib's recovery reconnects the connection; channels, topology and consumers are rebuilt on each
// reconnect, and RabbitMQ redelivers whatever was unacked when the old connection died.
// This file keeps the connection and its lifecycle, publishing and declaring; the consumer is in
// broker-amqp-consumer.ts, the dead letter admin in broker-amqp-dead-letters.ts, the channel operations they share in
// broker-amqp-channel.ts and the socket write coalescing in broker-amqp-socket.ts.
import { connect, type ChannelModel, type ConfirmChannel, type RecoveringChannelModel } from "amqplib";
import { confirmPublish, declareTopology, withTimeout } from "./broker-amqp-channel";
import { createConsumer, type ManagedConsumer } from "./broker-amqp-consumer";
import * as deadLetters from "./broker-amqp-dead-letters";
import { coalesceFrameWrites } from "./broker-amqp-socket";
import {
  checkOutgoing,
  checkQueueSpec,
  EVENTS_EXCHANGE,
  HEADER,
  type AbortableConsumer,
  type DeadLetterAdmin,
} from "./broker-topology";
import type { Logger } from "./logger";
import type { Broker, MessageHandler, OutgoingMessage, QueueSpec } from "./messaging";

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
      return withChannel(false, (channel) => deadLetters.readDeadLetters(channel, queue, limit));
    },

    async republishDeadLetter(queue, messageId) {
      return withChannel(true, (channel) =>
        deadLetters.republishDeadLetter(channel, queue, messageId, options.publishTimeoutMs),
      );
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

function withHeartbeat(url: string, seconds: number): string {
  const parsed = new URL(url);
  if (!parsed.searchParams.has("heartbeat")) parsed.searchParams.set("heartbeat", String(seconds));
  return parsed.toString();
}

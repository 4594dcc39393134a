// The RabbitMQ broker's managed consumer: one confirm channel per consumer with a bounded prefetch, acking each
// delivery after its handler resolved. A failed delivery is re-published to a TTL retry queue (or, past the delivery
// limit or on a permanent failure, to its dead letter queue) and acked only once that copy is confirmed. When its
// channel closes the consumer re-attaches itself; after a reconnect the broker resumes it on the new connection.
import type { Channel, ChannelModel, ConfirmChannel, ConsumeMessage } from "amqplib";
import {
  deadLetterQueueName,
  deliveryLimitReason,
  failureOutcome,
  HEADER,
  isDeadLetterQueue,
  publicHeaders,
  retryQueueName,
  type AbortableConsumer,
} from "./broker-topology";
import { confirmPublish, copyHeaders, copyProperties, declareTopology, messageFields, withTimeout } from "./broker-amqp-channel";
import type { Logger } from "./logger";
import type { Delivery, MessageHandler, QueueSpec } from "./messaging";

/** Wait before rebuilding a consumer whose channel closed while the connection stayed up. */
const REATTACH_DELAY_MS = 1_000;

export interface ManagedConsumer {
  /** Starts consuming on `model`, the first time; throws if the topology cannot be declared. */
  attach(model: ChannelModel): Promise<void>;
  /** Starts consuming again after a reconnect, retrying on its own until it works or the consumer stops. */
  resume(model: ChannelModel): void;
  close(): Promise<void>;
}

export interface ConsumerDeps {
  log: Logger | undefined;
  publishTimeoutMs: number;
  currentModel(): ChannelModel | undefined;
  forget(): void;
}

export function createConsumer(spec: QueueSpec, handler: MessageHandler, deps: ConsumerDeps): ManagedConsumer & AbortableConsumer {
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

function toCount(value: unknown): number {
  const n = Number(value ?? 0);
  return Number.isFinite(n) && n > 0 ? Math.floor(n) : 0;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

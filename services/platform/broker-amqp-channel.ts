// What the RabbitMQ broker, its consumers and its dead letter admin all do on a channel: declare a queue's topology,
// publish and wait for the confirm (bounded by a timeout), and copy a received message's fields, headers and
// properties for re-publishing.
import type { Channel, ConfirmChannel, Message, Options } from "amqplib";
import { DEAD_LETTER_EXCHANGE, EVENTS_EXCHANGE, HEADER, queueDeclarations } from "./broker-topology";
import type { QueueSpec } from "./messaging";

export async function declareTopology(channel: Channel, spec: QueueSpec): Promise<void> {
  await channel.assertExchange(EVENTS_EXCHANGE, "topic", { durable: true });
  await channel.assertExchange(DEAD_LETTER_EXCHANGE, "direct", { durable: true });
  for (const declaration of queueDeclarations(spec)) {
    await channel.assertQueue(declaration.queue, { durable: true, arguments: declaration.arguments });
    for (const binding of declaration.bindings) {
      await channel.bindQueue(declaration.queue, binding.exchange, binding.pattern);
    }
  }
}

export function confirmPublish(
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

export function messageFields(message: Message) {
  return {
    messageId: String(message.properties.messageId ?? ""),
    routingKey: message.fields.routingKey,
    body: message.content.toString("utf8"),
    headers: (message.properties.headers ?? {}) as Record<string, unknown>,
  };
}

/** The message's headers without the ones RabbitMQ adds when it returns or dead-letters a message. */
export function copyHeaders(message: Message): Record<string, unknown> {
  const headers: Record<string, unknown> = { ...(message.properties.headers ?? {}) };
  for (const name of Object.keys(headers)) {
    if (name === "x-delivery-count" || name === "x-death" || /^x-(first|last)-death-/.test(name)) delete headers[name];
  }
  headers[HEADER.originalRoutingKey] ??= message.fields.routingKey;
  return headers;
}

export function copyProperties(message: Message): Options.Publish {
  const properties = message.properties;
  return {
    persistent: true,
    messageId: properties.messageId,
    contentType: properties.contentType,
    timestamp: properties.timestamp,
  };
}

/** Runs `work`, rejecting with `message` if it has not settled after `timeoutMs`. */
export async function withTimeout<T>(timeoutMs: number, message: string, work: () => Promise<T>): Promise<T> {
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

// The production PubSub on Redis pub/sub: PUBLISH answers with how many subscribed connections received the message,
// which is what lets a request/reply caller stop waiting once every instance has declined. Subscriptions use a
// connection of their own (a subscribed Redis connection takes no other commands) and are renewed by ioredis after
// a reconnect; messages published while it was down are lost, as pub/sub promises nothing more.
import type { Redis } from "ioredis";
import { closeRedis, waitUntilReady } from "./cache-redis";
import type { Logger } from "./logger";
import { openRedisCommands, openRedisListener } from "./redis-connection";
import type { PubSub } from "./request-reply";

export interface RedisPubSubOptions {
  url: string;
  /** Prepended to every channel name, so instances that must hear each other share it and test runs do not. */
  channelPrefix?: string;
  /** Timeout of PUBLISH; it fails fast while Redis is down, like the cache. Default 1000. */
  commandTimeoutMs?: number;
  logger?: Logger;
}

/** Creates a PubSub on Redis. Connections open in the background; the first publish waits up to the timeout for one. */
export function createRedisPubSub(options: RedisPubSubOptions): PubSub {
  const prefix = options.channelPrefix ?? "";
  const commandTimeoutMs = options.commandTimeoutMs ?? 1_000;
  const commands = openRedisCommands(options.url, commandTimeoutMs);
  let subscriber: Redis | undefined;
  const onMessageByChannel = new Map<string, (message: string) => void>();
  let closed = false;

  const openSubscriber = (): Redis => {
    const connection = openRedisListener(options.url, { autoResubscribe: true, connectTimeout: Math.max(1_000, commandTimeoutMs) });
    connection.on("message", (channel: string, message: string) => {
      const onMessage = onMessageByChannel.get(channel);
      if (onMessage === undefined) return;
      try {
        onMessage(message);
      } catch (error) {
        options.logger?.warn("pub/sub subscriber failed", { channel, error: String(error) });
      }
    });
    return connection;
  };

  return {
    async publish(channel, message) {
      if (closed) throw new Error("pub/sub is closed");
      if (commands.status !== "ready") await waitUntilReady(commands, commandTimeoutMs);
      return commands.publish(prefix + channel, message);
    },

    async subscribe(channel, onMessage) {
      if (closed) throw new Error("pub/sub is closed");
      const key = prefix + channel;
      if (onMessageByChannel.has(key)) throw new Error(`already subscribed to ${channel}`);
      onMessageByChannel.set(key, onMessage);
      subscriber ??= openSubscriber();
      try {
        // Resolves once Redis confirms, so a message published after this returns reaches `onMessage`.
        await subscriber.subscribe(key);
      } catch (error) {
        onMessageByChannel.delete(key);
        throw error;
      }
    },

    async close() {
      closed = true;
      onMessageByChannel.clear();
      await Promise.all([closeRedis(commands), subscriber === undefined ? undefined : closeRedis(subscriber)]);
    },
  };
}

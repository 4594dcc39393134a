// The embedded PubSub, used when no REDIS_URL is configured: channels live in this object, so only subscribers of
// the same instance hear each other, which is all a one-process deployment has.
import type { Logger } from "./logger";
import type { PubSub } from "./request-reply";

/** Creates an in-process PubSub with Redis pub/sub's semantics: no retention, asynchronous delivery, receiver counts. */
export function createMemoryPubSub(options: { logger?: Logger } = {}): PubSub {
  const subscribers = new Map<string, (message: string) => void>();
  let closed = false;

  return {
    async publish(channel, message) {
      if (closed) throw new Error("pub/sub is closed");
      const onMessage = subscribers.get(channel);
      if (onMessage === undefined) return 0;
      // Delivered on a later microtask, as Redis delivers after PUBLISH has answered, so a subscriber never runs
      // inside the publisher's call.
      queueMicrotask(() => {
        try {
          onMessage(message);
        } catch (error) {
          options.logger?.warn("pub/sub subscriber failed", { channel, error: String(error) });
        }
      });
      return 1;
    },

    async subscribe(channel, onMessage) {
      if (closed) throw new Error("pub/sub is closed");
      if (subscribers.has(channel)) throw new Error(`already subscribed to ${channel}`);
      subscribers.set(channel, onMessage);
    },

    async close() {
      closed = true;
      subscribers.clear();
    },
  };
}

// Request/reply between the instances of a service over publish/subscribe, for asking "whoever holds X" when X lives
// in one instance's memory (a market data stream, say). A request goes to every instance serving the channel; the one
// that holds X replies, the others decline. The caller resolves on the first reply, or as soon as every instance that
// received the request has declined (publish reports how many did), or after a timeout for instances that went
// silent. The transport is Redis pub/sub (pubsub-redis.ts) or an in-process stand-in (pubsub-memory.ts); the logic
// here is shared, so both behave the same.
import { randomUUID } from "node:crypto";
import type { Logger } from "./logger";

/** Fire-and-forget messages on named channels (Redis pub/sub, or in-process). */
export interface PubSub {
  /**
   * Delivers `message` to every current subscriber of `channel`, in every process sharing the backend; resolves with
   * how many subscribers received it. Messages are not kept: a subscriber that is not connected misses them.
   */
  publish(channel: string, message: string): Promise<number>;
  /**
   * Calls `onMessage` with each message published on `channel` after this resolves. One subscription per channel and
   * PubSub (each counts once in `publish`'s answer); a second one is refused.
   */
  subscribe(channel: string, onMessage: (message: string) => void): Promise<void>;
  close(): Promise<void>;
}

export interface RequestOptions {
  /** How long to wait for instances that received the request but neither replied nor declined. */
  timeoutMs: number;
  /** Stops waiting (rejects with an AbortError), e.g. when the gRPC call is cancelled or its deadline passes. */
  signal?: AbortSignal;
}

export interface RequestReplyBus {
  /**
   * Answers requests on `channel` with `handle`: its result is the reply, `undefined` declines (this instance is not
   * the one asked for). A handler that throws is logged and sent back as a failure, never as a decline.
   */
  serve(channel: string, handle: (request: string) => Promise<string | undefined> | string | undefined): Promise<void>;
  /**
   * Sends `request` to every server of `channel` and resolves with the first reply; `undefined` when every server
   * that received it declined (at once) or when the others stayed silent for `timeoutMs`. Rejects when a server's
   * handler failed or the transport did.
   */
  request(channel: string, request: string, options: RequestOptions): Promise<string | undefined>;
  close(): Promise<void>;
}

/** A request on the wire: `replyTo` is the requesting bus's own reply channel. */
interface RequestEnvelope {
  id: string;
  replyTo: string;
  body: string;
}

/** A reply on the wire: `body` when answered, neither field when declined, `failed` when the handler threw. */
interface ReplyEnvelope {
  id: string;
  body?: string;
  failed?: true;
}

interface PendingRequest {
  /** How many servers received the request; unknown until publish resolves. */
  receivers: number | undefined;
  declines: number;
  settle(outcome: { reply: string | undefined } | { error: Error }): void;
}

/** A failure of the server that held what was asked for; its handler logged the cause. */
export class RemoteHandlerError extends Error {
  constructor(channel: string) {
    super(`the instance answering on ${channel} failed to handle the request`);
    this.name = "RemoteHandlerError";
  }
}

function abortError(signal: AbortSignal): Error {
  const error = new Error(signal.reason instanceof Error ? signal.reason.message : "the request was aborted");
  error.name = "AbortError";
  return error;
}

/** Creates a request/reply bus over `pubsub`; it owns the PubSub and closes it. */
export function createRequestReplyBus(pubsub: PubSub, options: { logger?: Logger } = {}): RequestReplyBus {
  const replyChannel = `replies.${randomUUID()}`;
  const pending = new Map<string, PendingRequest>();
  let listening: Promise<void> | undefined;
  let closed = false;

  const onReply = (message: string): void => {
    let reply: ReplyEnvelope;
    try {
      reply = JSON.parse(message) as ReplyEnvelope;
    } catch {
      options.logger?.warn("malformed reply ignored", { channel: replyChannel });
      return;
    }
    const request = pending.get(reply.id);
    if (request === undefined) return; // Settled already: answered, declined by all, timed out or aborted.
    if (reply.failed) request.settle({ error: new RemoteHandlerError(replyChannel) });
    else if (reply.body !== undefined) request.settle({ reply: reply.body });
    else {
      request.declines += 1;
      if (request.receivers !== undefined && request.declines >= request.receivers) request.settle({ reply: undefined });
    }
  };

  const sendReply = (replyTo: string, reply: ReplyEnvelope): void => {
    pubsub.publish(replyTo, JSON.stringify(reply)).catch((error: unknown) => {
      // The requester times out (or its caller's deadline passes); nothing else can be done from here.
      options.logger?.warn("reply could not be published", { channel: replyTo, error: String(error) });
    });
  };

  return {
    async serve(channel, handle) {
      if (closed) throw new Error("request/reply bus is closed");
      await pubsub.subscribe(channel, (message) => {
        let request: RequestEnvelope;
        try {
          request = JSON.parse(message) as RequestEnvelope;
        } catch {
          options.logger?.warn("malformed request ignored", { channel });
          return;
        }
        void (async () => {
          try {
            const body = await handle(request.body);
            sendReply(request.replyTo, body === undefined ? { id: request.id } : { id: request.id, body });
          } catch (error) {
            options.logger?.error("request handler failed", { channel, error: String(error) });
            sendReply(request.replyTo, { id: request.id, failed: true });
          }
        })();
      });
    },

    async request(channel, body, { timeoutMs, signal }) {
      if (closed) throw new Error("request/reply bus is closed");
      if (signal?.aborted) throw abortError(signal);
      // Subscribed to replies before the first request goes out, so no reply can come before anyone listens.
      listening ??= pubsub.subscribe(replyChannel, onReply).catch((error: unknown) => {
        listening = undefined; // Backend down: the next request tries again.
        throw error;
      });
      await listening;
      const id = randomUUID();
      return new Promise<string | undefined>((resolve, reject) => {
        const onAbort = () => request.settle({ error: abortError(signal!) });
        const timer = setTimeout(() => request.settle({ reply: undefined }), timeoutMs);
        const request: PendingRequest = {
          receivers: undefined,
          declines: 0,
          settle(outcome) {
            if (!pending.delete(id)) return;
            clearTimeout(timer);
            signal?.removeEventListener("abort", onAbort);
            if ("error" in outcome) reject(outcome.error);
            else resolve(outcome.reply);
          },
        };
        pending.set(id, request);
        signal?.addEventListener("abort", onAbort, { once: true });
        const envelope: RequestEnvelope = { id, replyTo: replyChannel, body };
        pubsub.publish(channel, JSON.stringify(envelope)).then(
          (receivers) => {
            request.receivers = receivers;
            // Declines can arrive before publish's own answer (they travel on another connection).
            if (request.declines >= receivers) request.settle({ reply: undefined });
          },
          (error: unknown) => request.settle({ error: error instanceof Error ? error : new Error(String(error)) }),
        );
      });
    },

    async close() {
      closed = true;
      for (const request of pending.values()) request.settle({ error: new Error("request/reply bus is closed") });
      await pubsub.close();
    },
  };
}

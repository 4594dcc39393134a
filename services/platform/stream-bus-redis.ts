// The production stream bus on Redis Streams. Appends are XADD with an approximate MAXLEN (Redis trims whole
// macro nodes, which is far cheaper than exact trimming, and keeps at least `retention` entries); replays are
// XRANGE. Live delivery runs one XREAD BLOCK loop per bus on a dedicated connection, over the union of the streams
// its subscriptions want, so entries appended by any process sharing Redis reach every subscriber in order.
import type { Redis } from "ioredis";
import { closeRedis, waitUntilReady } from "./cache-redis";
import type { Logger } from "./logger";
import type { StreamBus, StreamEntry, Subscription } from "./messaging";
import { openRedisCommands, openRedisListener } from "./redis-connection";
import { checkRetention, compareStreamIds, parseStreamId } from "./stream-bus-memory";

export interface RedisStreamBusOptions {
  url: string;
  /** Entries kept at least per stream (approximate trimming may keep a few hundred more). */
  retention: number;
  /** How long one XREAD blocks; also bounds how late a stream added by `update` can start flowing in the worst case. */
  blockMs: number;
  /** Prepended to every stream name to form the Redis key. */
  keyPrefix?: string;
  /** Timeout of appends and reads; the bus fails fast like the cache. Default 1000. */
  commandTimeoutMs?: number;
  logger?: Logger;
}

/** Field name of the payload inside each stream entry. */
const PAYLOAD_FIELD = "p";
/** Entries read per stream and XREAD call: bounds the memory of one batch. */
const READ_BATCH = 512;
/** The id before any real entry; used as the cursor of a stream that does not exist yet. */
const BEFORE_ALL = "0-0";

interface SubscriberState {
  onEntry: (stream: string, entry: StreamEntry) => void;
  /** Per stream, the newest id that existed when this subscriber added it: only later entries are its own. */
  startAfter: Map<string, string>;
}

type XReadReply = [key: string, entries: [id: string, fields: string[]][]][] | null;

/** Creates a StreamBus on Redis Streams. */
export function createRedisStreamBus(options: RedisStreamBusOptions): StreamBus {
  checkRetention(options.retention);
  if (!Number.isInteger(options.blockMs) || options.blockMs < 1) {
    throw new RangeError(`blockMs must be a positive integer, got ${options.blockMs}`);
  }
  const prefix = options.keyPrefix ?? "";
  const commandTimeoutMs = options.commandTimeoutMs ?? 1_000;
  const commands = openRedisCommands(options.url, commandTimeoutMs);

  // Everything below belongs to the live-delivery side, created with the first subscription.
  let blocking: Redis | undefined;
  let blockingClientId: number | undefined;
  let loop: Promise<void> | undefined;
  let closed = false;
  /** Per stream: the last id the loop has read, and the subscribers listening to it. */
  const cursors = new Map<string, string>();
  const listeners = new Map<string, Set<SubscriberState>>();

  const key = (stream: string): string => prefix + stream;

  const ensureOpen = (): void => {
    if (closed) throw new Error("stream bus is closed");
  };

  /**
   * Waits (at most the command timeout) while the connection is still being opened: without the offline queue a
   * command sent then is rejected at once, which is right when Redis is down but wrong for a bus created a moment ago.
   */
  const whenConnected = async (): Promise<void> => {
    ensureOpen();
    if (commands.status !== "ready") await waitUntilReady(commands, commandTimeoutMs);
  };

  const newestId = async (stream: string): Promise<string> => {
    const newest = (await commands.xrevrange(key(stream), "+", "-", "COUNT", 1)) as [string, string[]][];
    return newest.length > 0 ? newest[0][0] : BEFORE_ALL;
  };

  const openBlocking = (): Redis => {
    const connection = openRedisListener(options.url, {
      enableAutoPipelining: false,
      // ioredis resolves a blocking command with null once BLOCK plus a grace period has passed without a reply:
      // a half-open socket then shows up as a quiet loop iteration instead of a hang.
      blockingTimeout: options.blockMs,
    });
    // A reconnect gets a new client id, which `update` needs to wake the loop with CLIENT UNBLOCK.
    connection.on("close", () => {
      blockingClientId = undefined;
    });
    return connection;
  };

  const deliver = (stream: string, id: string, fields: string[]): void => {
    const subscribers = listeners.get(stream);
    if (subscribers === undefined) return;
    const cursor = cursors.get(stream);
    if (cursor !== undefined && compareStreamIds(id, cursor) <= 0) return;
    cursors.set(stream, id);
    const payloadIndex = fields.indexOf(PAYLOAD_FIELD);
    const entry: StreamEntry = { id, payload: payloadIndex >= 0 ? fields[payloadIndex + 1] : "" };
    for (const subscriber of subscribers) {
      const startAfter = subscriber.startAfter.get(stream);
      if (startAfter === undefined || compareStreamIds(id, startAfter) <= 0) continue;
      try {
        subscriber.onEntry(stream, entry);
      } catch (error) {
        options.logger?.warn("stream subscriber failed", { stream, error });
      }
    }
  };

  const readLoop = async (connection: Redis): Promise<void> => {
    let failing = false;
    while (!closed && listeners.size > 0) {
      try {
        if (blockingClientId === undefined) blockingClientId = Number(await connection.client("ID"));
        const streams = [...listeners.keys()];
        const reply = (await connection.xread(
          "COUNT",
          READ_BATCH,
          "BLOCK",
          options.blockMs,
          "STREAMS",
          ...streams.map(key),
          ...streams.map((stream) => cursors.get(stream) ?? BEFORE_ALL),
        )) as XReadReply;
        if (failing) options.logger?.info("stream bus reading again");
        failing = false;
        for (const [streamKey, entries] of reply ?? []) {
          const stream = streamKey.slice(prefix.length);
          for (const [id, fields] of entries) deliver(stream, id, fields);
        }
      } catch (error) {
        if (closed) return;
        if (!failing) options.logger?.warn("stream bus read failed; retrying", { error });
        failing = true;
        await new Promise((resolve) => setTimeout(resolve, Math.min(options.blockMs, 500)));
      }
    }
  };

  const ensureLoop = (): void => {
    if (loop !== undefined || listeners.size === 0) return;
    blocking ??= openBlocking();
    loop = readLoop(blocking).finally(() => {
      loop = undefined;
      // A subscription may have arrived while the finished loop was on its way out.
      if (!closed) ensureLoop();
    });
  };

  /** Wakes the blocked XREAD so the loop restarts with the current set of streams. */
  const wakeLoop = async (): Promise<void> => {
    if (blockingClientId === undefined) return;
    try {
      await commands.client("UNBLOCK", blockingClientId);
    } catch {
      // Not fatal: the loop picks the new streams up when its current XREAD times out.
    }
  };

  const addStreams = async (subscriber: SubscriberState, streams: readonly string[]): Promise<void> => {
    const fresh = streams.filter((stream) => !subscriber.startAfter.has(stream));
    const tails = await Promise.all(fresh.map(newestId));
    let newStream = false;
    fresh.forEach((stream, i) => {
      subscriber.startAfter.set(stream, tails[i]);
      let set = listeners.get(stream);
      if (set === undefined) {
        listeners.set(stream, (set = new Set()));
        cursors.set(stream, tails[i]);
        newStream = true;
      }
      set.add(subscriber);
    });
    ensureLoop();
    if (newStream) await wakeLoop();
  };

  const removeStreams = (subscriber: SubscriberState, streams: readonly string[]): void => {
    for (const stream of streams) {
      if (!subscriber.startAfter.delete(stream)) continue;
      const set = listeners.get(stream);
      set?.delete(subscriber);
      if (set?.size === 0) {
        listeners.delete(stream);
        cursors.delete(stream);
      }
    }
  };

  return {
    async append(stream, payload) {
      await whenConnected();
      const id = await commands.xadd(key(stream), "MAXLEN", "~", options.retention, "*", PAYLOAD_FIELD, payload);
      if (id === null) throw new Error(`XADD to ${stream} returned no id`);
      return id;
    },

    async readAfter(stream, afterId, limit) {
      await whenConnected();
      parseStreamId(afterId);
      if (limit <= 0) return [];
      const start = afterId === "0" ? "-" : `(${afterId}`;
      const entries = (await commands.xrange(key(stream), start, "+", "COUNT", limit)) as [string, string[]][];
      return entries.map(([id, fields]) => {
        const payloadIndex = fields.indexOf(PAYLOAD_FIELD);
        return { id, payload: payloadIndex >= 0 ? fields[payloadIndex + 1] : "" };
      });
    },

    async subscribe(streams, onEntry) {
      await whenConnected();
      const subscriber: SubscriberState = { onEntry, startAfter: new Map() };
      await addStreams(subscriber, streams);
      return {
        async update(add, remove) {
          ensureOpen();
          removeStreams(subscriber, remove);
          await addStreams(subscriber, add);
        },
        async close() {
          removeStreams(subscriber, [...subscriber.startAfter.keys()]);
        },
      } satisfies Subscription;
    },

    async probe() {
      await waitUntilReady(commands, commandTimeoutMs);
      await commands.ping();
    },

    async close() {
      if (closed) return;
      closed = true;
      listeners.clear();
      cursors.clear();
      // Dropping the blocking socket rejects its pending XREAD, which ends the loop at once.
      blocking?.disconnect();
      await loop;
      await closeRedis(commands);
    },
  };
}

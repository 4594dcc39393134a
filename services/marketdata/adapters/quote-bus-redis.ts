import { unavailable } from "../../platform/errors";
import { openRedisCommands } from "../../platform/redis-connection";
import type { StreamBus, StreamEntry } from "../../platform/messaging";
import type { Quote, SequencedQuote } from "../domain/quote";
import type { QuoteBus } from "../domain/quote-bus";
import { quoteFromJson, quoteToJson } from "./quote-json";

export interface RedisQuoteBusOptions {
  readonly url: string;
  /** The platform's Redis stream bus: live delivery (XREAD) and replay (XRANGE). */
  readonly streams: StreamBus;
  /** Entries kept per symbol stream (approximate MAXLEN, like the platform bus). */
  readonly retentionPerSymbol: number;
  readonly nowMs: () => number;
  readonly commandTimeoutMs?: number;
  /**
   * Prefix of every key and stream name. Processes that should share quotes use the same one; tests
   * use a fresh one so parallel runs on one Redis never see each other's seqs.
   */
  readonly namespace?: string;
}

/** Payload field of stream entries, the same as the platform stream bus reads. */
const PAYLOAD_FIELD = "p";

// Sequencing and appending in one atomic step is what keeps a symbol's seqs in stream order when
// several processes publish it. The entry id is `<epoch>-<seq>`, so replay by seq is an XRANGE and
// both numbers travel for free. If the stream is ahead of the counters (their keys were lost while
// the stream survived), XADD refuses the id; the script then opens a new epoch instead of failing.
const PUBLISH_SCRIPT = `
local epoch = redis.call('GET', KEYS[1])
if not epoch then
  epoch = ARGV[1]
  redis.call('SET', KEYS[1], epoch)
end
local seq = redis.call('HINCRBY', KEYS[2], ARGV[2], 1)
local added = redis.pcall('XADD', KEYS[3], 'MAXLEN', '~', ARGV[3], epoch .. '-' .. seq, '${PAYLOAD_FIELD}', ARGV[4])
if type(added) == 'table' and added.err then
  epoch = tostring(math.max(tonumber(ARGV[1]), tonumber(epoch) + 1))
  redis.call('SET', KEYS[1], epoch)
  redis.call('DEL', KEYS[2])
  seq = redis.call('HINCRBY', KEYS[2], ARGV[2], 1)
  redis.call('XADD', KEYS[3], 'MAXLEN', '~', ARGV[3], epoch .. '-' .. seq, '${PAYLOAD_FIELD}', ARGV[4])
end
return {epoch, seq}
`;

type PublishCommand = (epochKey: string, seqKey: string, stream: string, nowMs: string, symbol: string, retention: string, payload: string) => Promise<[string, number]>;

function decodeEntry(entry: StreamEntry): SequencedQuote {
  const [epoch, seq] = entry.id.split("-").map(Number);
  return quoteFromJson(entry.payload, { epoch: epoch!, seq: seq! });
}

/**
 * The quote bus on Redis: a Lua script sequences and appends each quote atomically, and the platform
 * stream bus delivers the streams to every market data process and reads them back for resume.
 */
export function createRedisQuoteBus(options: RedisQuoteBusOptions): QuoteBus {
  const commandTimeoutMs = options.commandTimeoutMs ?? 1_000;
  const namespace = options.namespace ?? "";
  const epochKey = `${namespace}marketdata:quote-epoch`;
  const seqKey = `${namespace}marketdata:quote-seq`;
  // One Redis stream per symbol; the platform stream bus uses stream names as keys.
  const streamPrefix = `${namespace}marketdata.quotes.`;
  const quoteStreamOf = (symbol: string): string => streamPrefix + symbol;
  // Errors surface on the commands that hit them; the connection itself just reconnects (redis-connection.ts).
  const redis = openRedisCommands(options.url, commandTimeoutMs);
  redis.defineCommand("publishQuote", { numberOfKeys: 3, lua: PUBLISH_SCRIPT });
  const publishQuote = (redis as unknown as { publishQuote: PublishCommand }).publishQuote.bind(redis);

  const whenReady = (): Promise<void> =>
    redis.status === "ready"
      ? Promise.resolve()
      : new Promise((resolve, reject) => {
          const timer = setTimeout(() => reject(new Error("redis is not reachable")), Math.max(1_000, commandTimeoutMs));
          redis.once("ready", () => {
            clearTimeout(timer);
            resolve();
          });
        });

  return {
    async publish(quote: Quote) {
      const publishedAtMs = options.nowMs();
      try {
        if (redis.status !== "ready") await whenReady();
        const [epoch, seq] = await publishQuote(
          epochKey,
          seqKey,
          quoteStreamOf(quote.symbol),
          String(publishedAtMs),
          quote.symbol,
          String(options.retentionPerSymbol),
          quoteToJson(quote, publishedAtMs),
        );
        return { ...quote, epoch: Number(epoch), seq: Number(seq), publishedAtMs };
      } catch (error) {
        // Without the bus no seq can be assigned; the feed should retry the call (its ticks are keyed
        // by timestamp, so ticks that did get through are rejected as stale, not counted twice).
        throw unavailable("QUOTE_BUS_UNAVAILABLE", "the quote bus is unavailable; retry the feed later", { cause: error, retryAfterMs: 1_000 });
      }
    },

    async currentEpoch() {
      await whenReady();
      await redis.set(epochKey, String(options.nowMs()), "NX");
      return Number(await redis.get(epochKey));
    },

    async latest(symbols) {
      await whenReady();
      const newest = await Promise.all(
        symbols.map((symbol) => redis.xrevrange(quoteStreamOf(symbol), "+", "-", "COUNT", 1) as Promise<[string, string[]][]>),
      );
      return newest.flatMap((entries) => {
        const [id, fields] = entries[0] ?? [];
        if (id === undefined || fields === undefined) return [];
        const payload = fields[fields.indexOf(PAYLOAD_FIELD) + 1] ?? "";
        return [decodeEntry({ id, payload })];
      });
    },

    async replay(symbol, epoch, fromSeq, toSeq) {
      const count = toSeq - fromSeq + 1;
      if (count <= 0) return [];
      const entries = await options.streams.readAfter(quoteStreamOf(symbol), `${epoch}-${fromSeq - 1}`, count);
      const quotes = entries.map(decodeEntry);
      // Trimming or an epoch change leaves holes; a replay is all of fromSeq..toSeq or nothing.
      const isComplete = quotes.length === count && quotes.every((quote, index) => quote.epoch === epoch && quote.seq === fromSeq + index);
      return isComplete ? quotes : undefined;
    },

    async subscribe(symbols, onQuote) {
      // The stream bus refuses commands until its connection is up (no offline queue); wait for it.
      await options.streams.probe();
      const subscription = await options.streams.subscribe(symbols.map(quoteStreamOf), (stream, entry) => {
        const quote = decodeEntry(entry);
        if (streamPrefix + quote.symbol === stream) onQuote(quote);
      });
      return { close: () => subscription.close() };
    },

    async close() {
      try {
        await redis.quit();
      } catch {
        redis.disconnect();
      }
    },
  };
}

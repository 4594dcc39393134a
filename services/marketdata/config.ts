import { durationMs, int, loadConfig, str, type ConfigOf } from "../platform/config";

/** Market data's own configuration keys (the shared ones, ports and backend URLs, are the runtime's). */
export const marketDataConfigSpec = {
  streams: {
    heartbeatIntervalMs: durationMs({ env: "MARKETDATA_HEARTBEAT_INTERVAL", default: 5_000, description: "HEARTBEAT frame interval of StreamQuotes" }),
    bufferCapacity: int({
      env: "MARKETDATA_STREAM_BUFFER",
      default: 256,
      validate: (value) => (value >= 1 ? undefined : "must be at least 1"),
      description: "unsent updates kept per stream before conflation starts (raised to the symbol limit)",
    }),
    maxStreamsPerCaller: int({ env: "MARKETDATA_MAX_STREAMS_PER_CALLER", default: 16, validate: (value) => (value >= 1 ? undefined : "must be at least 1") }),
    maxSymbolsPerStream: int({ env: "MARKETDATA_MAX_SYMBOLS_PER_STREAM", default: 200, validate: (value) => (value >= 1 ? undefined : "must be at least 1") }),
    updateForwardTimeoutMs: durationMs({
      env: "MARKETDATA_UPDATE_FORWARD_TIMEOUT",
      default: 2_000,
      minMs: 1,
      description:
        "how long UpdateSubscription waits for other instances that received a stream's update but did not answer; then the stream counts as not found",
    }),
    maxReplayPerSymbol: int({
      env: "MARKETDATA_MAX_REPLAY_PER_SYMBOL",
      default: 1_000,
      description: "above this many missed updates of one symbol, a resume sends GAP + SNAPSHOT instead of replaying",
    }),
  },
  bus: {
    replayRetentionMs: durationMs({
      env: "MARKETDATA_REPLAY_RETENTION",
      default: 15 * 60_000,
      description: "age after which the in-process bus no longer replays an update (Redis keeps QUOTE_BUS_RETENTION entries)",
    }),
    namespace: str({
      env: "MARKETDATA_BUS_NAMESPACE",
      default: "",
      description: "prefix of the quote bus and quote cache keys; processes sharing quotes use the same one",
    }),
  },
  quotes: {
    cacheTtlMs: durationMs({ env: "MARKETDATA_QUOTE_CACHE_TTL", default: 5 * 60_000, description: "TTL of quote:{SYMBOL} cache entries" }),
    maxTickAgeMs: durationMs({ env: "MARKETDATA_MAX_TICK_AGE", default: 5 * 60_000, description: "ticks older than this are STALE_TIMESTAMP" }),
    maxClockSkewMs: durationMs({ env: "MARKETDATA_MAX_CLOCK_SKEW", default: 5_000, description: "how far a tick may be ahead of the server clock" }),
    tickBatchSize: int({ env: "MARKETDATA_TICK_BATCH_SIZE", default: 500, validate: (value) => (value >= 1 ? undefined : "must be at least 1") }),
    tickFlushIntervalMs: durationMs({ env: "MARKETDATA_TICK_FLUSH_INTERVAL", default: 100 }),
    maxPendingTicks: int({ env: "MARKETDATA_TICK_MAX_PENDING", default: 100_000, description: "ticks held while Postgres is down" }),
  },
  simulator: {
    ticksPerSecond: int({
      env: "MARKETDATA_SIMULATOR_RATE",
      default: 1,
      validate: (value) => (value >= 0 && value <= 1_000 ? undefined : "must be between 0 and 1000"),
      description: "simulated ticks per second per tradable symbol; 0 turns the simulator off (run it on one instance only)",
    }),
    seed: int({ env: "MARKETDATA_SIMULATOR_SEED", default: 42 }),
  },
};

export type MarketDataConfig = ConfigOf<typeof marketDataConfigSpec>;

/** Reads and checks market data's keys once at startup; every problem is reported together. */
export function loadMarketDataConfig(env: NodeJS.ProcessEnv): MarketDataConfig {
  return loadConfig(marketDataConfigSpec, env);
}

// Composition root of the market data service: the only place that reads configuration and constructs
// things. It wires the instrument registry, the quote store and cache, the quote bus with its fan-out,
// the batch tick writer and the simulator, then registers the gRPC service on the runtime.
import { randomUUID } from "node:crypto";
import * as path from "node:path";
import { MarketDataServiceDefinition } from "../../generated/tradeplane/marketdata/v1/market_data_service";
import { createMemoryPubSub } from "../platform/pubsub-memory";
import { createRedisPubSub } from "../platform/pubsub-redis";
import { createRequestReplyBus } from "../platform/request-reply";
import { startServices, type RunningService, type Runtime } from "../platform/runtime";
import { loadInstruments } from "./adapters/instrument-store";
import { marketDataMetrics } from "./adapters/market-data-metrics";
import { createMemoryQuoteBus } from "./adapters/quote-bus-memory";
import { createRedisQuoteBus } from "./adapters/quote-bus-redis";
import { createQuoteCache } from "./adapters/quote-cache";
import { createQuoteStore } from "./adapters/quote-store";
import { createSubscriptionRelay } from "./adapters/subscription-relay";
import { loadMarketDataConfig } from "./config";
import { InstrumentRegistry } from "./domain/instrument-registry";
import type { PublishTicksDeps } from "./domain/publish-ticks";
import type { Quote, SequencedQuote } from "./domain/quote";
import type { QuoteBus } from "./domain/quote-bus";
import { QuoteFanout } from "./domain/quote-fanout";
import { QuoteSimulator } from "./domain/quote-simulator";
import { updateSubscription, type UpdateAnySubscriptionDeps } from "./domain/quote-streams";
import type { ReadQuotesDeps } from "./domain/read-quotes";
import { StreamRegistry } from "./domain/stream-registry";
import { TickBatcher } from "./domain/tick-batcher";
import { startSimulatorFeed } from "./feed/simulator-feed";
import { createMarketDataService } from "./grpc/market-data-service";

/** Relative size of one simulated step: 5 basis points, a calm intraday market at one tick per second. */
const SIMULATOR_VOLATILITY_PER_STEP = 0.0005;

/**
 * The quotes a fresh fan-out starts from: the bus's newest per symbol when it is from the current
 * epoch; otherwise the stored quote, relabelled as the new epoch's seq 0 (the state before its first
 * update), so snapshots carry a price right after a restart.
 */
function startingQuotes(epoch: number, fromBus: readonly SequencedQuote[], stored: readonly SequencedQuote[]): SequencedQuote[] {
  const bySymbol = new Map<string, SequencedQuote>();
  for (const quote of stored) bySymbol.set(quote.symbol, quote.epoch === epoch ? quote : { ...quote, epoch, seq: 0 });
  for (const quote of fromBus) {
    const current = bySymbol.get(quote.symbol);
    if (quote.epoch === epoch && (!current || quote.seq >= current.seq)) bySymbol.set(quote.symbol, quote);
  }
  return [...bySymbol.values()];
}

/** Adds the market data service (and its simulator) to a runtime. */
export async function register(runtime: Runtime): Promise<void> {
  const config = loadMarketDataConfig(runtime.env);
  const logger = runtime.logger.child({ service: "marketdata" });
  const metrics = marketDataMetrics();
  const nowMs = () => Date.now();

  const db = await runtime.openDatabase("marketdata", path.join(__dirname, "migrations"));
  const registry = new InstrumentRegistry(await loadInstruments(db.knex, db.schema));
  const symbols = registry.all().map((instrument) => instrument.symbol);
  const store = createQuoteStore(db.knex, db.schema);
  const quoteCache = createQuoteCache(runtime.cache, config.quotes.cacheTtlMs, config.bus.namespace);
  const onCacheFailure = (error: unknown) => {
    metrics.cacheDegraded.inc();
    logger.debug("quote cache unavailable; serving from Postgres", { error: String(error) });
  };

  const bus: QuoteBus = runtime.config.redisUrl
    ? createRedisQuoteBus({
        url: runtime.config.redisUrl,
        streams: runtime.bus,
        retentionPerSymbol: runtime.config.busRetention,
        nowMs,
        namespace: config.bus.namespace,
      })
    : createMemoryQuoteBus({ retentionPerSymbol: runtime.config.busRetention, retentionMs: config.bus.replayRetentionMs, nowMs });
  runtime.onStop(() => bus.close());

  const epoch = await bus.currentEpoch();
  const stored = await store.allLatestQuotes();
  const fanout = new QuoteFanout(epoch, startingQuotes(epoch, await bus.latest(symbols), stored));
  await quoteCache.setMany(stored).catch(onCacheFailure);
  const busSubscription = await bus.subscribe(symbols, (quote) => fanout.deliver(quote));
  runtime.onStop(() => busSubscription.close());

  const batcher = new TickBatcher(
    async (batch) => {
      await store.appendTicks(batch);
      await quoteCache.invalidate([...new Set(batch.map((quote) => quote.symbol))]).catch(onCacheFailure);
    },
    {
      maxBatchSize: config.quotes.tickBatchSize,
      flushIntervalMs: config.quotes.tickFlushIntervalMs,
      maxPending: config.quotes.maxPendingTicks,
      onWriteFailure: (error) => {
        metrics.tickWriteFailures.inc();
        logger.warn("tick batch write failed; will retry", { error: String(error) });
      },
      onDropped: (count) => metrics.ticksDropped.inc(count),
    },
  );
  runtime.onStop(() => batcher.close());

  // Newest quote accepted by this process, ahead of the bus delivering it back.
  const acceptedBySymbol = new Map<string, Quote>();
  const publishing: PublishTicksDeps = {
    registry,
    publisher: bus,
    recorder: {
      record(quotes) {
        metrics.ticksAccepted.inc(quotes.length);
        batcher.record(quotes);
      },
      flush: () => batcher.flush(),
    },
    latestQuote: (symbol) => {
      const accepted = acceptedBySymbol.get(symbol);
      const delivered = fanout.latestQuote(symbol);
      if (!accepted) return delivered;
      return delivered && delivered.exchangeTimeMs > accepted.exchangeTimeMs ? delivered : accepted;
    },
    rememberAccepted: (quote) => acceptedBySymbol.set(quote.symbol, quote),
    nowMs,
    maxTickAgeMs: config.quotes.maxTickAgeMs,
    maxClockSkewMs: config.quotes.maxClockSkewMs,
  };

  const reads: ReadQuotesDeps = { registry, cache: quoteCache, store, onCacheFailure };
  // A stream lives in the instance that opened it; UpdateSubscription calls reaching another instance are handed to it
  // over Redis pub/sub (channels under the bus namespace, like the quotes). Alone, the in-process stand-in answers.
  const relayBus = createRequestReplyBus(
    runtime.config.redisUrl
      ? createRedisPubSub({ url: runtime.config.redisUrl, channelPrefix: config.bus.namespace, logger })
      : createMemoryPubSub({ logger }),
    { logger },
  );
  runtime.onStop(() => relayBus.close());
  const relay = createSubscriptionRelay(relayBus, { timeoutMs: config.streams.updateForwardTimeoutMs });
  const streams: UpdateAnySubscriptionDeps = {
    registry: new StreamRegistry({
      maxStreamsPerCaller: config.streams.maxStreamsPerCaller,
      maxSymbolsPerStream: config.streams.maxSymbolsPerStream,
    }),
    fanout,
    replay: bus,
    isKnownSymbol: (symbol) => registry.isKnownSymbol(symbol),
    bufferCapacity: config.streams.bufferCapacity,
    maxReplayPerSymbol: config.streams.maxReplayPerSymbol,
    newStreamId: randomUUID,
    otherInstances: relay,
  };
  await relay.serve((request) => (streams.registry.holds(request.streamId) ? updateSubscription(streams, request) : undefined));

  runtime.grpc.add(
    MarketDataServiceDefinition,
    createMarketDataService({
      registry,
      reads,
      bars: { registry, store, nowMs },
      streams,
      publishing,
      nowMs,
      metrics,
    }),
    { probe: () => db.probe() },
  );
  // One timer for every stream's heartbeat: with ten thousand streams, one timer per stream would cost
  // memory and wake-ups for nothing.
  const heartbeats = setInterval(() => {
    for (const subscription of streams.registry.all()) subscription.requestHeartbeat();
  }, config.streams.heartbeatIntervalMs);
  runtime.onStop(() => clearInterval(heartbeats));

  if (config.simulator.ticksPerSecond > 0) {
    const tradable = registry.all().filter((instrument) => instrument.status === "ACTIVE");
    const startPrices = new Map(stored.map((quote) => [quote.symbol, quote.last]));
    const simulator = new QuoteSimulator(
      tradable,
      { seed: config.simulator.seed, volatilityPerStep: SIMULATOR_VOLATILITY_PER_STEP, maxHalfSpreadTicks: 2 },
      startPrices,
    );
    const feed = await startSimulatorFeed({
      simulator,
      publisher: bus,
      recorder: publishing.recorder,
      rememberAccepted: publishing.rememberAccepted,
      ticksPerSecond: config.simulator.ticksPerSecond,
      nowMs,
      onError: (error) => logger.warn("simulated quotes could not be published", { error: String(error) }),
    });
    runtime.onStop(() => feed.stop());
  }
  logger.info("market data ready", { instruments: symbols.length, epoch, bus: runtime.config.redisUrl ? "redis" : "memory" });
}

/** Runs the market data service alone on its own runtime (ports from GRPC_PORT / HTTP_PORT). */
export function start(env: NodeJS.ProcessEnv = process.env): Promise<RunningService> {
  return startServices([register], env);
}

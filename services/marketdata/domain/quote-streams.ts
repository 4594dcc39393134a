import { MarketDataError } from "./errors";
import { normalizeSymbol } from "./instrument";
import { planResume } from "./plan-resume";
import type { QuoteFanout } from "./quote-fanout";
import type { StreamEndReason } from "./quote-frame";
import { QuoteSubscription } from "./quote-subscription";
import type { QuoteReplaySource } from "./replay-ring";
import { decodeResumeToken } from "./resume-token";
import { streamNotFound, type StreamRegistry } from "./stream-registry";

/** Everything the quote-stream use cases need; built once in main.ts. */
export interface QuoteStreamDeps {
  readonly registry: StreamRegistry;
  readonly fanout: QuoteFanout;
  readonly replay: QuoteReplaySource;
  readonly isKnownSymbol: (symbol: string) => boolean;
  /** Unsent live updates kept per stream before conflation starts (raised to the symbol limit). */
  readonly bufferCapacity: number;
  /** Above this many missed updates for one symbol a resume sends a snapshot instead of replaying. */
  readonly maxReplayPerSymbol: number;
  readonly newStreamId: () => string;
}

export interface OpenQuoteStreamRequest {
  readonly callerId: string;
  /** Symbols to follow; when empty, the symbols recorded in the resume token. */
  readonly symbols: readonly string[];
  readonly resumeToken?: string;
}

export interface UpdateSubscriptionRequest {
  readonly callerId: string;
  readonly streamId: string;
  readonly add: readonly string[];
  readonly remove: readonly string[];
}

/**
 * The other market data instances sharing the quote bus. A stream lives in the memory of the instance that opened
 * it, while an UpdateSubscription may reach any instance; one that does not hold the stream hands the update on.
 */
export interface OtherInstances {
  /**
   * Has the instance holding `request.streamId` apply the update with its own rules: resolves with the symbols the
   * stream now follows, or undefined when no instance holds it; rejects with the holder's error (e.g. UNKNOWN_SYMBOL,
   * STREAM_NOT_FOUND for another caller's stream). `signal` stops the wait when the caller goes away.
   */
  updateSubscription(request: UpdateSubscriptionRequest, signal?: AbortSignal): Promise<readonly string[] | undefined>;
}

/** What UpdateSubscription needs when streams may be held by other instances. */
export interface UpdateAnySubscriptionDeps extends QuoteStreamDeps {
  readonly otherInstances: OtherInstances;
}

/** Normalize, de-duplicate and check symbols; all unknown ones are reported together. */
function resolveSymbols(deps: QuoteStreamDeps, raw: readonly string[]): string[] {
  const symbols = [...new Set(raw.map(normalizeSymbol))];
  const unknown = symbols.filter((symbol) => !deps.isKnownSymbol(symbol));
  if (unknown.length > 0) {
    throw new MarketDataError("UNKNOWN_SYMBOL", `unknown symbol${unknown.length > 1 ? "s" : ""}: ${unknown.join(", ")}`, {
      field: "symbols",
      symbols: unknown,
    });
  }
  return symbols;
}

/**
 * Open a quote stream: check symbols and quotas, register with the fan-out, and queue each
 * symbol's catch-up (snapshot, replay of missed updates, or GAP + snapshot) before live updates are
 * released. Attaching and reading the latest seq happen in one synchronous step, so no live update
 * can fall between the catch-up and the buffer.
 */
export async function openQuoteStream(deps: QuoteStreamDeps, request: OpenQuoteStreamRequest): Promise<QuoteSubscription> {
  const position = request.resumeToken ? decodeResumeToken(request.resumeToken) : undefined;
  const requested = request.symbols.length > 0 ? request.symbols : [...(position?.seqBySymbol.keys() ?? [])];
  if (requested.length === 0) {
    throw new MarketDataError("INVALID_ARGUMENT", "at least one symbol is required", { field: "symbols" });
  }
  const symbols = resolveSymbols(deps, requested);
  deps.registry.checkSymbolCount(symbols.length);

  const { fanout } = deps;
  const epoch = fanout.currentEpoch;
  const capacity = Math.max(deps.bufferCapacity, deps.registry.limits.maxSymbolsPerStream);
  const subscription = new QuoteSubscription(deps.newStreamId(), request.callerId, epoch, capacity);
  deps.registry.register(subscription);
  try {
    const steps = planResume({
      symbols,
      position,
      currentEpoch: epoch,
      latestSeq: (symbol) => fanout.latestSeq(symbol),
      maxReplayPerSymbol: deps.maxReplayPerSymbol,
    });
    const replays: { symbol: string; fromSeq: number; toSeq: number }[] = [];
    for (const step of steps) {
      fanout.attach(subscription, step.symbol);
      switch (step.kind) {
        case "SNAPSHOT":
          subscription.addWithSnapshot(step.symbol, fanout.latestQuote(step.symbol));
          break;
        case "UP_TO_DATE":
          subscription.addUpToDate(step.symbol, step.seq);
          break;
        case "GAP":
          subscription.addUpToDate(step.symbol, step.lastSeenSeq);
          subscription.resync(step.symbol, step.reason, fanout.latestQuote(step.symbol));
          break;
        case "REPLAY":
          subscription.addAwaitingReplay(step.symbol, step.fromSeq - 1, step.toSeq);
          replays.push(step);
          break;
      }
    }
    await Promise.all(
      replays.map(async ({ symbol, fromSeq, toSeq }) => {
        const quotes = await deps.replay.replay(symbol, epoch, fromSeq, toSeq);
        if (!subscription.isAwaitingReplay(symbol)) return; // A resync overtook the read.
        if (quotes && quotes.length === toSeq - fromSeq + 1) subscription.completeReplay(symbol, quotes);
        else subscription.resync(symbol, "BUFFER_EXPIRED", fanout.latestQuote(symbol));
      }),
    );
    subscription.start();
    return subscription;
  } catch (error) {
    closeQuoteStream(deps, subscription);
    throw error;
  }
}

/**
 * Change a running stream's symbols without reconnecting. Removals apply first, so a swap at the
 * symbol limit succeeds; added symbols start with a SNAPSHOT. Returns the symbols now followed.
 */
export function updateSubscription(deps: QuoteStreamDeps, request: UpdateSubscriptionRequest): string[] {
  const subscription = deps.registry.find(request.streamId, request.callerId);
  const toRemove = new Set(request.remove.map(normalizeSymbol));
  const toAdd = resolveSymbols(deps, request.add).filter((symbol) => !toRemove.has(symbol));
  const resulting = new Set(subscription.subscribedSymbols.filter((symbol) => !toRemove.has(symbol)));
  for (const symbol of toAdd) resulting.add(symbol);
  deps.registry.checkSymbolCount(resulting.size);

  for (const symbol of toRemove) {
    deps.fanout.detach(subscription, symbol);
    subscription.remove(symbol);
  }
  for (const symbol of toAdd) {
    deps.fanout.attach(subscription, symbol);
    subscription.addWithSnapshot(symbol, deps.fanout.latestQuote(symbol));
  }
  return subscription.subscribedSymbols;
}

/**
 * UpdateSubscription whichever instance receives it: a stream held here is changed here; any other is changed by
 * the instance holding it, so the answer and the errors are the same. STREAM_NOT_FOUND when no instance holds it.
 */
export async function updateSubscriptionOnAnyInstance(
  deps: UpdateAnySubscriptionDeps,
  request: UpdateSubscriptionRequest,
  signal?: AbortSignal,
): Promise<string[]> {
  if (deps.registry.holds(request.streamId)) return updateSubscription(deps, request);
  const symbols = await deps.otherInstances.updateSubscription(request, signal);
  if (symbols === undefined) throw streamNotFound(request.streamId);
  return [...symbols];
}

/** Release a stream's fan-out routes and quota slot; safe to call twice. */
export function closeQuoteStream(deps: Pick<QuoteStreamDeps, "registry" | "fanout">, subscription: QuoteSubscription): void {
  deps.fanout.detachAll(subscription);
  deps.registry.unregister(subscription);
}

/** Ask every open stream to finish with a final frame (graceful shutdown). */
export function endAllQuoteStreams(deps: Pick<QuoteStreamDeps, "registry">, reason: StreamEndReason): void {
  for (const subscription of deps.registry.all()) subscription.end(reason);
}

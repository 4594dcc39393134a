import type { Quote, SequencedQuote } from "../domain/quote";
import type { QuoteBus } from "../domain/quote-bus";
import { QuoteSequencer } from "../domain/quote-sequencer";
import { ReplayRing } from "../domain/replay-ring";

export interface MemoryQuoteBusOptions {
  /** Updates kept per symbol for resume. */
  readonly retentionPerSymbol: number;
  /** Updates older than this are not replayed. */
  readonly retentionMs: number;
  readonly nowMs: () => number;
}

/**
 * The in-process quote bus, used when no Redis is configured: one process is the whole market, so a
 * local sequencer is the shared sequence space and its epoch is the process start. Deliveries run on
 * a later microtask, in publish order, as they would from Redis.
 */
export function createMemoryQuoteBus(options: MemoryQuoteBusOptions): QuoteBus {
  const epoch = options.nowMs();
  const sequencer = new QuoteSequencer(epoch);
  const ring = new ReplayRing({ capacityPerSymbol: options.retentionPerSymbol, retentionMs: options.retentionMs, nowMs: options.nowMs });
  const latestBySymbol = new Map<string, SequencedQuote>();
  const listeners = new Map<string, Set<(quote: SequencedQuote) => void>>();
  let isClosed = false;

  return {
    async publish(quote: Quote) {
      if (isClosed) throw new Error("quote bus is closed");
      const sequenced: SequencedQuote = { ...quote, seq: sequencer.next(quote.symbol), epoch, publishedAtMs: options.nowMs() };
      ring.append(sequenced);
      latestBySymbol.set(sequenced.symbol, sequenced);
      for (const listener of listeners.get(sequenced.symbol) ?? []) queueMicrotask(() => listener(sequenced));
      return sequenced;
    },
    async currentEpoch() {
      return epoch;
    },
    async latest(symbols) {
      return symbols.flatMap((symbol) => {
        const quote = latestBySymbol.get(symbol);
        return quote ? [quote] : [];
      });
    },
    replay: (symbol, replayEpoch, fromSeq, toSeq) => ring.replay(symbol, replayEpoch, fromSeq, toSeq),
    async subscribe(symbols, onQuote) {
      // Each subscription has its own listener identity, so one callback subscribed twice is two listeners.
      const listener = (quote: SequencedQuote) => onQuote(quote);
      for (const symbol of symbols) {
        let set = listeners.get(symbol);
        if (!set) listeners.set(symbol, (set = new Set()));
        set.add(listener);
      }
      return {
        async close() {
          for (const symbol of symbols) listeners.get(symbol)?.delete(listener);
        },
      };
    },
    async close() {
      isClosed = true;
      listeners.clear();
    },
  };
}

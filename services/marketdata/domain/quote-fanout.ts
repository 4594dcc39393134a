import type { SequencedQuote } from "./quote";
import { SequenceTracker } from "./quote-sequencer";
import type { QuoteSubscription } from "./quote-subscription";

/**
 * Hands each quote from the bus to the subscriptions that follow its symbol, and keeps the latest
 * quote per symbol so a new subscriber's SNAPSHOT is consistent with the updates that follow it
 * (both come from the same single-threaded stream of bus messages).
 *
 * Quotes are checked for contiguity on the way in: a duplicate is dropped, and a hole (a lost bus
 * message) or a new epoch turns into GAP + SNAPSHOT for the affected subscribers instead of being
 * passed on silently.
 */
export class QuoteFanout {
  private epoch: number;
  private readonly latestBySymbol = new Map<string, SequencedQuote>();
  private readonly subscribersBySymbol = new Map<string, Set<QuoteSubscription>>();
  private readonly tracker = new SequenceTracker();

  constructor(epoch: number, latestQuotes: Iterable<SequencedQuote> = []) {
    this.epoch = epoch;
    const seeds: [string, number][] = [];
    for (const quote of latestQuotes) {
      if (quote.epoch !== epoch) continue;
      this.latestBySymbol.set(quote.symbol, quote);
      seeds.push([quote.symbol, quote.seq]);
    }
    this.tracker.seed(epoch, seeds);
  }

  get currentEpoch(): number {
    return this.epoch;
  }

  latestQuote(symbol: string): SequencedQuote | undefined {
    return this.latestBySymbol.get(symbol);
  }

  /** Latest seq of a symbol, 0 when it has not been quoted in this epoch. */
  latestSeq(symbol: string): number {
    return this.latestBySymbol.get(symbol)?.seq ?? 0;
  }

  /** Number of subscriptions following a symbol (for metrics and tests). */
  subscriberCount(symbol: string): number {
    return this.subscribersBySymbol.get(symbol)?.size ?? 0;
  }

  /** Route a symbol's updates to a subscription from now on. */
  attach(subscription: QuoteSubscription, symbol: string): void {
    let subscribers = this.subscribersBySymbol.get(symbol);
    if (!subscribers) {
      subscribers = new Set();
      this.subscribersBySymbol.set(symbol, subscribers);
    }
    subscribers.add(subscription);
  }

  detach(subscription: QuoteSubscription, symbol: string): void {
    const subscribers = this.subscribersBySymbol.get(symbol);
    if (!subscribers) return;
    subscribers.delete(subscription);
    if (subscribers.size === 0) this.subscribersBySymbol.delete(symbol);
  }

  detachAll(subscription: QuoteSubscription): void {
    for (const symbol of subscription.subscribedSymbols) this.detach(subscription, symbol);
  }

  /** One quote from the bus. */
  deliver(quote: SequencedQuote): void {
    if (quote.epoch !== this.epoch) {
      if (quote.epoch < this.epoch) return; // A straggler from the old sequence space.
      this.startEpoch(quote.epoch);
    }
    const observation = this.tracker.observe(quote.symbol, quote.seq, quote.epoch);
    if (observation.kind === "DUPLICATE") return;
    this.latestBySymbol.set(quote.symbol, quote);
    const subscribers = this.subscribersBySymbol.get(quote.symbol);
    if (!subscribers) return;
    if (observation.kind === "GAP") {
      for (const subscription of subscribers) subscription.resync(quote.symbol, "BUS_GAP", quote);
      return;
    }
    for (const subscription of subscribers) subscription.offer(quote);
  }

  /**
   * A newer epoch began (the shared sequence space was reset). The last known quotes stay as the
   * new epoch's seq-0 state, so the first update of the new epoch follows them without a hole.
   */
  private startEpoch(epoch: number): void {
    this.epoch = epoch;
    for (const [symbol, quote] of this.latestBySymbol) this.latestBySymbol.set(symbol, { ...quote, epoch, seq: 0 });
    this.tracker.seed(epoch, [...this.latestBySymbol.keys()].map((symbol): [string, number] => [symbol, 0]));
    const everyone = new Set<QuoteSubscription>();
    for (const subscribers of this.subscribersBySymbol.values()) for (const subscription of subscribers) everyone.add(subscription);
    for (const subscription of everyone) subscription.changeEpoch(epoch, (symbol) => this.latestBySymbol.get(symbol));
  }
}

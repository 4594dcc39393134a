import { MarketDataError } from "./errors";
import type { QuoteSubscription } from "./quote-subscription";

/** Quotas on streaming, per caller (the token's subject). */
export interface StreamLimits {
  readonly maxStreamsPerCaller: number;
  readonly maxSymbolsPerStream: number;
}

/**
 * The open quote streams of this process, by id and by caller, enforcing the per-caller quotas.
 * A stream is found only by its own caller: another caller's stream id is reported as not found, as
 * the orders service does with another portfolio's order, so a caller learns nothing of other streams.
 */
export class StreamRegistry {
  private readonly byId = new Map<string, QuoteSubscription>();
  private readonly countByCaller = new Map<string, number>();

  constructor(readonly limits: StreamLimits) {}

  get openStreamCount(): number {
    return this.byId.size;
  }

  /** Throws TOO_MANY_SYMBOLS when a stream would follow more symbols than allowed. */
  checkSymbolCount(count: number): void {
    if (count > this.limits.maxSymbolsPerStream) {
      throw new MarketDataError(
        "TOO_MANY_SYMBOLS",
        `a stream may follow at most ${this.limits.maxSymbolsPerStream} symbols, ${count} requested`,
        { field: "symbols", limit: this.limits.maxSymbolsPerStream },
      );
    }
  }

  /** Throws TOO_MANY_STREAMS when the caller already has its quota of open streams. */
  register(subscription: QuoteSubscription): void {
    const count = this.countByCaller.get(subscription.callerId) ?? 0;
    if (count >= this.limits.maxStreamsPerCaller) {
      throw new MarketDataError(
        "TOO_MANY_STREAMS",
        `at most ${this.limits.maxStreamsPerCaller} quote streams may be open per caller`,
        { limit: this.limits.maxStreamsPerCaller },
      );
    }
    this.byId.set(subscription.streamId, subscription);
    this.countByCaller.set(subscription.callerId, count + 1);
  }

  unregister(subscription: QuoteSubscription): void {
    if (this.byId.get(subscription.streamId) !== subscription) return;
    this.byId.delete(subscription.streamId);
    const count = (this.countByCaller.get(subscription.callerId) ?? 1) - 1;
    if (count > 0) this.countByCaller.set(subscription.callerId, count);
    else this.countByCaller.delete(subscription.callerId);
  }

  /** Whether this process holds an open stream with this id (of any caller). */
  holds(streamId: string): boolean {
    return this.byId.has(streamId);
  }

  /** The caller's open stream with this id; throws STREAM_NOT_FOUND otherwise (another caller's stream too). */
  find(streamId: string, callerId: string): QuoteSubscription {
    const subscription = this.byId.get(streamId);
    if (!subscription || subscription.callerId !== callerId) throw streamNotFound(streamId);
    return subscription;
  }

  all(): QuoteSubscription[] {
    return [...this.byId.values()];
  }
}

/** No instance holds an open stream with this id: it never existed, or it has ended. */
export function streamNotFound(streamId: string): MarketDataError {
  return new MarketDataError("STREAM_NOT_FOUND", `no open quote stream "${streamId}"`, { field: "stream_id" });
}

import { ConflatingBuffer } from "./conflating-buffer";
import type { GapReason } from "./plan-resume";
import type { SequencedQuote } from "./quote";
import type { QuoteFrame, StreamEndReason } from "./quote-frame";
import { encodeResumeToken, encodeSingleSymbolToken } from "./resume-token";

interface SymbolState {
  /** Highest seq already queued (control frames or buffer); live updates at or below it are dropped. */
  lastQueuedSeq: number;
  /** Highest seq handed to the transport; what a resume token records. */
  lastSentSeq: number;
  /** Set while a resume replay up to this seq is being read; a resync cancels it. */
  awaitingReplayToSeq: number | undefined;
}

type SymbolFrame = Extract<QuoteFrame, { symbol: string }>;

/**
 * One subscriber's view of the quote feed: which symbols it follows, what it has been sent, and the
 * bounded queue of what it has not. The transport pulls frames when it can write; nothing is pushed
 * at it, so a stalled client costs at most `bufferCapacity` queued updates, a catch-up frame or two
 * per symbol, and one pending heartbeat.
 *
 * Catch-up frames (snapshots, replays, gaps) are sent before buffered live updates; per symbol they
 * always carry lower seqs than anything buffered, which keeps every symbol's order.
 */
export class QuoteSubscription {
  private readonly symbols = new Map<string, SymbolState>();
  private catchUp: SymbolFrame[] = [];
  private readonly buffer: ConflatingBuffer<SequencedQuote>;
  private isHeartbeatDue = false;
  /** An update whose LAGGED notice was just sent; it goes out next. */
  private afterLagged: SequencedQuote | undefined;
  private endReason: StreamEndReason | undefined;
  private isEndSent = false;
  private isStarted = false;
  private wake: (() => void) | undefined;
  /**
   * The resume token of what has been sent so far, kept until the position changes: frames that move no seq
   * (heartbeats, LAGGED, GAP, END) reuse it, and every frame needs one.
   */
  private token: string | undefined;

  constructor(
    readonly streamId: string,
    readonly callerId: string,
    private epoch: number,
    bufferCapacity: number,
  ) {
    this.buffer = new ConflatingBuffer(bufferCapacity);
  }

  get subscribedSymbols(): string[] {
    return [...this.symbols.keys()];
  }

  get currentEpoch(): number {
    return this.epoch;
  }

  /** True once the final frame has been pulled; the transport then ends the call. */
  get isFinished(): boolean {
    return this.isEndSent;
  }

  /**
   * Follow a symbol from now on, starting with a SNAPSHOT of its latest quote. A symbol never quoted
   * has no snapshot; its first UPDATE (seq 1) comes when it ticks.
   */
  addWithSnapshot(symbol: string, latest: SequencedQuote | undefined): void {
    if (this.symbols.has(symbol)) return;
    this.symbols.set(symbol, { lastQueuedSeq: latest?.seq ?? 0, lastSentSeq: 0, awaitingReplayToSeq: undefined });
    this.token = undefined;
    if (latest) this.catchUp.push({ kind: "SNAPSHOT", symbol, epoch: this.epoch, seq: latest.seq, quote: latest });
    this.notify();
  }

  /** Follow a symbol the subscriber already holds up to `seq` (resume with nothing missed). */
  addUpToDate(symbol: string, seq: number): void {
    if (this.symbols.has(symbol)) return;
    this.symbols.set(symbol, { lastQueuedSeq: seq, lastSentSeq: seq, awaitingReplayToSeq: undefined });
    this.token = undefined;
  }

  /**
   * Follow a symbol whose missed updates lastSeenSeq+1..latestSeq are about to be replayed; live
   * updates after latestSeq are buffered meanwhile.
   */
  addAwaitingReplay(symbol: string, lastSeenSeq: number, latestSeq: number): void {
    if (this.symbols.has(symbol)) return;
    this.symbols.set(symbol, { lastQueuedSeq: latestSeq, lastSentSeq: lastSeenSeq, awaitingReplayToSeq: latestSeq });
    this.token = undefined;
  }

  /** Queue the replayed updates; ignored when a resync overtook the replay. */
  completeReplay(symbol: string, quotes: readonly SequencedQuote[]): void {
    const state = this.symbols.get(symbol);
    if (!state || state.awaitingReplayToSeq === undefined) return;
    state.awaitingReplayToSeq = undefined;
    for (const quote of quotes) this.catchUp.push({ kind: "UPDATE", symbol, epoch: this.epoch, seq: quote.seq, quote });
    this.notify();
  }

  /** Whether a replay for the symbol is still expected. */
  isAwaitingReplay(symbol: string): boolean {
    return this.symbols.get(symbol)?.awaitingReplayToSeq !== undefined;
  }

  /**
   * Throw away everything unsent for a symbol and send GAP + SNAPSHOT instead: the catch-up when
   * individual updates cannot be delivered (epoch change, trimmed buffer, lost bus message).
   * A symbol not yet followed is added.
   */
  resync(symbol: string, reason: GapReason, latest: SequencedQuote | undefined): void {
    let state = this.symbols.get(symbol);
    if (!state) {
      state = { lastQueuedSeq: 0, lastSentSeq: 0, awaitingReplayToSeq: undefined };
      this.symbols.set(symbol, state);
      this.token = undefined;
    }
    this.catchUp = this.catchUp.filter((frame) => frame.symbol !== symbol);
    this.buffer.removeSymbol(symbol);
    if (this.afterLagged?.symbol === symbol) this.afterLagged = undefined;
    state.lastQueuedSeq = latest?.seq ?? 0;
    state.awaitingReplayToSeq = undefined;
    this.catchUp.push({ kind: "GAP", symbol, epoch: this.epoch, fromSeq: state.lastSentSeq + 1, reason });
    if (latest) this.catchUp.push({ kind: "SNAPSHOT", symbol, epoch: this.epoch, seq: latest.seq, quote: latest });
    this.notify();
  }

  /** The producer started a new epoch: every symbol starts over from a fresh snapshot. */
  changeEpoch(epoch: number, latestOf: (symbol: string) => SequencedQuote | undefined): void {
    this.epoch = epoch;
    this.token = undefined;
    for (const symbol of this.symbols.keys()) this.resync(symbol, "EPOCH_CHANGED", latestOf(symbol));
  }

  /** Stop following a symbol; its unsent frames are forgotten. */
  remove(symbol: string): void {
    if (!this.symbols.delete(symbol)) return;
    this.token = undefined;
    this.catchUp = this.catchUp.filter((frame) => frame.symbol !== symbol);
    this.buffer.removeSymbol(symbol);
    if (this.afterLagged?.symbol === symbol) this.afterLagged = undefined;
  }

  /** A live update from the bus. Updates for other symbols, epochs, or already queued seqs are ignored. */
  offer(quote: SequencedQuote): void {
    const state = this.symbols.get(quote.symbol);
    if (!state || quote.epoch !== this.epoch || quote.seq <= state.lastQueuedSeq) return;
    state.lastQueuedSeq = quote.seq;
    this.buffer.push(quote);
    this.notify();
  }

  /** Ask for a HEARTBEAT; one not yet sent is not queued twice. */
  requestHeartbeat(): void {
    this.isHeartbeatDue = true;
    this.notify();
  }

  /** Release frames to the transport; until then live updates only accumulate (bounded). */
  start(): void {
    this.isStarted = true;
    this.notify();
  }

  /** Finish with a final END frame, sent before anything still queued. */
  end(reason: StreamEndReason): void {
    this.endReason ??= reason;
    this.notify();
  }

  /** The client went away: finish without a final frame and wake a waiting transport. */
  close(): void {
    this.isEndSent = true;
    this.catchUp = [];
    this.afterLagged = undefined;
    const wake = this.wake;
    this.wake = undefined;
    wake?.();
  }

  /** Token that resumes from exactly what has been pulled so far; every frame carries one. */
  resumeToken(): string {
    if (this.token !== undefined) return this.token;
    if (this.symbols.size === 1) {
      // Most streams follow one symbol: their tokens are shared by every subscriber at the same seq.
      for (const [symbol, state] of this.symbols) this.token = encodeSingleSymbolToken(this.epoch, symbol, state.lastSentSeq);
      return this.token!;
    }
    const seqBySymbol = new Map<string, number>();
    for (const [symbol, state] of this.symbols) seqBySymbol.set(symbol, state.lastSentSeq);
    this.token = encodeResumeToken({ epoch: this.epoch, seqBySymbol });
    return this.token;
  }

  /** The next frame to write, or undefined when there is nothing to send now. */
  pull(): QuoteFrame | undefined {
    if (this.isEndSent) return undefined;
    if (this.endReason) {
      this.isEndSent = true;
      return { kind: "END", epoch: this.epoch, reason: this.endReason };
    }
    if (!this.isStarted) return undefined;
    if (this.isHeartbeatDue) {
      this.isHeartbeatDue = false;
      const latestSeqBySymbol = new Map<string, number>();
      for (const [symbol, state] of this.symbols) latestSeqBySymbol.set(symbol, state.lastSentSeq);
      return { kind: "HEARTBEAT", epoch: this.epoch, latestSeqBySymbol };
    }
    const catchUpFrame = this.catchUp.shift();
    if (catchUpFrame) return this.markSent(catchUpFrame);
    if (this.afterLagged) {
      const quote = this.afterLagged;
      this.afterLagged = undefined;
      return this.markSent({ kind: "UPDATE", symbol: quote.symbol, epoch: this.epoch, seq: quote.seq, quote });
    }
    const orphanDrops = this.buffer.takeOrphanDrops();
    if (orphanDrops) return this.lagged(orphanDrops);
    const entry = this.buffer.shift();
    if (!entry) return undefined;
    const quote = entry.item;
    if (entry.droppedBefore > 0) {
      // The seq jumps at this update: announce it right before, with how many updates were replaced.
      this.afterLagged = quote;
      return this.lagged(new Map([[quote.symbol, entry.droppedBefore]]));
    }
    return this.markSent({ kind: "UPDATE", symbol: quote.symbol, epoch: this.epoch, seq: quote.seq, quote });
  }

  private lagged(droppedBySymbol: ReadonlyMap<string, number>): QuoteFrame {
    let droppedCount = 0;
    for (const count of droppedBySymbol.values()) droppedCount += count;
    return { kind: "LAGGED", epoch: this.epoch, droppedCount, droppedBySymbol };
  }

  /** Resolves when `pull` may have something (or the stream should end). */
  whenReadable(): Promise<void> {
    if (this.hasFrame()) return Promise.resolve();
    return new Promise((resolve) => {
      this.wake = resolve;
    });
  }

  private hasFrame(): boolean {
    if (this.isEndSent) return true;
    if (this.endReason) return true;
    return this.isStarted && (this.isHeartbeatDue || this.catchUp.length > 0 || this.afterLagged !== undefined || this.buffer.size > 0);
  }

  private markSent(frame: SymbolFrame): QuoteFrame {
    const state = this.symbols.get(frame.symbol);
    if (state && frame.kind !== "GAP" && state.lastSentSeq !== frame.seq) {
      state.lastSentSeq = frame.seq;
      this.token = undefined;
    }
    return frame;
  }

  private notify(): void {
    const wake = this.wake;
    if (wake && this.hasFrame()) {
      this.wake = undefined;
      wake();
    }
  }
}

import type { SequencedQuote } from "./quote";
import type { QuoteRecorder } from "./publish-ticks";

export interface TickBatcherOptions {
  /** Flush as soon as this many ticks are pending. */
  readonly maxBatchSize: number;
  /** Flush at least this often while ticks are pending. */
  readonly flushIntervalMs: number;
  /**
   * Ticks held while the store is failing; beyond it the oldest are dropped (and counted), so an
   * outage costs tick history, never unbounded memory.
   */
  readonly maxPending: number;
  /** A write failed; it is retried with the next flush. */
  readonly onWriteFailure: (error: unknown) => void;
  /** Ticks dropped because the store stayed down too long. */
  readonly onDropped: (count: number) => void;
}

/**
 * Collects accepted ticks and writes them in batches, one write at a time, so the hot path never
 * performs a single-row insert per tick. A failed batch stays pending and is retried.
 */
export class TickBatcher implements QuoteRecorder {
  private pending: SequencedQuote[] = [];
  private timer: ReturnType<typeof setTimeout> | undefined;
  private writing: Promise<void> | undefined;
  private isClosed = false;

  constructor(
    private readonly write: (batch: readonly SequencedQuote[]) => Promise<void>,
    private readonly options: TickBatcherOptions,
  ) {}

  get pendingCount(): number {
    return this.pending.length;
  }

  record(quotes: readonly SequencedQuote[]): void {
    if (this.isClosed) return;
    this.pending.push(...quotes);
    const overflow = this.pending.length - this.options.maxPending;
    if (overflow > 0) {
      this.pending.splice(0, overflow);
      this.options.onDropped(overflow);
    }
    if (this.pending.length >= this.options.maxBatchSize) void this.flush();
    else this.timer ??= setTimeout(() => void this.flush(), this.options.flushIntervalMs);
  }

  /**
   * Write everything pending now, batch by batch; resolves when it is written, or when a write failed
   * (the batch is kept and retried on the next flush).
   */
  async flush(): Promise<void> {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    for (;;) {
      while (this.writing) await this.writing;
      if (this.pending.length === 0) return;
      const batch = this.pending.splice(0, this.options.maxBatchSize);
      let isWritten = true;
      this.writing = this.write(batch)
        .catch((error: unknown) => {
          isWritten = false;
          this.pending.unshift(...batch);
          this.options.onWriteFailure(error);
        })
        .finally(() => {
          this.writing = undefined;
        });
      await this.writing;
      if (!isWritten) {
        if (!this.isClosed) this.timer ??= setTimeout(() => void this.flush(), this.options.flushIntervalMs);
        return;
      }
    }
  }

  /** Stop the timer and make one last attempt to write what is pending. */
  async close(): Promise<void> {
    this.isClosed = true;
    while (this.pending.length > 0 || this.writing) {
      const before = this.pending.length;
      await this.flush();
      if (this.pending.length >= before) break; // The store is down: give up rather than spin.
    }
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }
}

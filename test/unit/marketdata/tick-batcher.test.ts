import { expect } from "chai";
import Decimal from "decimal.js";
import type { SequencedQuote } from "../../../services/marketdata/domain/quote";
import { TickBatcher } from "../../../services/marketdata/domain/tick-batcher";

function quote(seq: number): SequencedQuote {
  const price = new Decimal(100);
  return { symbol: "AAPL", seq, epoch: 1, publishedAtMs: seq, exchangeTimeMs: seq, bid: price, ask: price, last: price, bidSize: price, askSize: price, lastSize: price, volume: price };
}
const quotes = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, index) => quote(from + index));
const tick = () => new Promise((resolve) => setTimeout(resolve, 5));

describe("marketdata tick batcher", () => {
  const batches: number[][] = [];
  let isStoreDown = false;
  const failures: unknown[] = [];
  const dropped: number[] = [];
  const batcher = (maxPending = 1_000) =>
    new TickBatcher(
      async (batch) => {
        if (isStoreDown) throw new Error("database down");
        batches.push(batch.map((q) => q.seq));
      },
      { maxBatchSize: 4, flushIntervalMs: 1, maxPending, onWriteFailure: (error) => failures.push(error), onDropped: (count) => dropped.push(count) },
    );

  beforeEach(() => {
    batches.length = 0;
    failures.length = 0;
    dropped.length = 0;
    isStoreDown = false;
  });

  it("writes ticks in batches of at most the batch size, in order, never one insert per tick", async () => {
    const subject = batcher();
    subject.record(quotes(1, 3));
    subject.record(quotes(4, 10));
    await tick();
    await subject.close();
    expect(batches).to.deep.equal([[1, 2, 3, 4], [5, 6, 7, 8], [9, 10]]);
  });

  it("flushes a partial batch after the flush interval", async () => {
    const subject = batcher();
    subject.record(quotes(1, 2));
    await tick();
    expect(batches).to.deep.equal([[1, 2]]);
    await subject.close();
  });

  it("keeps a failed batch and writes it when the store is back", async () => {
    const subject = batcher();
    isStoreDown = true;
    subject.record(quotes(1, 2));
    await subject.flush();
    expect(failures).to.have.length(1);
    expect(subject.pendingCount).to.equal(2);
    isStoreDown = false;
    await subject.flush();
    expect(batches).to.deep.equal([[1, 2]]);
    await subject.close();
  });

  it("drops the oldest ticks beyond its bound while the store is down, and counts them", async () => {
    const subject = batcher(6);
    isStoreDown = true;
    subject.record(quotes(1, 3));
    subject.record(quotes(4, 9));
    await subject.flush();
    expect(subject.pendingCount).to.be.at.most(6);
    expect(dropped.reduce((sum, count) => sum + count, 0)).to.equal(3);
    isStoreDown = false;
    await subject.close();
    expect(batches.flat()).to.deep.equal([4, 5, 6, 7, 8, 9]);
  });
});

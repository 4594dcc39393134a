import { expect } from "chai";
import { QuoteSequencer, SequenceTracker } from "../../../services/marketdata/domain/quote-sequencer";

describe("marketdata quote sequencer", () => {
  it("numbers each symbol's quotes 1, 2, 3 independently of other symbols", () => {
    const sequencer = new QuoteSequencer(42);
    expect([sequencer.next("AAPL"), sequencer.next("AAPL"), sequencer.next("MSFT"), sequencer.next("AAPL")]).to.deep.equal([1, 2, 1, 3]);
    expect(sequencer.latestSeq("AAPL")).to.equal(3);
    expect(sequencer.latestSeq("SPY")).to.equal(0);
    expect(sequencer.epoch).to.equal(42);
  });

  it("continues from restored positions after a restart within the same epoch", () => {
    const sequencer = new QuoteSequencer(42, [["AAPL", 17]]);
    expect(sequencer.next("AAPL")).to.equal(18);
  });
});

describe("marketdata sequence tracker", () => {
  it("accepts contiguous seqs and drops duplicates or reordered ones", () => {
    const tracker = new SequenceTracker();
    expect(tracker.observe("AAPL", 1, 7)).to.deep.equal({ kind: "NEXT" });
    expect(tracker.observe("AAPL", 2, 7)).to.deep.equal({ kind: "NEXT" });
    expect(tracker.observe("AAPL", 2, 7)).to.deep.equal({ kind: "DUPLICATE" });
    expect(tracker.observe("AAPL", 1, 7)).to.deep.equal({ kind: "DUPLICATE" });
    expect(tracker.lastSeq("AAPL")).to.equal(2);
  });

  it("reports the missing range when a seq is skipped, including before a symbol's first quote", () => {
    const tracker = new SequenceTracker();
    tracker.seed(7, [["AAPL", 10]]);
    expect(tracker.observe("AAPL", 14, 7)).to.deep.equal({ kind: "GAP", fromSeq: 11, toSeq: 13 });
    expect(tracker.observe("MSFT", 3, 7)).to.deep.equal({ kind: "GAP", fromSeq: 1, toSeq: 2 });
    expect(tracker.observe("AAPL", 15, 7)).to.deep.equal({ kind: "NEXT" });
  });

  it("reports an epoch change and starts tracking the new sequence space", () => {
    const tracker = new SequenceTracker();
    tracker.observe("AAPL", 1, 7);
    tracker.observe("MSFT", 1, 7);
    expect(tracker.observe("AAPL", 1, 8)).to.deep.equal({ kind: "EPOCH_CHANGED", previousEpoch: 7 });
    expect(tracker.lastSeq("MSFT")).to.equal(0);
    expect(tracker.observe("AAPL", 2, 8)).to.deep.equal({ kind: "NEXT" });
  });
});

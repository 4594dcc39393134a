import { expect } from "chai";
import Decimal from "decimal.js";
import type { SequencedQuote } from "../../../services/marketdata/domain/quote";
import { ReplayRing } from "../../../services/marketdata/domain/replay-ring";

const EPOCH = 1000;
function quote(symbol: string, seq: number, publishedAtMs: number, epoch = EPOCH): SequencedQuote {
  const price = new Decimal(100 + seq);
  return { symbol, seq, epoch, publishedAtMs, bid: price, ask: price, last: price, bidSize: new Decimal(1), askSize: new Decimal(1), lastSize: new Decimal(1), volume: new Decimal(1), exchangeTimeMs: publishedAtMs };
}

describe("marketdata replay ring", () => {
  let nowMs = 0;
  const ring = (capacityPerSymbol = 5, retentionMs = 60_000) => new ReplayRing({ capacityPerSymbol, retentionMs, nowMs: () => nowMs });

  beforeEach(() => {
    nowMs = 10_000;
  });

  it("replays a retained range of one symbol in seq order", () => {
    const replay = ring();
    for (let seq = 1; seq <= 4; seq += 1) replay.append(quote("AAPL", seq, seq));
    replay.append(quote("MSFT", 1, 5));
    expect(replay.range("AAPL", EPOCH, 2, 4)?.map((q) => q.seq)).to.deep.equal([2, 3, 4]);
    expect(replay.range("MSFT", EPOCH, 1, 1)?.map((q) => q.symbol)).to.deep.equal(["MSFT"]);
    expect(replay.range("AAPL", EPOCH, 3, 2)).to.deep.equal([]);
  });

  it("keeps only the newest capacity updates per symbol and reports older ranges as gone", () => {
    const replay = ring(3);
    for (let seq = 1; seq <= 10; seq += 1) replay.append(quote("AAPL", seq, seq));
    expect(replay.oldestSeq("AAPL", EPOCH)).to.equal(8);
    expect(replay.range("AAPL", EPOCH, 8, 10)?.map((q) => q.seq)).to.deep.equal([8, 9, 10]);
    expect(replay.range("AAPL", EPOCH, 7, 10)).to.equal(undefined);
    expect(replay.range("AAPL", EPOCH, 9, 11)).to.equal(undefined);
  });

  it("stops replaying updates older than the retention time", () => {
    const replay = ring(10, 1_000);
    for (let seq = 1; seq <= 5; seq += 1) replay.append(quote("AAPL", seq, seq * 1_000));
    nowMs = 4_500;
    expect(replay.oldestSeq("AAPL", EPOCH)).to.equal(4);
    expect(replay.range("AAPL", EPOCH, 3, 5)).to.equal(undefined);
    expect(replay.range("AAPL", EPOCH, 4, 5)?.length).to.equal(2);
    nowMs = 60_000;
    expect(replay.oldestSeq("AAPL", EPOCH)).to.equal(undefined);
  });

  it("never stitches a replay across a hole in the sequence", () => {
    const replay = ring();
    replay.append(quote("AAPL", 1, 1));
    replay.append(quote("AAPL", 2, 2));
    replay.append(quote("AAPL", 5, 3));
    expect(replay.range("AAPL", EPOCH, 1, 5)).to.equal(undefined);
    expect(replay.range("AAPL", EPOCH, 5, 5)?.length).to.equal(1);
  });

  it("forgets everything when a new epoch starts and answers nothing for the old one", async () => {
    const replay = ring();
    replay.append(quote("AAPL", 1, 1));
    replay.append(quote("MSFT", 1, 1, EPOCH + 1));
    expect(replay.range("AAPL", EPOCH, 1, 1)).to.equal(undefined);
    expect(await replay.replay("MSFT", EPOCH + 1, 1, 1)).to.have.length(1);
    expect(await replay.replay("MSFT", EPOCH, 1, 1)).to.equal(undefined);
  });
});

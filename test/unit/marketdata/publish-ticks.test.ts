import { expect } from "chai";
import Decimal from "decimal.js";
import { InstrumentRegistry } from "../../../services/marketdata/domain/instrument-registry";
import { seedInstruments } from "../../../services/marketdata/domain/instrument-seed";
import type { PublishTicksDeps } from "../../../services/marketdata/domain/publish-ticks";
import { publishTicks } from "../../../services/marketdata/domain/publish-ticks";
import type { Quote, SequencedQuote } from "../../../services/marketdata/domain/quote";
import { QuoteSequencer } from "../../../services/marketdata/domain/quote-sequencer";
import type { RawTick } from "../../../services/marketdata/domain/tick-validation";

const NOW_MS = Date.parse("2026-01-13T15:00:00Z");

function feed() {
  const sequencer = new QuoteSequencer(7);
  const accepted = new Map<string, Quote>();
  const published: SequencedQuote[] = [];
  const recorded: SequencedQuote[][] = [];
  const deps: PublishTicksDeps = {
    registry: new InstrumentRegistry(seedInstruments()),
    publisher: {
      async publish(quote) {
        const sequenced = { ...quote, seq: sequencer.next(quote.symbol), epoch: 7, publishedAtMs: NOW_MS };
        published.push(sequenced);
        return sequenced;
      },
    },
    recorder: { record: (quotes) => void recorded.push([...quotes]), flush: async () => undefined },
    latestQuote: (symbol) => accepted.get(symbol),
    rememberAccepted: (quote) => accepted.set(quote.symbol, quote),
    nowMs: () => NOW_MS,
    maxTickAgeMs: 60_000,
    maxClockSkewMs: 5_000,
  };
  return { deps, published, recorded };
}

const tick = (symbol: string, bid: string, ask: string, offsetMs: number, last?: string): RawTick => ({
  symbol,
  bid,
  ask,
  last,
  lastSize: "10",
  exchangeTimeMs: NOW_MS - 1_000 + offsetMs,
});

describe("marketdata tick publishing", () => {
  it("publishes valid ticks with contiguous seqs per symbol and records them for storage in one batch", async () => {
    const { deps, published, recorded } = feed();
    const result = await publishTicks(deps, [tick("AAPL", "175.49", "175.51", 1, "175.50"), tick("MSFT", "420.20", "420.30", 2, "420.25"), tick("AAPL", "175.50", "175.52", 3)], 0);
    expect(result.rejections).to.deep.equal([]);
    expect(published.map((q) => `${q.symbol}@${q.seq}`)).to.deep.equal(["AAPL@1", "MSFT@1", "AAPL@2"]);
    expect(recorded).to.have.length(1);
    expect(recorded[0]!.map((q) => q.seq)).to.deep.equal([1, 1, 2]);
    expect(published[2]!.last).to.deep.equal(new Decimal("175.50"));
    expect(published[2]!.volume.toString()).to.equal("20");
  });

  it("rejects bad ticks individually, numbered across the whole call, without stopping the good ones", async () => {
    const { deps, published } = feed();
    await publishTicks(deps, [tick("AAPL", "175.49", "175.51", 10, "175.50")], 0);
    const result = await publishTicks(
      deps,
      [
        tick("AAPL", "175.60", "175.50", 11, "175.55"),
        tick("ZZZZ", "1.00", "1.01", 12, "1.00"),
        tick("MSFT", "-1", "420.30", 13, "420.25"),
        tick("AAPL", "175.49", "175.51", 5, "175.50"),
        tick("SPY", "485.19", "485.21", 14, "485.20"),
      ],
      1,
    );
    expect(result.rejections.map((r) => [r.index, r.symbol, r.code])).to.deep.equal([
      [1, "AAPL", "CROSSED_QUOTE"],
      [2, "ZZZZ", "UNKNOWN_SYMBOL"],
      [3, "MSFT", "NON_POSITIVE_PRICE"],
      [4, "AAPL", "STALE_TIMESTAMP"],
    ]);
    expect(result.accepted.map((q) => q.symbol)).to.deep.equal(["SPY"]);
    expect(published).to.have.length(2);
  });

  it("treats a re-sent tick as stale, so replaying a feed after a broken call does not double count", async () => {
    const { deps } = feed();
    const ticks = [tick("AAPL", "175.49", "175.51", 1, "175.50"), tick("AAPL", "175.49", "175.51", 2, "175.50")];
    await publishTicks(deps, ticks, 0);
    const again = await publishTicks(deps, ticks, 2);
    expect(again.accepted).to.deep.equal([]);
    expect(again.rejections.map((r) => r.code)).to.deep.equal(["STALE_TIMESTAMP", "STALE_TIMESTAMP"]);
  });

  it("refuses a message of more than 1,000 ticks", async () => {
    const { deps } = feed();
    const ticks = Array.from({ length: 1001 }, (_, index) => tick("AAPL", "175.49", "175.51", index, "175.50"));
    const error = await publishTicks(deps, ticks, 0).catch((e) => e);
    expect(error).to.deep.include({ code: "TOO_MANY_TICKS", kind: "resource_exhausted" });
  });
});

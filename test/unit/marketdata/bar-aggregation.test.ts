import { expect } from "chai";
import Decimal from "decimal.js";
import { aggregateBars, barStartMs } from "../../../services/marketdata/domain/bar-aggregation";
import type { Quote } from "../../../services/marketdata/domain/quote";

const T0 = Date.parse("2026-01-13T14:30:00Z");
function trade(offsetMs: number, price: string, size: string): Pick<Quote, "last" | "lastSize" | "exchangeTimeMs"> {
  return { last: new Decimal(price), lastSize: new Decimal(size), exchangeTimeMs: T0 + offsetMs };
}

const asStrings = (bars: ReturnType<typeof aggregateBars>) =>
  bars.map((bar) => [new Date(bar.startMs).toISOString(), bar.open, bar.high, bar.low, bar.close, bar.volume].map(String).concat(String(bar.tickCount)));

describe("marketdata OHLCV bars", () => {
  const ticks = [
    trade(0, "175.50", "100"),
    trade(10_000, "176.10", "50"),
    trade(20_000, "175.20", "25"),
    trade(59_999, "175.40", "10"),
    trade(60_000, "175.45", "200"),
    trade(3_600_000, "180.00", "1"),
  ];

  it("builds one-minute bars with first, highest, lowest and last price and summed volume", () => {
    expect(asStrings(aggregateBars("AAPL", "1m", ticks))).to.deep.equal([
      ["2026-01-13T14:30:00.000Z", "175.5", "176.1", "175.2", "175.4", "185", "4"],
      ["2026-01-13T14:31:00.000Z", "175.45", "175.45", "175.45", "175.45", "200", "1"],
      ["2026-01-13T15:30:00.000Z", "180", "180", "180", "180", "1", "1"],
    ]);
  });

  it("builds hourly and daily bars from the same ticks, aligned to UTC", () => {
    expect(asStrings(aggregateBars("AAPL", "1h", ticks)).map((bar) => bar.slice(0, 6))).to.deep.equal([
      ["2026-01-13T14:00:00.000Z", "175.5", "176.1", "175.2", "175.45", "385"],
      ["2026-01-13T15:00:00.000Z", "180", "180", "180", "180", "1"],
    ]);
    expect(asStrings(aggregateBars("AAPL", "1d", ticks))).to.deep.equal([
      ["2026-01-13T00:00:00.000Z", "175.5", "180", "175.2", "180", "386", "6"],
    ]);
  });

  it("counts a quote-only tick (carried-forward last, zero size) in the bar without adding volume", () => {
    const bars = aggregateBars("AAPL", "1m", [trade(0, "100.00", "5"), trade(1_000, "100.00", "0")]);
    expect(asStrings(bars)).to.deep.equal([["2026-01-13T14:30:00.000Z", "100", "100", "100", "100", "5", "2"]]);
  });

  it("leaves minutes without ticks out rather than inventing flat bars", () => {
    expect(aggregateBars("AAPL", "1m", [trade(0, "1.00", "1"), trade(300_000, "2.00", "1")])).to.have.length(2);
    expect(aggregateBars("AAPL", "1m", [])).to.deep.equal([]);
  });

  it("aligns bar starts to whole intervals", () => {
    expect(new Date(barStartMs(T0 + 95_000, "1m")).toISOString()).to.equal("2026-01-13T14:31:00.000Z");
    expect(new Date(barStartMs(T0 + 95_000, "1h")).toISOString()).to.equal("2026-01-13T14:00:00.000Z");
  });

});

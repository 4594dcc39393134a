import { expect } from "chai";
import { seedInstruments } from "../../../services/marketdata/domain/instrument-seed";
import type { RawTick, TickValidationContext } from "../../../services/marketdata/domain/tick-validation";
import { validateTick } from "../../../services/marketdata/domain/tick-validation";

const NOW_MS = Date.parse("2026-01-13T15:00:00Z");
const bySymbol = new Map(seedInstruments().map((instrument) => [instrument.symbol, instrument]));

function context(latest: Record<string, number> = {}): TickValidationContext {
  return {
    instrumentFor: (symbol) => bySymbol.get(symbol),
    latestExchangeTimeMs: (symbol) => latest[symbol],
    nowMs: NOW_MS,
    maxTickAgeMs: 60_000,
    maxClockSkewMs: 2_000,
  };
}

const tick = (overrides: Partial<RawTick> = {}): RawTick => ({
  symbol: "AAPL",
  bid: "175.49",
  ask: "175.51",
  last: "175.50",
  bidSize: "300",
  askSize: "200",
  lastSize: "100",
  exchangeTimeMs: NOW_MS - 10,
  ...overrides,
});

function rejectionOf(raw: RawTick, latest: Record<string, number> = {}) {
  const result = validateTick(raw, context(latest));
  if (result.ok) throw new Error("expected the tick to be rejected");
  return { code: result.code, field: result.field, message: result.message };
}

describe("marketdata tick validation", () => {
  it("accepts a well-formed tick and returns decimal prices and sizes for the normalized symbol", () => {
    const result = validateTick(tick({ symbol: " aapl " }), context());
    expect(result.ok).to.equal(true);
    if (!result.ok) return;
    expect(result.quote.symbol).to.equal("AAPL");
    expect(result.quote.bid.toString()).to.equal("175.49");
    expect(result.quote.last?.toString()).to.equal("175.5");
    expect(result.quote.lastSize.toString()).to.equal("100");
    expect(result.quote.exchangeTimeMs).to.equal(NOW_MS - 10);
  });

  it("accepts a quote-only tick without a last trade, with zero sizes where none were sent", () => {
    const result = validateTick({ symbol: "BTC", bid: "64250.00", ask: "64250.50", exchangeTimeMs: NOW_MS }, context());
    expect(result.ok).to.equal(true);
    if (!result.ok) return;
    expect(result.quote.last).to.equal(undefined);
    expect(result.quote.bidSize.isZero()).to.equal(true);
  });

  it("rejects an unknown symbol", () => {
    expect(rejectionOf(tick({ symbol: "ZZZZ" }))).to.deep.equal({
      code: "UNKNOWN_SYMBOL",
      field: "symbol",
      message: 'unknown symbol "ZZZZ"',
    });
  });

  it("rejects quotes for a delisted or halted instrument", () => {
    expect(rejectionOf(tick({ symbol: "TWTR", bid: "53.69", ask: "53.71", last: "53.70" }))).to.deep.equal({
      code: "INSTRUMENT_NOT_ACTIVE",
      field: "symbol",
      message: "TWTR is DELISTED and takes no quotes",
    });
    expect(rejectionOf(tick({ symbol: "SIVB" })).code).to.equal("INSTRUMENT_NOT_ACTIVE");
  });

  it("rejects zero and negative prices, naming the field", () => {
    expect(rejectionOf(tick({ bid: "0" }))).to.deep.equal({
      code: "NON_POSITIVE_PRICE",
      field: "bid",
      message: "bid must be greater than 0, got 0",
    });
    expect(rejectionOf(tick({ ask: "-1.00" })).field).to.equal("ask");
    expect(rejectionOf(tick({ last: "-0.01" }))).to.include({ code: "NON_POSITIVE_PRICE", field: "last" });
  });

  it("rejects a missing bid or ask and a price that is not a decimal", () => {
    expect(rejectionOf(tick({ bid: "" }))).to.deep.equal({ code: "MISSING_PRICE", field: "bid", message: "bid is required" });
    expect(rejectionOf(tick({ ask: "12,5" }))).to.deep.equal({
      code: "INVALID_DECIMAL",
      field: "ask",
      message: 'ask "12,5" is not a decimal number',
    });
    expect(rejectionOf(tick({ last: "NaN" })).code).to.equal("INVALID_DECIMAL");
  });

  it("rejects a price off the instrument's tick grid", () => {
    expect(rejectionOf(tick({ ask: "175.515" }))).to.deep.equal({
      code: "OFF_TICK_GRID",
      field: "ask",
      message: "ask 175.515 is not a multiple of the tick size 0.01",
    });
  });

  it("rejects a bid above the ask but accepts a locked quote", () => {
    expect(rejectionOf(tick({ bid: "175.52", ask: "175.51" }))).to.deep.equal({
      code: "CROSSED_QUOTE",
      field: "bid",
      message: "bid 175.52 is above ask 175.51",
    });
    expect(validateTick(tick({ bid: "175.51", ask: "175.51" }), context()).ok).to.equal(true);
  });

  it("rejects negative sizes", () => {
    expect(rejectionOf(tick({ lastSize: "-5" }))).to.include({ code: "NEGATIVE_SIZE", field: "last_size" });
  });

  it("rejects a tick older than the newest accepted one for the symbol, but not one with the same time", () => {
    const latest = { AAPL: NOW_MS - 5 };
    const stale = rejectionOf(tick({ exchangeTimeMs: NOW_MS - 6 }), latest);
    expect(stale.code).to.equal("STALE_TIMESTAMP");
    expect(stale.message).to.equal(
      "timestamp 2026-01-13T14:59:59.994Z is older than the latest accepted tick for AAPL (2026-01-13T14:59:59.995Z)",
    );
    expect(validateTick(tick({ exchangeTimeMs: NOW_MS - 5 }), context(latest)).ok).to.equal(true);
  });

  it("rejects ticks too old to matter, too far in the future, or without a timestamp", () => {
    expect(rejectionOf(tick({ exchangeTimeMs: NOW_MS - 60_001 }))).to.deep.equal({
      code: "STALE_TIMESTAMP",
      field: "timestamp",
      message: "timestamp 2026-01-13T14:58:59.999Z is more than 60000 ms old",
    });
    expect(rejectionOf(tick({ exchangeTimeMs: NOW_MS + 2_001 })).code).to.equal("FUTURE_TIMESTAMP");
    expect(validateTick(tick({ exchangeTimeMs: NOW_MS + 2_000 }), context()).ok).to.equal(true);
    expect(rejectionOf(tick({ exchangeTimeMs: undefined })).code).to.equal("MISSING_TIMESTAMP");
  });
});

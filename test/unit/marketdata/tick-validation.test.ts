import { expect } from "chai";
import { seedInstruments } from "../../../services/marketdata/domain/instrument-seed";
import Decimal from "decimal.js";
import type { Quote } from "../../../services/marketdata/domain/quote";
import type { RawTick, TickValidationContext } from "../../../services/marketdata/domain/tick-validation";
import { validateTick } from "../../../services/marketdata/domain/tick-validation";

const NOW_MS = Date.parse("2026-01-13T15:00:00Z");
const bySymbol = new Map(seedInstruments().map((instrument) => [instrument.symbol, instrument]));

/** The latest accepted quote per symbol, given by its exchange time (last 175.00, volume 1000). */
function context(latest: Record<string, number> = {}): TickValidationContext {
  const latestQuote = (symbol: string): Quote | undefined =>
    latest[symbol] === undefined
      ? undefined
      : {
          symbol,
          bid: new Decimal("174.99"),
          ask: new Decimal("175.01"),
          last: new Decimal("175.00"),
          bidSize: new Decimal(0),
          askSize: new Decimal(0),
          lastSize: new Decimal(0),
          volume: new Decimal(1000),
          exchangeTimeMs: latest[symbol]!,
        };
  return {
    instrumentFor: (symbol) => bySymbol.get(symbol),
    latestQuote,
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
    expect(result.quote.volume.toString()).to.equal("100");
    expect(result.quote.exchangeTimeMs).to.equal(NOW_MS - 10);
  });

  it("keeps the previous last price for a quote-only tick and zero sizes where none were sent", () => {
    const result = validateTick({ symbol: "AAPL", bid: "175.10", ask: "175.20", exchangeTimeMs: NOW_MS }, context({ AAPL: NOW_MS - 100 }));
    expect(result.ok).to.equal(true);
    if (!result.ok) return;
    expect(result.quote.last.toString()).to.equal("175");
    expect(result.quote.bidSize.isZero()).to.equal(true);
    expect(result.quote.volume.toString()).to.equal("1000");
  });

  it("requires a last price on a symbol's first tick", () => {
    expect(rejectionOf(tick({ last: "" }))).to.deep.equal({ code: "MISSING_PRICE", field: "last", message: "last is required" });
  });

  it("accumulates the day's volume and restarts it on a new UTC day", () => {
    const sameDay = validateTick(tick({ lastSize: "25" }), context({ AAPL: NOW_MS - 1_000 }));
    expect(sameDay.ok && sameDay.quote.volume.toString()).to.equal("1025");
    const midnight = Date.parse("2026-01-14T00:00:00Z");
    const nextDay = validateTick(tick({ lastSize: "25", exchangeTimeMs: midnight }), { ...context({ AAPL: midnight - 1 }), nowMs: midnight });
    expect(nextDay.ok && nextDay.quote.volume.toString()).to.equal("25");
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
    for (const notPlain of ["1.755e2", "0x10", "Infinity", "175."]) {
      expect(rejectionOf(tick({ last: notPlain })), notPlain).to.include({ code: "INVALID_DECIMAL", field: "last" });
    }
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

  it("rejects a tick not newer than the latest accepted one for the symbol, so a re-sent tick is not counted twice", () => {
    const latest = { AAPL: NOW_MS - 5 };
    const stale = rejectionOf(tick({ exchangeTimeMs: NOW_MS - 6 }), latest);
    expect(stale.code).to.equal("STALE_TIMESTAMP");
    expect(stale.message).to.equal(
      "timestamp 2026-01-13T14:59:59.994Z is not newer than the latest accepted tick for AAPL (2026-01-13T14:59:59.995Z)",
    );
    expect(rejectionOf(tick({ exchangeTimeMs: NOW_MS - 5 }), latest).code).to.equal("STALE_TIMESTAMP");
    expect(validateTick(tick({ exchangeTimeMs: NOW_MS - 4 }), context(latest)).ok).to.equal(true);
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

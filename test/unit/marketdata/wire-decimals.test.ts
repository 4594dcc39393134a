// Market data's answers carry decimals as plain strings (common.proto: no exponent, trailing zeros trimmed), however
// small or large the value: a crypto lot size, a fraction of a coin quoted, a token priced below a millionth.
import { expect } from "chai";
import Decimal from "decimal.js";
import type { Bar } from "../../../services/marketdata/domain/bar-aggregation";
import type { SequencedQuote } from "../../../services/marketdata/domain/quote";
import { seedInstruments } from "../../../services/marketdata/domain/instrument-seed";
import { barToProto, instrumentToProto, quoteToProto } from "../../../services/marketdata/grpc/mappers";

const PLAIN_DECIMAL = /^-?\d+(\.\d*[1-9])?$/;

describe("market data wire decimals", () => {
  it("writes every seeded instrument's lot size, minimum quantity and tick size as a plain decimal", () => {
    const instruments = seedInstruments();
    for (const instrument of instruments) {
      const proto = instrumentToProto(instrument);
      for (const value of [proto.lotSize, proto.minQuantity, proto.tickSize]) {
        expect(value, `${instrument.symbol}`).to.match(PLAIN_DECIMAL);
      }
    }
    const ada = instrumentToProto(instruments.find((i) => i.symbol === "ADA")!);
    expect([ada.lotSize, ada.minQuantity, ada.tickSize]).to.deep.equal(["0.00000001", "0.001", "0.0001"]);
  });

  it("writes a quote's prices and sizes as plain decimals, however small or large", () => {
    const quote: SequencedQuote = {
      symbol: "MICRO",
      bid: new Decimal("0.000000120"),
      ask: new Decimal("0.00000013"),
      last: new Decimal("1.25e-7"),
      bidSize: new Decimal("0.00000005"),
      askSize: new Decimal("123456789012345678901234"),
      lastSize: new Decimal("0.5"),
      volume: new Decimal("1e21"),
      exchangeTimeMs: Date.parse("2026-11-20T15:30:00Z"),
      seq: 1,
      epoch: 1,
      publishedAtMs: Date.parse("2026-11-20T15:30:00.010Z"),
    };
    const proto = quoteToProto(quote, "MICRO0000000000000000001");
    expect([proto.bid, proto.ask, proto.last, proto.bidSize, proto.askSize, proto.lastSize, proto.volume]).to.deep.equal([
      "0.00000012",
      "0.00000013",
      "0.000000125",
      "0.00000005",
      "123456789012345678901234",
      "0.5",
      "1000000000000000000000",
    ]);
  });

  it("writes a bar's prices and volume as plain decimals", () => {
    const bar: Bar = {
      symbol: "MICRO",
      interval: "1m",
      startMs: Date.parse("2026-11-20T15:30:00Z"),
      open: new Decimal("1e-8"),
      high: new Decimal("2e-8"),
      low: new Decimal("5e-9"),
      close: new Decimal("1.5e-8"),
      volume: new Decimal("3e22"),
      tickCount: 4,
      firstTickMs: Date.parse("2026-11-20T15:30:01Z"),
      lastTickMs: Date.parse("2026-11-20T15:30:59Z"),
    };
    const proto = barToProto(bar);
    expect([proto.open, proto.high, proto.low, proto.close, proto.volume]).to.deep.equal([
      "0.00000001",
      "0.00000002",
      "0.000000005",
      "0.000000015",
      "30000000000000000000000",
    ]);
  });
});

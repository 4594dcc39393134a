import { expect } from "chai";
import { isOnTickGrid, isSecurityId, normalizeSymbol } from "../../../services/marketdata/domain/instrument";
import { securityIdForSymbol, seedInstruments } from "../../../services/marketdata/domain/instrument-seed";
import { MarketDataError } from "../../../services/marketdata/domain/errors";

describe("marketdata instrument registry seed", () => {
  const instruments = seedInstruments();

  it("seeds at least 50 instruments across US equities, ETFs and crypto", () => {
    expect(instruments.length).to.be.at.least(50);
    const classes = new Set(instruments.map((instrument) => instrument.assetClass));
    expect([...classes].sort()).to.deep.equal(["CRYPTO", "EQUITY", "ETF"]);
    const symbols = instruments.map((instrument) => instrument.symbol);
    expect(symbols).to.include.members(["AAPL", "MSFT", "SPY", "QQQ", "VOO", "VBR", "BTC", "ETH"]);
  });

  it("gives every instrument a unique 24-character alphanumeric security id that is the same on every run", () => {
    const ids = instruments.map((instrument) => instrument.securityId);
    expect(new Set(ids).size).to.equal(ids.length);
    for (const instrument of instruments) {
      expect(isSecurityId(instrument.securityId), instrument.symbol).to.equal(true);
      expect(instrument.securityId).to.equal(securityIdForSymbol(instrument.symbol));
    }
    expect(seedInstruments().map((instrument) => instrument.securityId)).to.deep.equal(ids);
  });

  it("has unique symbols that pass symbol normalization unchanged", () => {
    const symbols = instruments.map((instrument) => instrument.symbol);
    expect(new Set(symbols).size).to.equal(symbols.length);
    for (const symbol of symbols) expect(normalizeSymbol(symbol)).to.equal(symbol);
  });

  it("puts every reference price on the instrument's tick grid and above zero", () => {
    for (const instrument of instruments) {
      expect(instrument.referencePrice.greaterThan(0), instrument.symbol).to.equal(true);
      expect(isOnTickGrid(instrument.referencePrice, instrument.tickSize), instrument.symbol).to.equal(true);
    }
  });

  it("keeps crypto always open with fractional lots and exchange-listed names on US hours with whole lots", () => {
    const btc = instruments.find((instrument) => instrument.symbol === "BTC")!;
    expect(btc.session.kind).to.equal("ALWAYS_OPEN");
    expect(btc.minQuantity.toString()).to.equal("0.001");
    const aapl = instruments.find((instrument) => instrument.symbol === "AAPL")!;
    expect(aapl.session).to.include({ kind: "EXCHANGE_HOURS", timeZone: "America/New_York", openLocal: "09:30", closeLocal: "16:00" });
    expect(aapl.lotSize.toString()).to.equal("1");
    expect(aapl.tickSize.toString()).to.equal("0.01");
  });

  it("marks halted and delisted instruments as not tradable", () => {
    const untradable = instruments.filter((instrument) => !instrument.isTradable);
    expect(untradable.map((instrument) => [instrument.symbol, instrument.status])).to.deep.equal([
      ["SIVB", "HALTED"],
      ["TWTR", "DELISTED"],
    ]);
  });
});

describe("marketdata symbol normalization", () => {
  it("trims and upper-cases a ticker", () => {
    expect(normalizeSymbol("  aapl ")).to.equal("AAPL");
    expect(normalizeSymbol("brk.b")).to.equal("BRK.B");
  });

  it("rejects an empty or malformed symbol with INVALID_SYMBOL naming it", () => {
    for (const raw of ["", "   ", "AA PL", "$AAPL", "THIRTEENCHARS"]) {
      expect(() => normalizeSymbol(raw), raw)
        .to.throw(MarketDataError)
        .with.property("code", "INVALID_SYMBOL");
    }
  });
});

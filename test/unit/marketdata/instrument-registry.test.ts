import { expect } from "chai";
import { MarketDataError } from "../../../services/marketdata/domain/errors";
import type { InstrumentFilter } from "../../../services/marketdata/domain/instrument-registry";
import { findInstrument, InstrumentRegistry, listInstruments } from "../../../services/marketdata/domain/instrument-registry";
import { securityIdForSymbol, seedInstruments } from "../../../services/marketdata/domain/instrument-seed";

const registry = new InstrumentRegistry(seedInstruments());
const noFilter: InstrumentFilter = { isTradableOnly: false, query: "", securityIds: [] };

function failure(fn: () => unknown): { code: string; field?: string; symbols?: readonly string[] } {
  try {
    fn();
  } catch (error) {
    if (error instanceof MarketDataError) return { code: error.code, field: error.details.field, symbols: error.details.symbols };
    throw error;
  }
  throw new Error("expected a MarketDataError");
}

describe("marketdata instrument lookup", () => {
  it("finds an instrument by symbol in any case, or by security id", () => {
    expect(findInstrument(registry, { symbol: " aapl", securityId: "" }).name).to.equal("Apple Inc.");
    expect(findInstrument(registry, { symbol: "", securityId: securityIdForSymbol("BTC") }).symbol).to.equal("BTC");
  });

  it("finds delisted instruments too", () => {
    expect(findInstrument(registry, { symbol: "TWTR", securityId: "" }).status).to.equal("DELISTED");
  });

  it("requires exactly one key", () => {
    expect(failure(() => findInstrument(registry, { symbol: "", securityId: "" })).code).to.equal("INVALID_ARGUMENT");
    expect(failure(() => findInstrument(registry, { symbol: "AAPL", securityId: securityIdForSymbol("AAPL") })).code).to.equal("INVALID_ARGUMENT");
  });

  it("reports an unknown symbol with the symbol, and an unknown security id", () => {
    expect(failure(() => findInstrument(registry, { symbol: "nope", securityId: "" }))).to.deep.include({ code: "UNKNOWN_SYMBOL", symbols: ["NOPE"] });
    expect(failure(() => findInstrument(registry, { symbol: "", securityId: "x".repeat(24) })).code).to.equal("UNKNOWN_INSTRUMENT");
  });
});

describe("marketdata instrument listing", () => {
  it("lists by symbol and leaves delisted instruments out unless asked for", () => {
    const { instruments, nextPageToken } = listInstruments(registry, noFilter, { pageSize: 1000, pageToken: "" });
    const symbols = instruments.map((instrument) => instrument.symbol);
    expect(symbols).to.deep.equal([...symbols].sort());
    expect(symbols).to.include("SIVB");
    expect(symbols).to.not.include("TWTR");
    expect(nextPageToken).to.equal("");
    const delisted = listInstruments(registry, { ...noFilter, status: "DELISTED" }, { pageSize: 0, pageToken: "" });
    expect(delisted.instruments.map((instrument) => instrument.symbol)).to.deep.equal(["TWTR"]);
  });

  it("filters by asset class, tradability, text and security ids together", () => {
    const crypto = listInstruments(registry, { ...noFilter, assetClass: "CRYPTO", query: "coin" }, { pageSize: 0, pageToken: "" });
    expect(crypto.instruments.map((instrument) => instrument.symbol)).to.deep.equal(["BTC", "DOGE", "LTC", "USDC"]);
    const tradable = listInstruments(registry, { ...noFilter, isTradableOnly: true, query: "sivb" }, { pageSize: 0, pageToken: "" });
    expect(tradable.instruments).to.deep.equal([]);
    const byIds = listInstruments(registry, { ...noFilter, securityIds: [securityIdForSymbol("SPY"), securityIdForSymbol("ETH")] }, { pageSize: 0, pageToken: "" });
    expect(byIds.instruments.map((instrument) => instrument.symbol)).to.deep.equal(["ETH", "SPY"]);
  });

  it("pages through every instrument exactly once with the next page token", () => {
    const seen: string[] = [];
    let pageToken = "";
    let pages = 0;
    do {
      const page = listInstruments(registry, noFilter, { pageSize: 7, pageToken });
      expect(page.instruments.length).to.be.at.most(7);
      seen.push(...page.instruments.map((instrument) => instrument.symbol));
      pageToken = page.nextPageToken;
      pages += 1;
    } while (pageToken !== "");
    const all = listInstruments(registry, noFilter, { pageSize: 1000, pageToken: "" }).instruments.map((instrument) => instrument.symbol);
    expect(seen).to.deep.equal(all);
    expect(pages).to.equal(Math.ceil(all.length / 7));
  });

  it("defaults the page size to 50 and rejects bad paging and oversized filters", () => {
    expect(listInstruments(registry, noFilter, { pageSize: 0, pageToken: "" }).instruments).to.have.length(50);
    expect(failure(() => listInstruments(registry, noFilter, { pageSize: -1, pageToken: "" })).field).to.equal("page_size");
    expect(failure(() => listInstruments(registry, noFilter, { pageSize: 0, pageToken: "garbage" })).field).to.equal("page_token");
    expect(failure(() => listInstruments(registry, { ...noFilter, query: "x".repeat(65) }, { pageSize: 0, pageToken: "" })).field).to.equal("query");
  });
});

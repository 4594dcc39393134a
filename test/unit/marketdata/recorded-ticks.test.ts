import { expect } from "chai";
import { parseRecordedTicks, restampTicks } from "../../../services/marketdata/feed/recorded-ticks";

describe("marketdata recorded tick files", () => {
  it("reads CSV with a header in any column order, epoch-ms or ISO timestamps", () => {
    const csv = ["timestamp,symbol,bid,ask,last,last_size,venue", "1700000000000,AAPL,175.49,175.51,175.50,100,X", "2023-11-14T22:13:20.250Z,MSFT,420.20,420.30,,0,X"].join("\n");
    const ticks = parseRecordedTicks(csv, "csv");
    expect(ticks).to.deep.equal([
      { symbol: "AAPL", bid: "175.49", ask: "175.51", last: "175.50", bidSize: "", askSize: "", lastSize: "100", exchangeTimeMs: 1700000000000 },
      { symbol: "MSFT", bid: "420.20", ask: "420.30", last: "", bidSize: "", askSize: "", lastSize: "0", exchangeTimeMs: 1700000000250 },
    ]);
  });

  it("reads NDJSON with snake_case or camelCase keys and keeps decimals as text", () => {
    const ndjson = ['{"symbol":"BTC","bid":"64250.00","ask":"64250.50","last":"64250.25","lastSize":"0.015","timestamp":1700000000000}', ""].join("\n");
    expect(parseRecordedTicks(ndjson, "ndjson")[0]).to.deep.include({ symbol: "BTC", last: "64250.25", lastSize: "0.015" });
  });

  it("names the row of a tick without a usable timestamp", () => {
    expect(() => parseRecordedTicks("symbol,bid,ask,timestamp\nAAPL,1,2,yesterday", "csv")).to.throw("row 2: timestamp \"yesterday\"");
  });

  it("re-stamps a recording to the present keeping its pace, and keeps each symbol's times strictly increasing", () => {
    const ticks = parseRecordedTicks(["symbol,bid,ask,last,timestamp", "AAPL,1,2,1.5,1000", "AAPL,1,2,1.5,1000", "MSFT,1,2,1.5,3000"].join("\n"), "csv");
    expect(restampTicks(ticks, 50_000, 2).map((tick) => tick.exchangeTimeMs)).to.deep.equal([50_000, 50_001, 51_000]);
  });
});

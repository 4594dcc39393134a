import { readFileSync } from "node:fs";
import { expect } from "chai";
import { API_FILE, renderApi } from "../../../clients/browser/generate-api";
import { getUrlOf } from "../../../clients/browser";
import { SseParser } from "../../../clients/browser/sse-parser";

describe("browser client building blocks", () => {
  it("parses server-sent events split across chunks, with ids, event names, comments and CRLF", () => {
    const parser = new SseParser();
    const events = [
      ...parser.push("retry: 1000\n\n: keepalive\n\nid: 7\nda"),
      ...parser.push("ta: {\"a\":1}\r\n\r\nevent: end\ndata: {}\n"),
      ...parser.push("\ndata: line1\ndata: line2\n\n"),
    ];
    expect(events).to.deep.equal([
      { id: "7", event: "message", data: '{"a":1}' },
      { event: "end", data: "{}" },
      { event: "message", data: "line1\nline2" },
    ]);
    expect(parser.retryMs).to.equal(1000);
  });

  it("builds GET URLs from a binding: path variables by proto or JSON name, the rest as query parameters", () => {
    expect(getUrlOf("/api/v1/portfolios/{portfolio_id}/order-events", { portfolioId: "P 1", sinceSeq: "5" })).to.equal(
      "/api/v1/portfolios/P%201/order-events?sinceSeq=5",
    );
    expect(getUrlOf("/api/v1/streams/quotes", { symbols: ["AAPL", "MSFT"], options: { depth: 2 } })).to.equal(
      "/api/v1/streams/quotes?symbols=AAPL&symbols=MSFT&options.depth=2",
    );
  });

  it("has its generated API file up to date with the contracts (run clients/browser/generate-api.ts)", () => {
    expect(readFileSync(API_FILE, "utf8") === renderApi(), "clients/browser/api.generated.ts is stale").to.equal(true);
  });
});

import { expect } from "chai";
import { register as registerGateway } from "../../../services/gateway/main";
import { startSystem, type TestSystem } from "../../support/system";
import { fakeServices } from "./fake-services";

describe("HTTP bridge: unary and client-streaming calls", () => {
  let system: TestSystem;
  let auth: Record<string, string>;

  before(async () => {
    system = await startSystem([fakeServices(), registerGateway], { env: { GATEWAY_CORS_ORIGINS: "https://app.example" } });
    auth = { authorization: `Bearer ${await system.token({ sub: "trader-1", roles: ["trader", "feed"], portfolios: ["*"] })}` };
  });
  after(async () => {
    await system?.stop();
  });

  const get = (path: string, headers: Record<string, string> = auth) => fetch(system.httpUrl + path, { headers });
  const post = (path: string, body: unknown, headers: Record<string, string> = auth) =>
    fetch(system.httpUrl + path, { method: "POST", headers: { ...headers, "content-type": "application/json" }, body: typeof body === "string" ? body : JSON.stringify(body) });

  it("answers a REST path from google.api.http in proto3 JSON: decimals and int64 as strings, RFC 3339 timestamps", async () => {
    const response = await get("/api/v1/quotes/AAPL");
    expect(response.status).to.equal(200);
    expect(response.headers.get("content-type")).to.match(/^application\/json/);
    const { quote } = await response.json();
    expect(quote).to.include({ symbol: "AAPL", bid: "101.25", last: "101.2750", seq: "42", volume: "12345678901234567" });
    expect(quote.timestamp).to.equal("2024-05-01T13:30:00.123Z");
  });

  it("answers the same RPC at POST /<package>.<Service>/<Method> with the same body", async () => {
    const rest = await (await get("/api/v1/quotes/AAPL")).json();
    const response = await post("/tradeplane.marketdata.v1.MarketDataService/GetQuote", { symbol: "AAPL" });
    expect(response.status).to.equal(200);
    expect(await response.json()).to.deep.equal(rest);
  });

  it("binds each additional binding's path variable to its own field", async () => {
    const bySymbol = await (await get("/api/v1/instruments/MSFT")).json();
    expect(JSON.parse(bySymbol.instrument.name)).to.deep.equal({ symbol: "MSFT", securityId: "" });
    const byId = await (await get("/api/v1/security/SEC000000000000000000042")).json();
    expect(JSON.parse(byId.instrument.name)).to.deep.equal({ symbol: "", securityId: "SEC000000000000000000042" });
    expect(byId.instrument.status).to.equal("INSTRUMENT_STATUS_ACTIVE");
  });

  it("binds query parameters by field type: repeated, bool, enum by name, int32, Timestamp", async () => {
    const batch = await (await get("/api/v1/quotes?symbols=AAPL&symbols=ZZZ")).json();
    expect(batch.quotes.map((q: { symbol: string }) => q.symbol)).to.deep.equal(["AAPL"]);
    expect(batch.missingSymbols).to.deep.equal(["ZZZ"]);

    const list = await (await get("/api/v1/instruments?tradableOnly=true&assetClass=ASSET_CLASS_EQUITY&page_size=5&query=app")).json();
    expect(JSON.parse(list.nextPageToken)).to.include({ tradableOnly: true, assetClass: 1, pageSize: 5, query: "app" });

    const bars = await (await get("/api/v1/quotes/aapl/bars?interval=BAR_INTERVAL_ONE_MINUTE&startTime=2024-01-01T00:00:00Z&pageSize=7")).json();
    expect(bars.nextPageToken).to.equal("aapl|BAR_INTERVAL_ONE_MINUTE|2024-01-01T00:00:00.000Z|7");
    expect(bars.bars).to.deep.equal([]);
  });

  it("takes the whole request from the body on body: \"*\" bindings, accepting proto field names too", async () => {
    const response = await post("/api/v1/quotes/batch", { symbols: ["MSFT", "ZZZ"] });
    expect(response.status).to.equal(200);
    const body = await response.json();
    expect(body.quotes).to.have.length(1);
    expect(body.missingSymbols).to.deep.equal(["ZZZ"]);
    const snake = await (await post("/tradeplane.marketdata.v1.MarketDataService/GetInstrument", { security_id: "SEC000000000000000000007" })).json();
    expect(JSON.parse(snake.instrument.name)).to.deep.equal({ symbol: "", securityId: "SEC000000000000000000007" });
  });

  it("streams an NDJSON body into a client-streaming RPC and answers its one response", async () => {
    const ndjson = ['{"ticks":[{"symbol":"AAPL","bid":"1.00","ask":"1.01","last":"1.00"}]}', "", '{"ticks":[{"symbol":"MSFT"},{"symbol":"NOPE"}]}'].join("\n");
    const response = await fetch(`${system.httpUrl}/api/v1/feed/quotes`, { method: "POST", headers: { ...auth, "content-type": "application/x-ndjson" }, body: ndjson });
    expect(response.status).to.equal(200);
    expect(await response.json()).to.deep.equal({ acceptedCount: "2", rejectedCount: "1", rejections: [] });
  });

  it("passes the caller's bearer token through: without one the service answers 401", async () => {
    const response = await get("/api/v1/quotes/AAPL", {});
    expect(response.status).to.equal(401);
    expect((await response.json()).error.status).to.equal("UNAUTHENTICATED");
  });

  it("echoes X-Request-Id and answers CORS preflights for configured origins only", async () => {
    const response = await get("/api/v1/quotes/AAPL", { ...auth, "x-request-id": "req-123" });
    expect(response.headers.get("x-request-id")).to.equal("req-123");

    const preflight = await fetch(`${system.httpUrl}/api/v1/orders`, {
      method: "OPTIONS",
      headers: { origin: "https://app.example", "access-control-request-method": "POST", "access-control-request-headers": "authorization" },
    });
    expect(preflight.status).to.equal(204);
    expect(preflight.headers.get("access-control-allow-origin")).to.equal("https://app.example");
    expect(preflight.headers.get("access-control-allow-headers")).to.include("last-event-id");

    const foreign = await get("/api/v1/quotes/AAPL", { ...auth, origin: "https://evil.example" });
    expect(foreign.headers.get("access-control-allow-origin")).to.equal(null);
  });

  it("counts bridge requests in /metrics by RPC and status", async () => {
    const text = await (await fetch(`${system.httpUrl}/metrics`)).text();
    expect(text).to.match(/http_bridge_requests_total\{rpc="\/tradeplane\.marketdata\.v1\.MarketDataService\/GetQuote",code="200"\} \d+/);
    expect(text).to.include("http_bridge_open_streams");
  });
});

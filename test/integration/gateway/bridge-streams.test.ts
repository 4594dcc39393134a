import { expect } from "chai";
import { register as registerGateway } from "../../../services/gateway/main";
import { startSystem, type TestSystem } from "../../support/system";
import { fakeServices } from "./fake-services";
import { readSse } from "./sse-test-client";

describe("HTTP bridge: server streams over SSE and NDJSON", () => {
  let system: TestSystem;
  let token: string;

  before(async () => {
    system = await startSystem([fakeServices({ tickMs: 15 }), registerGateway], { env: { GATEWAY_SSE_HEARTBEAT: "100ms" } });
    token = await system.token({ sub: "trader-1", roles: ["trader"], portfolios: ["P1"] });
  });
  after(async () => {
    await system?.stop();
  });

  const open = (path: string, headers: Record<string, string> = {}) =>
    fetch(system.httpUrl + path, { headers: { authorization: `Bearer ${token}`, accept: "text/event-stream", ...headers } });

  it("follows a quote stream as SSE with id = resume token and no-buffering headers", async () => {
    const response = await open("/api/v1/streams/quotes?symbols=AAPL&symbols=MSFT");
    expect(response.status).to.equal(200);
    expect(response.headers.get("content-type")).to.match(/^text\/event-stream/);
    expect(response.headers.get("x-accel-buffering")).to.equal("no");
    expect(response.headers.get("cache-control")).to.include("no-cache");
    const sse = readSse(response);
    const first = await sse.next();
    const frame = JSON.parse(first.data);
    expect(first.id).to.equal(frame.resumeToken);
    expect(frame.update).to.include({ bid: "101.25", seq: "1" });
    await sse.close();
  });

  it("resumes a quote stream after a reconnect with Last-Event-ID, without gaps or repeats", async () => {
    const seen: number[] = [];
    let lastId = "";
    const firstLeg = readSse(await open("/api/v1/streams/quotes?symbols=AAPL"));
    for (let i = 0; i < 5; i++) {
      const event = await firstLeg.next();
      seen.push(Number(JSON.parse(event.data).update.seq));
      lastId = event.id!;
    }
    await firstLeg.close();

    // A browser's EventSource sends the original URL again plus Last-Event-ID.
    const secondLeg = readSse(await open("/api/v1/streams/quotes?symbols=AAPL", { "last-event-id": lastId }));
    for (let i = 0; i < 5; i++) seen.push(Number(JSON.parse((await secondLeg.next()).data).update.seq));
    await secondLeg.close();
    expect(seen).to.deep.equal([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
  });

  it("resumes WatchOrderEvents from Last-Event-ID as since_seq, with id = the event's seq", async () => {
    const response = await open("/api/v1/portfolios/P1/order-events", { "last-event-id": "7" });
    const sse = readSse(response);
    const event = await sse.next();
    expect(event.id).to.equal("8");
    expect(JSON.parse(event.data).event).to.include({ seq: "8", portfolioId: "P1", toStatus: "ORDER_STATUS_NEW" });
    await sse.close();
  });

  it("sends the service's heartbeat frames without an id, so a reconnect does not skip events", async () => {
    const sse = readSse(await open("/api/v1/portfolios/P1/order-events?sinceSeq=20"));
    const heartbeat = await sse.next();
    expect(heartbeat.id).to.equal(undefined);
    expect(JSON.parse(heartbeat.data).heartbeat.latestSeq).to.equal("20");
    await sse.close();
  });

  it("opens a silent stream after a short wait and keeps it alive with comments", async () => {
    const quietToken = await system.token({ sub: "trader-2", roles: ["trader"], portfolios: ["QUIET"] });
    const response = await open("/api/v1/portfolios/QUIET/order-events", { authorization: `Bearer ${quietToken}` });
    expect(response.status).to.equal(200);
    const sse = readSse(response);
    expect(await sse.waitForComments(2)).to.deep.equal(["keepalive", "keepalive"]);
    await sse.close();
  });

  it("ends a finished stream with an end event", async () => {
    const sse = readSse(await open("/api/v1/streams/quotes?symbols=SHORT"));
    expect((await sse.next()).event).to.equal("message");
    expect((await sse.next()).event).to.equal("message");
    expect(await sse.next()).to.deep.equal({ event: "end", data: "{}" });
    await sse.close();
  });

  it("reports a failure after the stream started as an rpc-error event with the AIP-193 body", async () => {
    const sse = readSse(await open("/api/v1/streams/quotes?symbols=FLAKY"));
    await sse.next();
    await sse.next();
    const failure = await sse.next();
    expect(failure.event).to.equal("rpc-error");
    const body = JSON.parse(failure.data);
    expect(body.error).to.include({ code: 503, status: "UNAVAILABLE" });
    expect(body.error.details[0].reason).to.equal("FEED_LOST");
    await sse.close();
  });

  it("accepts ?access_token= on GET, for EventSource which cannot send headers", async () => {
    const response = await fetch(`${system.httpUrl}/api/v1/streams/quotes?symbols=AAPL&access_token=${token}`, { headers: { accept: "text/event-stream" } });
    expect(response.status).to.equal(200);
    const sse = readSse(response);
    expect(JSON.parse((await sse.next()).data).update.symbol).to.equal("AAPL");
    await sse.close();
  });

  it("streams NDJSON lines of {\"result\": frame} when Accept asks for application/x-ndjson", async () => {
    const response = await open("/api/v1/streams/quotes?symbols=AAPL", { accept: "application/x-ndjson" });
    expect(response.headers.get("content-type")).to.match(/^application\/x-ndjson/);
    const reader = response.body!.getReader();
    let text = "";
    while (text.split("\n").length < 3) text += new TextDecoder().decode((await reader.read()).value);
    const lines = text.split("\n").slice(0, 2).map((line) => JSON.parse(line));
    expect(lines.map((l) => l.result.update.seq)).to.deep.equal(["1", "2"]);
    await reader.cancel();
  });

  it("serves the server stream at the RPC-style path too, with the request in the POST body", async () => {
    const response = await fetch(`${system.httpUrl}/tradeplane.marketdata.v1.MarketDataService/StreamQuotes`, {
      method: "POST",
      headers: { authorization: `Bearer ${token}`, accept: "text/event-stream", "content-type": "application/json" },
      body: JSON.stringify({ symbols: ["MSFT"], resumeToken: "tok-41" }),
    });
    const sse = readSse(response);
    const event = await sse.next();
    expect(event.id).to.equal("tok-42");
    expect(JSON.parse(event.data).update.symbol).to.equal("MSFT");
    await sse.close();
  });

  it("answers a stream refused before its first frame with a real HTTP error, not a 200", async () => {
    const response = await open("/api/v1/streams/quotes?symbols=NOPE");
    expect(response.status).to.equal(404);
    const body = await response.json();
    expect(body.error.status).to.equal("NOT_FOUND");
    expect(body.error.details[0].reason).to.equal("UNKNOWN_SYMBOL");
  });

  it("rejects a malformed Last-Event-ID with 400 INVALID_RESUME_TOKEN from the service", async () => {
    const response = await open("/api/v1/streams/quotes?symbols=AAPL", { "last-event-id": "tok-x" });
    expect(response.status).to.equal(400);
    expect((await response.json()).error.details[0].reason).to.equal("INVALID_RESUME_TOKEN");
  });
});

import { expect } from "chai";
import { register as registerGateway } from "../../../services/gateway/main";
import { startSystem, type TestSystem } from "../../support/system";
import { fakeServices } from "./fake-services";
import { readSse } from "./sse-test-client";

// The bridge deployed in front of the services (MARKETDATA_ADDRESS / ORDERS_ADDRESS set): its own gRPC channels
// with the error-details middleware instead of the runtime's in-process clients.
describe("HTTP bridge in front of services in another process", () => {
  let services: TestSystem;
  let bridge: TestSystem;
  let auth: Record<string, string>;

  before(async () => {
    services = await startSystem([fakeServices({ tickMs: 10 })]);
    bridge = await startSystem([registerGateway], { env: { MARKETDATA_ADDRESS: services.address, ORDERS_ADDRESS: services.address } });
    auth = { authorization: `Bearer ${await services.token({ sub: "trader-1", roles: ["trader"], portfolios: ["P1"] })}` };
  });
  after(async () => {
    await bridge?.stop();
    await services?.stop();
  });

  it("answers unary calls with the caller's token, and maps errors with their google.rpc details", async () => {
    const ok = await fetch(`${bridge.httpUrl}/api/v1/quotes/AAPL`, { headers: auth });
    expect(ok.status).to.equal(200);
    expect((await ok.json()).quote.bid).to.equal("101.25");

    const busy = await fetch(`${bridge.httpUrl}/api/v1/quotes/BUSY`, { headers: auth });
    expect(busy.status).to.equal(429);
    expect(busy.headers.get("retry-after")).to.equal("2");
    expect((await busy.json()).error.details[0]).to.include({ reason: "TOO_MANY_STREAMS", domain: "tradeplane.marketdata" });

    const anonymous = await fetch(`${bridge.httpUrl}/api/v1/quotes/AAPL`);
    expect(anonymous.status).to.equal(401);
  });

  it("turns X-Timeout-Ms into the deadline", async () => {
    const response = await fetch(`${bridge.httpUrl}/api/v1/quotes/SLOW`, { headers: { ...auth, "x-timeout-ms": "100" } });
    expect(response.status).to.equal(504);
    expect((await response.json()).error.status).to.equal("DEADLINE_EXCEEDED");
  });

  it("resumes an order event stream from Last-Event-ID", async () => {
    const response = await fetch(`${bridge.httpUrl}/api/v1/portfolios/P1/order-events`, { headers: { ...auth, accept: "text/event-stream", "last-event-id": "3" } });
    const sse = readSse(response);
    const event = await sse.next();
    expect(event.id).to.equal("4");
    await sse.close();
  });
});

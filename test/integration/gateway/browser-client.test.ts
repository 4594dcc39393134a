import { expect } from "chai";
import { createTradeplaneClient, TradeplaneError, type marketdata } from "../../../clients/browser";
import { register as registerGateway } from "../../../services/gateway/main";
import { startSystem, type TestSystem } from "../../support/system";
import { fakeServices } from "./fake-services";

describe("browser client over the HTTP bridge", () => {
  let system: TestSystem;
  let token: string;

  before(async () => {
    system = await startSystem([fakeServices({ tickMs: 10 }), registerGateway]);
    token = await system.token({ sub: "trader-1", roles: ["trader", "feed"], portfolios: ["P1"] });
  });
  after(async () => {
    await system?.stop();
  });

  const client = () => createTradeplaneClient({ baseUrl: system.httpUrl, token: () => token, reconnectDelayMs: 20 });

  it("calls a unary RPC and returns the typed proto3 JSON response", async () => {
    const { quote } = await client().marketData.getQuote({ symbol: "AAPL" });
    expect(quote?.bid).to.equal("101.25");
    expect(quote?.seq).to.equal("42");
  });

  it("throws TradeplaneError with the HTTP status, gRPC status and ErrorInfo reason", async () => {
    const error = await client().marketData.getQuote({ symbol: "NOPE" }).catch((e: unknown) => e);
    expect(error).to.be.instanceOf(TradeplaneError);
    expect(error).to.include({ httpStatus: 404, status: "NOT_FOUND", reason: "UNKNOWN_SYMBOL" });
  });

  it("sends a client stream as NDJSON", async () => {
    const result = await client().marketData.publishQuotes([{ ticks: [{ symbol: "AAPL" }] }, { ticks: [{ symbol: "NOPE" }] }]);
    expect(result).to.deep.equal({ acceptedCount: "1", rejectedCount: "1", rejections: [] });
  });

  it("follows a resumable stream across server-side failures without gaps or repeats", async () => {
    const seqs: number[] = [];
    const statuses: string[] = [];
    await new Promise<void>((resolve, reject) => {
      // FLAKY fails with UNAVAILABLE after every two frames; the client resumes from the last id each time.
      const subscription = client().marketData.streamQuotes(
        { symbols: ["FLAKY"] },
        {
          onMessage(frame: marketdata.StreamQuotesResponse) {
            seqs.push(Number(frame.update?.seq));
            if (seqs.length === 7) {
              subscription.close();
              resolve();
            }
          },
          onError: reject,
          onStatus: (status) => statuses.push(status),
        },
      );
    });
    expect(seqs).to.deep.equal([1, 2, 3, 4, 5, 6, 7]);
    expect(statuses.filter((s) => s === "reconnecting").length).to.be.greaterThanOrEqual(3);
  });

  it("ends a subscription with an error the stream cannot recover from (NOT_FOUND)", async () => {
    const error = await new Promise<unknown>((resolve) => {
      client().marketData.streamQuotes({ symbols: ["NOPE"] }, { onMessage: () => undefined, onError: resolve });
    });
    expect(error).to.be.instanceOf(TradeplaneError);
    expect((error as TradeplaneError).status).to.equal("NOT_FOUND");
  });
});

import { expect } from "chai";
import { createClientFactory } from "nice-grpc";
import { ClientError, Status } from "nice-grpc-common";
import { deadlineMiddleware } from "nice-grpc-client-middleware-deadline";
import { HealthCheckResponse_ServingStatus as Serving } from "nice-grpc-server-health/lib/proto/grpc/health/v1/health";
import { AccountingServiceDefinition } from "../../../generated/tradeplane/accounting/v1/accounting_service";
import { StreamEndReason } from "../../../generated/tradeplane/marketdata/v1/market_data_service";
import { createAuthenticator } from "../../../services/platform/auth";
import { createGrpcServer } from "../../../services/platform/grpc-server";
import { createLogger } from "../../../services/platform/logger";
import { authSettings, bearer, startHarness, type Harness } from "./grpc-fixture";

function latch() {
  let open!: () => void;
  const opened = new Promise<void>((resolve) => (open = resolve));
  return { open, opened };
}

function aborted(signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => (signal.aborted ? resolve() : signal.addEventListener("abort", () => resolve(), { once: true })));
}

const balance = (portfolioId: string) => ({
  balance: { id: "1", portfolioId, securityId: "", quantityLong: "1", quantityShort: "0", version: 1, quantityReserved: "0", quantityAvailable: "1" },
});

async function failure(promise: Promise<unknown>): Promise<ClientError> {
  try {
    await promise;
  } catch (error) {
    expect(error).to.be.instanceOf(ClientError);
    return error as ClientError;
  }
  return expect.fail("expected the call to fail");
}

describe("gRPC platform: draining, shutdown, deadlines and message limits", () => {
  const harnesses: Harness[] = [];
  const start = async (...args: Parameters<typeof startHarness>) => {
    const h = await startHarness(...args);
    harnesses.push(h);
    return h;
  };

  after(async () => {
    await Promise.all(harnesses.map((h) => h.close()));
  });

  it("reports NOT_SERVING for every service while draining and still completes calls in flight", async () => {
    const release = latch();
    const h = await start({
      accounting: {
        async getBalance(request) {
          await release.opened;
          return balance(request.portfolioId);
        },
      },
    });
    const token = await h.token();
    const inFlight = h.accounting.getBalance({ portfolioId: "P1" }, bearer(token));
    await new Promise((resolve) => setTimeout(resolve, 50));
    h.server.drain();
    expect((await h.health.check({ service: "" })).status).to.equal(Serving.NOT_SERVING);
    expect((await h.health.check({ service: "tradeplane.accounting.v1.AccountingService" })).status).to.equal(Serving.NOT_SERVING);
    expect(h.server.healthStatus("tradeplane.marketdata.v1.MarketDataService")).to.equal("NOT_SERVING");
    release.open();
    expect((await inFlight).balance?.portfolioId).to.equal("P1");
  });

  it("on shutdown ends streams with a final frame, ends health watches, and lets unary calls in flight finish", async () => {
    const h = await start({
      accounting: {
        async getBalance(request) {
          await new Promise((resolve) => setTimeout(resolve, 200));
          return balance(request.portfolioId);
        },
      },
      marketData: {
        async *streamQuotes(_request, context) {
          yield { streamId: "s", streamEpoch: "e", resumeToken: "t1", frame: undefined };
          await aborted(context.shutdownSignal);
          yield {
            streamId: "s",
            streamEpoch: "e",
            resumeToken: "t2",
            frame: { $case: "end", value: { reason: StreamEndReason.STREAM_END_REASON_SERVER_SHUTDOWN, message: "bye" } },
          };
        },
      },
    });
    const token = await h.token();
    const frames: string[] = [];
    const firstFrame = latch();
    const streaming = (async () => {
      for await (const frame of h.marketData.streamQuotes({ symbols: ["AAPL"], resumeToken: "" }, bearer(token))) {
        frames.push(frame.frame?.$case ?? "none");
        firstFrame.open();
      }
    })();
    const watched: Serving[] = [];
    const watching = (async () => {
      for await (const update of h.health.watch({ service: "" })) watched.push(update.status);
    })();
    await firstFrame.opened;
    const unary = h.accounting.getBalance({ portfolioId: "P1" }, bearer(token));
    await new Promise((resolve) => setTimeout(resolve, 50));

    const startedAt = Date.now();
    await h.server.shutdown({ graceMs: 5_000 });
    expect(Date.now() - startedAt).to.be.lessThan(4_000);
    await streaming;
    await watching;
    expect(frames).to.deep.equal(["none", "end"]);
    expect(watched[0]).to.equal(Serving.SERVING);
    expect(watched.at(-1)).to.equal(Serving.NOT_SERVING);
    expect((await unary).balance?.portfolioId).to.equal("P1");

    const refused = await failure(h.accounting.getBalance({ portfolioId: "P1" }, bearer(token)));
    expect(refused.code).to.equal(Status.UNAVAILABLE);
  });

  it("cancels calls still running when the grace period ends", async () => {
    let handlerCancelled = false;
    const h = await start({
      marketData: {
        async *streamQuotes(_request, context) {
          yield { streamId: "s", streamEpoch: "e", resumeToken: "t1", frame: undefined };
          // Ignores the shutdown signal on purpose: only the forced close can end it.
          await aborted(context.signal);
          handlerCancelled = true;
        },
      },
    });
    const token = await h.token();
    const first = latch();
    // The outcome is captured at once: the stream fails while shutdown is still being awaited.
    const outcome = (async () => {
      for await (const _ of h.marketData.streamQuotes({ symbols: ["AAPL"], resumeToken: "" }, bearer(token))) first.open();
    })().then(
      () => undefined,
      (error: unknown) => error,
    );
    await first.opened;
    const startedAt = Date.now();
    await h.server.shutdown({ graceMs: 300 });
    expect(Date.now() - startedAt).to.be.within(250, 3_000);
    const error = await outcome;
    expect(error).to.be.instanceOf(ClientError);
    expect([Status.CANCELLED, Status.UNAVAILABLE, Status.INTERNAL]).to.include((error as ClientError).code);
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(handlerCancelled).to.equal(true);
  });

  it("aborts the handler's signal when the caller's deadline passes", async () => {
    const handlerStopped = latch();
    const h = await start({
      accounting: {
        async getBalance(_request, context) {
          await aborted(context.signal);
          handlerStopped.open();
          throw new Error("stopped because the call was cancelled");
        },
      },
    });
    const client = createClientFactory().use(deadlineMiddleware).create(AccountingServiceDefinition, h.channel);
    const error = await failure(client.getBalance({ portfolioId: "P1" }, { ...bearer(await h.token()), deadline: 150 }));
    expect(error.code).to.equal(Status.DEADLINE_EXCEEDED);
    await handlerStopped.opened;
  });

  it("rejects a request larger than the receive limit with RESOURCE_EXHAUSTED", async () => {
    const h = await start({
      server: { maxReceiveMessageBytes: 1024 },
      accounting: {
        async getBalance(request) {
          return balance(request.portfolioId);
        },
      },
    });
    const token = await h.token({ portfolios: ["*"] });
    expect((await h.accounting.getBalance({ portfolioId: "P".repeat(100) }, bearer(token))).balance?.quantityLong).to.equal("1");
    const error = await failure(h.accounting.getBalance({ portfolioId: "P".repeat(4_000) }, bearer(token)));
    expect(error.code).to.equal(Status.RESOURCE_EXHAUSTED);
  });

  it("rejects listen() on a port already taken", async () => {
    const h = await start();
    const second = createGrpcServer({
      logger: createLogger({ name: "test", level: "silent" }),
      authenticator: createAuthenticator(authSettings),
      rateLimit: { ratePerSecond: 0, burst: 1 },
      maxReceiveMessageBytes: 1024 * 1024,
      maxSendMessageBytes: 1024 * 1024,
      keepalive: { timeMs: 30_000, timeoutMs: 10_000 },
    });
    let caught: unknown;
    try {
      await second.listen("127.0.0.1", h.port);
    } catch (error) {
      caught = error;
    }
    expect(String(caught)).to.match(/address|EADDRINUSE|bind/i);
    await second.shutdown();
  });
});

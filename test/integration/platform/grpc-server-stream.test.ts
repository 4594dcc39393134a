import { expect } from "chai";
import { Metadata, Status } from "nice-grpc-common";
import { ErrorInfo, RichClientError } from "nice-grpc-error-details";
import { StreamQuotesResponse } from "../../../generated/tradeplane/marketdata/v1/market_data_service";
import { invalid } from "../../../services/platform/errors";
import { metricsText } from "../../../services/platform/metrics";
import { startHarness, type Harness } from "./grpc-fixture";

/** Server-streaming calls run on the platform's own grpc-js handler; these are what a subscriber sees of it. */
describe("gRPC platform: server-streaming calls", () => {
  let h: Harness;
  let handlerAborted: Promise<string> | undefined;
  let resolveAbort: (reason: string) => void = () => undefined;

  before(async () => {
    h = await startHarness({
      marketData: {
        async *streamQuotes(request, context) {
          const symbols = request.symbols;
          if (symbols[0] === "BAD") throw invalid("SYMBOL_UNKNOWN", "unknown symbol BAD", [{ field: "symbols[0]", description: "no such instrument" }]);
          if (symbols[0] === "MANY") {
            // Far more frames than fit in the transport's buffers: the handler must wait for the client to read.
            for (let i = 1; i <= 2_000; i++) {
              yield StreamQuotesResponse.fromPartial({ streamId: "s-many", frame: { $case: "heartbeat", value: { latestSeq: { X: String(i) } } } } as never);
            }
            return;
          }
          if (symbols[0] === "FOREVER") {
            handlerAborted = new Promise((resolve) => (resolveAbort = resolve));
            context.signal.addEventListener("abort", () => resolveAbort("aborted"), { once: true });
            yield StreamQuotesResponse.fromPartial({ streamId: "s-forever" });
            await new Promise<void>((resolve) => context.signal.addEventListener("abort", () => resolve(), { once: true }));
            return;
          }
          yield StreamQuotesResponse.fromPartial({ streamId: `s-${context.principal.subject}` });
        },
      },
    });
  });

  after(async () => {
    await h.close();
  });

  const auth = async () => new Metadata({ authorization: `Bearer ${await h.token()}` });

  it("refuses a stream without a token as UNAUTHENTICATED with an ErrorInfo reason", async () => {
    const error = await (async () => {
      for await (const _ of h.marketData.streamQuotes({ symbols: ["AAPL"] } as never)) expect.fail("no frame expected");
    })().then(() => expect.fail("the stream should fail"), (e: unknown) => e);
    expect((error as RichClientError).code).to.equal(Status.UNAUTHENTICATED);
    const info = (error as RichClientError).extra.find((d) => d.$type === ErrorInfo.$type) as ErrorInfo | undefined;
    expect(info?.reason).to.equal("TOKEN_MISSING");
  });

  it("sends frames to an authenticated caller, with the principal on the handler's context", async () => {
    const frames: string[] = [];
    for await (const frame of h.marketData.streamQuotes({ symbols: ["AAPL"] } as never, { metadata: await auth() })) frames.push(frame.streamId);
    expect(frames).to.have.length(1);
    expect(frames[0]).to.match(/^s-/).and.not.equal("s-");
  });

  it("maps a domain error thrown before the first frame to its status and details", async () => {
    const error = await (async () => {
      for await (const _ of h.marketData.streamQuotes({ symbols: ["BAD"] } as never, { metadata: await auth() })) expect.fail("no frame expected");
    })().then(() => expect.fail("the stream should fail"), (e: unknown) => e);
    expect((error as RichClientError).code).to.equal(Status.INVALID_ARGUMENT);
    const info = (error as RichClientError).extra.find((d) => d.$type === ErrorInfo.$type) as ErrorInfo | undefined;
    expect(info?.reason).to.equal("SYMBOL_UNKNOWN");
  });

  it("delivers 2,000 frames in order to a slow reader (backpressure, nothing dropped)", async () => {
    let expected = 1;
    for await (const frame of h.marketData.streamQuotes({ symbols: ["MANY"] } as never, { metadata: await auth() })) {
      const value = frame.frame?.$case === "heartbeat" ? frame.frame.value.latestSeq.X : undefined;
      expect(value).to.equal(String(expected));
      expected++;
      if (expected % 250 === 0) await new Promise((resolve) => setTimeout(resolve, 20));
    }
    expect(expected - 1).to.equal(2_000);
  });

  it("aborts the handler's signal when the client cancels", async () => {
    const controller = new AbortController();
    const reading = (async () => {
      for await (const _ of h.marketData.streamQuotes({ symbols: ["FOREVER"] } as never, { metadata: await auth(), signal: controller.signal })) {
        controller.abort();
      }
    })().catch(() => undefined);
    await reading;
    const outcome = await Promise.race([handlerAborted!, new Promise((resolve) => setTimeout(() => resolve("still running"), 3_000))]);
    expect(outcome).to.equal("aborted");
  });

  it("counts streams in the RPC metrics as server_stream calls by status code", async () => {
    const text = await metricsText();
    expect(text).to.match(/grpc_server_handled_total\{[^}]*grpc_method="StreamQuotes"[^}]*grpc_type="server_stream"[^}]*grpc_code="OK"[^}]*\} [1-9]/);
    expect(text).to.match(/grpc_server_handled_total\{[^}]*grpc_method="StreamQuotes"[^}]*grpc_code="UNAUTHENTICATED"[^}]*\} [1-9]/);
  });
});
